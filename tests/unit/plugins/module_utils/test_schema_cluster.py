# -*- coding: utf-8 -*-
"""A cluster's own CRDs as the schema source: the one CRD conversion, how the cluster's CRDs replace the pinned
ones group by group, which CRDs are read, and the pinned fallback when RBAC forbids reading them. (Against a
real API server: tests/integration/test_schema_cluster.py.)"""

from __future__ import annotations

import copy
from typing import Any, Dict, List

import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import METADATA_ONLY, Forbidden
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import cel_rules, cluster
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.admission import SchemaGate
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.catalogue import (
    SchemaCatalogue, compact_crd, pinned_crds)

SCHEMA = {"type": "object", "description": "a VirtualService", "properties": {
    "spec": {"type": "object", "properties": {
        "hosts": {"type": "array", "items": {"type": "string"}, "description": "hosts", "example": ["a"]},
        "description": {"type": "string", "description": "a field named description"}}}}}


def crd(kind: str, group: str, versions: Dict[str, bool], schema: Dict[str, Any] = None) -> Dict[str, Any]:
    plural = kind.lower() + "s"
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "%s.%s" % (plural, group)},
            "spec": {"group": group, "scope": "Namespaced", "names": {"kind": kind, "plural": plural},
                     "versions": [{"name": name, "served": served, "storage": name == "v1",
                                   "schema": {"openAPIV3Schema": copy.deepcopy(schema or SCHEMA)}}
                                  for name, served in versions.items()]}}


def document(text: str) -> Dict[str, Any]:
    return yaml.safe_load(text)


VS = """apiVersion: networking.istio.io/%s
kind: VirtualService
metadata: {name: r, namespace: default}
spec: {hosts: [r], description: only the cluster's CRD has this field}
"""
DR = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r, namespace: default}
spec: {host: r}
"""
ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec: {rules: [{backendRefs: [{name: svc}]}]}
"""


def reasons(gate: SchemaGate, text: str) -> List[str]:
    before = len(gate.rejections)
    gate.admit(document(text), "t#1")
    return ["%s: %s" % (r.path, r.reason) for r in gate.rejections[before:]]


def test_the_conversion_keeps_served_versions_and_drops_only_documentation():
    compact = compact_crd(crd("VirtualService", "networking.istio.io", {"v1": True, "v1alpha3": False}))
    assert compact["group"] == "networking.istio.io" and compact["kind"] == "VirtualService" and compact["namespaced"]
    assert list(compact["versions"]) == ["v1"]
    spec = compact["versions"]["v1"]["properties"]["spec"]
    assert spec["properties"]["hosts"] == {"type": "array", "items": {"type": "string"}}
    assert spec["properties"]["description"] == {"type": "string"}  # a property so named is a field, kept
    assert "description" not in compact["versions"]["v1"]
    assert compact_crd({"spec": {"names": {"kind": "X"}}}) is None


def test_the_clusters_crds_replace_the_pinned_ones_of_their_group():
    catalogue = SchemaCatalogue(pinned_crds(), cel_rules.cel_compiler())
    pinned_gate = SchemaGate(SchemaCatalogue(pinned_crds(), cel_rules.cel_compiler()))
    catalogue.adopt_cluster([compact_crd(crd("VirtualService", "networking.istio.io", {"v1": True, "v1alpha3": False}))])
    gate = SchemaGate(catalogue)
    # The cluster's VirtualService schema has the field the pinned one lacks.
    assert any('unknown field "spec.description"' in reason for reason in reasons(pinned_gate, VS % "v1"))
    assert reasons(gate, VS % "v1") == []
    # A version the cluster's CRD does not serve is refused, as the API server refuses it.
    assert not reasons(pinned_gate, (VS % "v1alpha3").replace("description: only the cluster's CRD has this field", ""))
    assert reasons(gate, VS % "v1alpha3") == [
        'apiVersion: no matches for kind "VirtualService" in version "networking.istio.io/v1alpha3" (served: v1)']
    # A pinned kind of that group the cluster has no CRD for: refused (no matches for kind).
    assert reasons(gate, DR) == ['kind: no matches for kind "DestinationRule" in version "networking.istio.io/v1" (the '
                                 'cluster serves no CustomResourceDefinition of this kind: ensure CRDs are installed '
                                 'first)']
    # Another group stays pinned: the Gateway API's CEL rule still applies.
    assert any("Must have port for Service reference" in reason for reason in reasons(gate, ROUTE))
    assert catalogue.source("networking.istio.io") == "cluster"
    assert catalogue.source("gateway.networking.k8s.io") == "pinned"
    assert catalogue.source("example.com") is None


class RecordedAPI:
    """The two calls schema.cluster makes, answered from recorded CRDs; a verb may be forbidden."""

    def __init__(self, crds: List[Dict[str, Any]], forbidden: str = "") -> None:
        self.crds = {item["metadata"]["name"]: item for item in crds}
        self.forbidden = forbidden
        self.read: List[str] = []

    def list_pages(self, path, page_size, accept):
        assert path == cluster.CRD_PATH and accept == METADATA_ONLY
        if self.forbidden == "list":
            raise Forbidden('customresourcedefinitions.apiextensions.k8s.io is forbidden: User "u" cannot list')
        return iter([{"metadata": {"name": name}} for name in self.crds])

    def request(self, method, path):
        name = path.rpartition("/")[2]
        assert method == "GET" and path == "%s/%s" % (cluster.CRD_PATH, name)
        if self.forbidden == "get":
            raise Forbidden("cannot get")
        self.read.append(name)
        return self.crds[name]


def test_only_the_crds_of_the_catalogues_groups_are_read():
    api = RecordedAPI([crd("VirtualService", "networking.istio.io", {"v1": True}),
                       crd("Certificate", "cert-manager.io", {"v1": True}),
                       crd("Thing", "istio.io.example.com", {"v1": True})])
    catalogue = SchemaCatalogue(pinned_crds())
    assert cluster.follow_cluster(catalogue, api) is None
    assert api.read == ["virtualservices.networking.istio.io"]
    assert catalogue.group_sources == {"extensions.istio.io": "pinned", "gateway.networking.k8s.io": "pinned",
                                       "gateway.networking.x-k8s.io": "pinned", "networking.istio.io": "cluster",
                                       "security.istio.io": "pinned", "telemetry.istio.io": "pinned"}


def test_crds_rbac_forbids_leave_the_pinned_schemas_and_a_note():
    for verb in ("list", "get"):
        catalogue = SchemaCatalogue(pinned_crds())
        note = cluster.follow_cluster(catalogue, RecordedAPI([crd("VirtualService", "networking.istio.io", {"v1": True})],
                                                             forbidden=verb))
        assert "could not be read" in note and "grant get and list on customresourcedefinitions" in note, note
        assert set(catalogue.group_sources.values()) == {"pinned"}
        assert catalogue.knows("networking.istio.io", "DestinationRule")
