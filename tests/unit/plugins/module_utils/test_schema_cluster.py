# -*- coding: utf-8 -*-
"""A cluster's own CRDs and OpenAPI as the schema source: the one CRD conversion and the one OpenAPI conversion,
how the cluster's CRDs and built-in kinds replace the pinned ones group by group, which CRDs are read, and the
pinned fallback when RBAC forbids reading them. (Against a
real API server: tests/integration/test_schema_cluster.py.)"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import METADATA_ONLY, Forbidden
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import cel_rules, cluster
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.admission import SchemaGate
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.builtin import (
    OpenAPIError, compact_openapi)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.catalogue import (
    SchemaCatalogue, compact_crd, pinned_schemas)

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
    catalogue = SchemaCatalogue(pinned_schemas(), cel_rules.cel_compiler())
    pinned_gate = SchemaGate(SchemaCatalogue(pinned_schemas(), cel_rules.cel_compiler()))
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
    """The calls schema.cluster makes, answered from recorded CRDs and OpenAPI documents; a verb (or ``openapi``)
    may be forbidden."""

    def __init__(self, crds: List[Dict[str, Any]], forbidden: str = "",
                 openapi: Optional[Dict[str, Dict[str, Any]]] = None) -> None:
        self.crds = {item["metadata"]["name"]: item for item in crds}
        self.forbidden = forbidden
        self.openapi = OPENAPI if openapi is None else openapi
        self.read: List[str] = []
        self.queries: List[Any] = []

    def list_pages(self, path, page_size, accept):
        assert path == cluster.CRD_PATH and accept == METADATA_ONLY
        if self.forbidden == "list":
            raise Forbidden('customresourcedefinitions.apiextensions.k8s.io is forbidden: User "u" cannot list')
        return iter([{"metadata": {"name": name}} for name in self.crds])

    def request(self, method, path, query=None):
        if path.startswith(cluster.OPENAPI_V3):
            if self.forbidden == "openapi":
                raise Forbidden('forbidden: User "u" cannot get path "%s"' % path)
            if path == cluster.OPENAPI_V3:
                return {"paths": {name: {"serverRelativeURL": "%s/%s?hash=H%d" % (path, name, index)}
                                  for index, name in enumerate(self.openapi)}}
            self.queries.append(query)
            return self.openapi[path[len(cluster.OPENAPI_V3) + 1:]]
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
    catalogue = SchemaCatalogue(pinned_schemas())
    assert cluster.follow_cluster(catalogue, api) == []
    assert api.read == ["virtualservices.networking.istio.io"]
    assert catalogue.sources() == {"apps": "cluster", "batch": "cluster", "core": "cluster",
                                   "extensions.istio.io": "pinned",
                                   "gateway.networking.k8s.io": "pinned", "gateway.networking.x-k8s.io": "pinned",
                                   "networking.istio.io": "cluster", "security.istio.io": "pinned",
                                   "telemetry.istio.io": "pinned"}
    # The OpenAPI documents are read at the URLs /openapi/v3 lists (with their hash).
    assert api.queries == [[("hash", "H0")], [("hash", "H1")], [("hash", "H2")]]


def test_crds_rbac_forbids_leave_the_pinned_schemas_and_a_note():
    for verb in ("list", "get"):
        catalogue = SchemaCatalogue(pinned_schemas())
        (note,) = cluster.follow_cluster(catalogue, RecordedAPI(
            [crd("VirtualService", "networking.istio.io", {"v1": True})], forbidden=verb))
        assert "could not be read" in note and "grant get and list on customresourcedefinitions" in note, note
        assert set(catalogue.group_sources.values()) == {"pinned", "cluster"}
        assert catalogue.source("networking.istio.io") == "pinned" and catalogue.source("") == "cluster"
        assert catalogue.knows("networking.istio.io", "DestinationRule")


def meta_ref() -> Dict[str, Any]:
    return {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "default": {}}


INT_OR_STRING = "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"
OBJECT_META = {"description": "ObjectMeta", "type": "object", "properties": {
    "name": {"type": "string"}, "namespace": {"type": "string"},
    "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}}}}
# A cluster's own OpenAPI v3 (written for these tests): its Namespace has a field the pinned one has not, its
# Deployment a pod template down to the container's ports and resources.
OPENAPI = {
    "api/v1": {"components": {"schemas": {
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": OBJECT_META,
        "io.k8s.api.core.v1.Namespace": {
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Namespace", "version": "v1"}],
            "type": "object", "required": ["spec"], "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": meta_ref(),
                "spec": {"type": "object", "properties": {
                    "finalizers": {"type": "array", "items": {"type": "string", "enum": ["kubernetes"]}},
                    "owner": {"type": "string", "description": "only this cluster's Namespace has it"}}}}},
        "io.k8s.api.core.v1.NamespaceList": {
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "NamespaceList", "version": "v1"}],
            "type": "object"}}}},
    "apis/apps/v1": {"components": {"schemas": {
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": OBJECT_META,
        "io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"format": "int-or-string",
                                                            "oneOf": [{"type": "integer"}, {"type": "string"}]},
        "io.k8s.apimachinery.pkg.runtime.RawExtension": {"type": "object"},
        "io.k8s.api.apps.v1.Deployment": {
            "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
            "type": "object", "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": meta_ref(),
                "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]}}},
        "io.k8s.api.apps.v1.DeploymentSpec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "format": "int32", "minimum": 0},
            "paused": {"type": "boolean"},
            "extension": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.runtime.RawExtension"},
            "template": {"type": "object", "properties": {"metadata": meta_ref(), "spec": {
                "type": "object", "properties": {"containers": {
                    "type": "array", "x-kubernetes-list-type": "map",
                    "items": {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}}}}}}}},
        "io.k8s.api.core.v1.Container": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "pattern": "^[a-z]+$"},
            "ports": {"type": "array", "items": {"type": "object", "properties": {
                "containerPort": {"type": "integer", "format": "int32"},
                "probePort": {"allOf": [{"$ref": INT_OR_STRING}]}}}},
            "resources": {"type": "object", "properties": {"limits": {"type": "object", "additionalProperties": {
                "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}}}}}}}}},
    "apis/batch/v1": {"components": {"schemas": {
        "io.k8s.api.batch.v1.Job": {
            "x-kubernetes-group-version-kind": [{"group": "batch", "kind": "Job", "version": "v1"}],
            "type": "object", "properties": {"spec": {"type": "object", "properties": {
                "backoffLimit": {"type": "integer", "format": "int32"}}}}}}}},
}


def test_the_openapi_conversion_resolves_references_and_keeps_only_what_the_decoder_checks():
    (namespace,) = compact_openapi(OPENAPI["api/v1"], "api/v1")
    assert (namespace["group"], namespace["kind"], namespace["namespaced"], namespace["builtin"]) == (
        "", "Namespace", False, True)
    schema = namespace["versions"]["v1"]
    # References resolved into one tree; descriptions, enums, required fields and defaults dropped.
    assert schema["properties"]["metadata"]["properties"]["labels"] == {
        "type": "object", "additionalProperties": {"type": "string"}}
    assert schema["properties"]["spec"] == {"type": "object", "properties": {
        "finalizers": {"type": "array", "items": {"type": "string"}}, "owner": {"type": "string"}}}
    assert "required" not in schema
    (deployment,) = compact_openapi(OPENAPI["apis/apps/v1"], "apis/apps/v1")
    spec = deployment["versions"]["v1"]["properties"]["spec"]["properties"]
    assert spec["replicas"] == {"type": "integer", "format": "int32"}
    assert spec["extension"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    container = spec["template"]["properties"]["spec"]["properties"]["containers"]["items"]
    assert container["properties"]["name"] == {"type": "string"}
    assert container["properties"]["ports"]["items"]["properties"]["probePort"] == {"x-kubernetes-int-or-string": True}
    assert container["properties"]["resources"]["properties"]["limits"]["additionalProperties"] == {
        "format": "quantity"}
    with pytest.raises(OpenAPIError):
        compact_openapi({"paths": {}}, "api/v1")


NAMESPACE = """apiVersion: v1
kind: Namespace
metadata: {name: team-a}
spec: {owner: team-a}
"""


def test_the_clusters_openapi_replaces_the_pinned_built_in_kinds():
    pinned_gate = SchemaGate()
    assert reasons(pinned_gate, NAMESPACE) == ['spec.owner: unknown field "spec.owner"']
    gate = SchemaGate()
    assert cluster.follow_cluster(gate.catalogue, RecordedAPI([])) == []
    assert gate.catalogue.source("") == "cluster" and gate.catalogue.builtin("")
    assert reasons(gate, NAMESPACE) == []
    # The cluster's enum of finalizers is not the decoder's business (and its `required` neither).
    assert reasons(gate, NAMESPACE.replace("owner: team-a", "finalizers: [example.com/other]")) == []
    assert reasons(gate, NAMESPACE.replace("{owner: team-a}", "{owner: 1}")) == [
        'spec.owner: json: cannot unmarshal number into Go struct field spec.owner of type string (the API server '
        'reads this unquoted YAML value as a number: quote it)']
    # A built-in kind the cluster's document lacks is not refused as a missing CRD would be: not validated.
    assert reasons(gate, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: d}\n") == []


def test_a_cluster_whose_openapi_may_not_be_read_leaves_the_pinned_built_in_kinds_and_a_note():
    for api in (RecordedAPI([], forbidden="openapi"), RecordedAPI([], openapi={"api/v1": OPENAPI["api/v1"]}),
                RecordedAPI([], openapi={"api/v1": {"info": {}}, "apis/apps/v1": {}})):
        gate = SchemaGate()
        (note,) = cluster.follow_cluster(gate.catalogue, api)
        assert note.startswith("schemas: the cluster's OpenAPI v3 could not be read (") and "/openapi/v3/*" in note
        assert gate.catalogue.source("") == "pinned" and gate.catalogue.source("apps") == "pinned"
        assert reasons(gate, NAMESPACE) == ['spec.owner: unknown field "spec.owner"']
