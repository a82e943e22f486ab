# -*- coding: utf-8 -*-
"""The MeshService CRD generated from the module's option spec, on the real API server."""

from __future__ import annotations

import json

from conftest import install_meshservice_crd as install, run_playbook

RESOURCE = {"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
            "metadata": {"name": "reviews", "namespace": "crd-test"},
            "spec": {"serviceName": "reviews", "hosts": ["reviews.crd.example.com"],
                     "ports": [{"port": 9080, "name": "http", "targetPort": 9080}],
                     "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"},
                                       "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s"}},
                     "subsets": [{"name": "v1", "labels": {"version": "v1"}, "weight": 100}]}}


def test_crd_installs_validates_and_feeds_the_module(control_plane):
    installed = install(control_plane)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    control_plane.kubectl("create", "namespace", "crd-test")
    control_plane.kubectl("create", "-f", "-", stdin=json.dumps(RESOURCE))

    bad = json.loads(json.dumps(RESOURCE))
    bad["metadata"]["name"] = "bad"
    bad["spec"]["ports"][0]["port"] = 70000
    bad["spec"]["subsets"][0]["weight"] = 150
    bad["spec"]["trafficPolicy"]["loadBalancer"]["simple"] = "FASTEST"
    rejected = control_plane.kubectl("create", "-f", "-", stdin=json.dumps(bad), check=False)
    assert rejected.returncode != 0
    for field in ("spec.ports[0].port", "spec.subsets[0].weight", "spec.trafficPolicy.loadBalancer.simple"):
        assert field in rejected.stderr, rejected.stderr

    table = control_plane.kubectl("get", "meshservices", "-n", "crd-test").stdout
    assert table.split("\n")[0].split() == ["NAME", "SERVICE", "HOSTS", "GATEWAY", "STATE", "VIOLATIONS", "AGE"]

    stored = json.loads(control_plane.kubectl("get", "meshservice", "reviews", "-n", "crd-test", "-o", "json").stdout)
    applied = run_playbook([{"meshops.istio_integrity.istio_meshservice": {
        "kubeconfig": str(control_plane.kubeconfig), "definition": stored}, "register": "result"}], result_var="result")
    assert not applied.failed, applied.output
    dr = json.loads(control_plane.kubectl("get", "destinationrules.networking.istio.io", "reviews", "-n", "crd-test",
                                          "-o", "json").stdout)
    assert dr["spec"]["trafficPolicy"]["outlierDetection"] == {"consecutive5xxErrors": 5, "interval": "10s"}
    assert install(control_plane).returncode == 0  # installing again is harmless
