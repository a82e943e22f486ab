# -*- coding: utf-8 -*-
"""Documents checked against a live cluster are validated against the CRDs that cluster serves, not the pinned
ones: in a control plane of its own, the cluster's Istio VirtualService CRD is changed (v1alpha3 no longer
served, a field with an enum and a CEL rule added to v1) and the Gateway API's TLSRoute CRD deleted. The
offline verdict must follow these CRDs and equal the API server's dry-run verdict on every case, and differ
from the pinned verdict where the CRDs differ. The built-in kinds come from the cluster's /openapi/v3. A
ServiceAccount without rights on CRDs gets the pinned verdict and a note, and the run does not fail; it may
still read the OpenAPI."""

from __future__ import annotations

import copy
import json
import time
from typing import Any, Dict, List

import pytest
import yaml

from conftest import facts_task, run_playbook, start_plane
from test_schema_oracle import OWN, mutations, server_accepts
from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import KubernetesAPI
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import cluster
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.admission import SchemaGate
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.catalogue import pinned_schemas

VS_CRD = "virtualservices.networking.istio.io"
OWNER_RULE = {"rule": "!has(self.hosts) || size(self.hosts) <= 2", "message": "at most two hosts in this cluster"}
CASES = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: owner-known}
spec: {hosts: [a], owner: team-a, http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: owner-unknown}
spec: {hosts: [a], owner: team-c, http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: three-hosts}
spec: {hosts: [a, b, c], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: two-hosts}
spec: {hosts: [a, b], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: old-version}
spec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: served-version}
spec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: no-crd}
spec: {parentRefs: [{name: gw}], hostnames: [a.example.com], rules: [{backendRefs: [{name: a, port: 443}]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: route-with-port}
spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: a, port: 80}]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: route-without-port}
spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: a}]}]}
"""
# The cases whose verdict the changed CRDs turn around (pinned accepts and the cluster refuses, or the reverse).
TURNED = {"owner-known", "three-hosts", "old-version", "no-crd"}


def cases() -> List[Dict[str, Any]]:
    documents = [dict(d, metadata=dict(d["metadata"], namespace="default")) for d in yaml.safe_load_all(CASES) if d]
    # Single-field changes of a VirtualService that uses the cluster's field, as test_schema_oracle makes them.
    base = next(d for d in yaml.safe_load_all(OWN) if d and d["kind"] == "VirtualService")
    base["spec"]["owner"] = "team-b"
    for index, changed in enumerate(mutations(base)):
        changed["metadata"] = {"name": "mutation-%d" % index, "namespace": "default"}
        documents.append(changed)
    return documents


def change_crds(plane) -> None:
    """The cluster's own variant of the pinned CRDs."""
    crd = json.loads(plane.kubectl("get", "crd", VS_CRD, "-o", "json").stdout)
    for version in crd["spec"]["versions"]:
        if version["name"] == "v1alpha3":
            version["served"] = False
        if version["name"] == "v1":
            spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
            spec["properties"]["owner"] = {"type": "string", "enum": ["team-a", "team-b"]}
            spec.setdefault("x-kubernetes-validations", []).append(OWNER_RULE)
    plane.kubectl("replace", "-f", "-", stdin=json.dumps(crd))
    plane.kubectl("delete", "crd", "tlsroutes.gateway.networking.k8s.io", "--wait=true")


def wait_until_served(plane, tmp_path) -> None:
    """The API server takes the changed CRDs into use asynchronously: wait until it accepts the new field."""
    probe = [d for d in cases() if d["metadata"]["name"] in ("owner-known", "old-version")]
    deadline = time.monotonic() + 60
    while server_accepts(plane, probe, tmp_path) != {"owner-known"}:
        assert time.monotonic() < deadline, "the changed CRDs were not served within 60 s"
        time.sleep(1)


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    plane = start_plane()
    try:
        change_crds(plane)
        wait_until_served(plane, tmp_path_factory.mktemp("probe"))
        yield plane
    finally:
        plane.stop()


def offline_refused(gate: SchemaGate, documents: List[Dict[str, Any]]) -> set:
    refused = set()
    for document in documents:
        before = len(gate.rejections)
        gate.admit(copy.deepcopy(document), document["metadata"]["name"])
        if len(gate.rejections) > before:
            refused.add(document["metadata"]["name"])
    return refused


def test_the_offline_verdict_follows_the_clusters_crds_and_equals_the_api_servers(plane, tmp_path):
    documents = cases()
    assert len(documents) > 100
    names = {d["metadata"]["name"] for d in documents}
    server_refused = names - server_accepts(plane, documents, tmp_path)
    gate = SchemaGate()
    assert cluster.follow_cluster(gate.catalogue, KubernetesAPI({"kubeconfig": str(plane.kubeconfig)})) == []
    assert gate.catalogue.group_sources["networking.istio.io"] == "cluster"
    following = offline_refused(gate, documents)
    assert following == server_refused, "API server refuses only %s; offline refuses only %s" % (
        sorted(server_refused - following), sorted(following - server_refused))
    # The pinned CRDs would have given another verdict exactly where the cluster's differ.
    pinned = offline_refused(SchemaGate(), documents)
    assert TURNED <= pinned ^ following
    assert {"owner-unknown", "route-without-port"} <= following & pinned
    assert {"two-hosts", "served-version", "route-with-port"}.isdisjoint(following)


def test_the_built_in_kinds_come_from_the_clusters_openapi_v3(plane):
    """The cluster's /openapi/v3 documents, converted as the pinned Kubernetes module's are: the same release
    serves the same fields and types, and the gate follows them."""
    api = KubernetesAPI({"kubeconfig": str(plane.kubeconfig)})
    served = cluster.read_builtin(api)
    assert served == [record for record in pinned_schemas() if record.get("builtin")]
    gate = SchemaGate()
    assert cluster.follow_cluster(gate.catalogue, api) == []
    assert gate.catalogue.sources()["core"] == gate.catalogue.sources()["apps"] == "cluster"
    typo = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "d", "image": "registry.example.com/d:1",
                                         "imagePullPolicyy": "Always"}]}}}}
    gate.admit(typo, "t#1")
    assert [(r.code, r.reason) for r in gate.rejections] == [
        ("MSH801", 'unknown field "spec.template.spec.containers[0].imagePullPolicyy"')]


def schema_findings(facts: Dict[str, Any]) -> set:
    return {v["name"] for v in facts["violations"] if v["code"] in ("MSH801", "MSH802", "MSH803")}


def test_the_module_checks_files_against_the_clusters_crds(plane, tmp_path):
    documents = [d for d in cases() if not d["metadata"]["name"].startswith("mutation-")]
    server_refused = {d["metadata"]["name"] for d in documents} - server_accepts(plane, documents, tmp_path)
    run = run_playbook([facts_task(kubeconfig=str(plane.kubeconfig), live=True, content=yaml.safe_dump_all(documents))])
    assert not run.failed, run.output
    summary = run.facts["summary"]
    assert summary["schema_sources"]["networking.istio.io"] == "cluster"
    assert summary["schema_sources"]["gateway.networking.k8s.io"] == "cluster"
    assert {summary["schema_sources"][group] for group in ("core", "apps", "batch")} == {"cluster"}
    assert not [note for note in summary["notes"] if note.startswith("schemas:")]
    assert schema_findings(run.facts) == server_refused
    reasons = {v["name"]: v["message"] for v in run.facts["violations"] if v["code"].startswith("MSH80")}
    assert 'no matches for kind "TLSRoute"' in reasons["no-crd"]
    assert "at most two hosts in this cluster" in reasons["three-hosts"]


NO_CRD_READER = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: no-crd-reader, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: mesh-reader-without-crds}
rules:
- apiGroups: ["", apps, networking.istio.io, security.istio.io, telemetry.istio.io, extensions.istio.io,
              gateway.networking.k8s.io]
  resources: ["*"]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: mesh-reader-without-crds}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: mesh-reader-without-crds}
subjects: [{kind: ServiceAccount, name: no-crd-reader, namespace: default}]
"""


def test_an_account_that_may_not_read_crds_gets_the_pinned_verdict_and_a_note(plane):
    plane.kubectl("apply", "-f", "-", stdin=NO_CRD_READER)
    token = plane.kubectl("create", "token", "no-crd-reader", "-n", "default").stdout.strip()
    owner_known = [d for d in cases() if d["metadata"]["name"] in ("owner-known", "two-hosts")]
    run = run_playbook([facts_task(host=plane.server, api_key=token, ca_cert=str(plane.dir / "ca.crt"), live=True,
                                   content=yaml.safe_dump_all(owner_known))])
    assert not run.failed, run.output
    assert token not in run.output
    summary = run.facts["summary"]
    # The CRDs' groups stay pinned; the built-in kinds come from the cluster's OpenAPI, which any authenticated
    # account may read (system:discovery).
    assert {source for group, source in summary["schema_sources"].items()
            if group not in ("core", "apps", "batch")} == {"pinned"}
    assert {summary["schema_sources"][group] for group in ("core", "apps", "batch")} == {"cluster"}
    notes = [note for note in summary["notes"] if note.startswith("schemas:")]
    assert len(notes) == 1 and "forbidden" in notes[0] and "customresourcedefinitions" in notes[0], summary["notes"]
    # The pinned VirtualService has no `owner`: the verdict the collection's own schemas give.
    assert schema_findings(run.facts) == {"owner-known"}
