# -*- coding: utf-8 -*-
"""Throttling for real: API Priority and Fairness with a tiny priority level rejects (429) most requests of a
500-meshservice batch, and the batch still completes with nothing lost."""

from __future__ import annotations

import json
import re

import yaml

from conftest import run_playbook, start_plane

USER = "restricted-reader"  # the local control plane's user outside system:masters (which APF exempts)
THROTTLE = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "throttled-admin"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]},
    {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
     "metadata": {"name": "meshops-tiny"},
     "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1, "lendablePercent": 0,
                                             "limitResponse": {"type": "Reject"}}}},
    {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": "meshops-tiny"},
     "spec": {"priorityLevelConfiguration": {"name": "meshops-tiny"}, "matchingPrecedence": 100,
              "distinguisherMethod": {"type": "ByUser"},
              "rules": [{"subjects": [{"kind": "User", "user": {"name": USER}}],
                         "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": True,
                                            "namespaces": ["*"]}],
                         "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "throttled"}},
]
COUNT = 500


def rejected(plane) -> float:
    """APF's own count of requests it rejected at the tiny priority level."""
    metrics = plane.kubectl("get", "--raw", "/metrics").stdout
    return sum(float(value) for value in re.findall(
        r'^apiserver_flowcontrol_rejected_requests_total\{[^}]*priority_level="meshops-tiny"[^}]*\} (\S+)$', metrics, re.M))


def test_a_500_meshservice_batch_completes_through_429s(tmp_path):
    plane = start_plane(priority_and_fairness=True)
    try:
        manifest = tmp_path / "throttle.yaml"
        manifest.write_text(yaml.safe_dump_all(THROTTLE))
        plane.kubectl("apply", "-f", str(manifest))
        services = [{"name": "svc-%d" % i, "namespace": "throttled", "ports": [{"port": 8080, "name": "http"}],
                     "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
                     "routes": [{"destinations": [{"subset": "v1"}], "timeout": "5s"}]} for i in range(COUNT)]
        run = run_playbook([{"meshops.istio_integrity.istio_meshservice": {
            "kubeconfig": str(plane.restricted_kubeconfig), "meshservices": services}, "register": "result"}],
            result_var="result")
        assert not run.failed, run.output[-3000:]
        assert rejected(plane) > 0, "the tiny priority level rejected nothing: the test did not throttle"
        for kind in ("services", "virtualservices.networking.istio.io", "destinationrules.networking.istio.io"):
            names = {item["metadata"]["name"] for item in json.loads(
                plane.kubectl("get", kind, "-n", "throttled", "-o", "json").stdout)["items"]}
            assert names == {"svc-%d" % i for i in range(COUNT)}, kind
    finally:
        plane.stop()
