# -*- coding: utf-8 -*-
"""Kubernetes Gateway API: verdicts against what Kiali's validations and Istio's analyzers document for each case,
as (tool code, kind, namespace/name) sets, then parties, repairs and how the objects load.

The manifests are written here from the tools' documented behaviour (Kiali's validation catalogue and checker
rules, Istio's message catalogue); none is taken from their test data."""

from __future__ import annotations

from typing import List, Set, Tuple

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.engine import analyze
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import KUBERNETES_GATEWAY, MeshModel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import (
    IntegrityRequest, run_integrity)

GW_API = "apiVersion: gateway.networking.k8s.io/v1"


def gateway(name="gw", namespace="default", listeners=None, cls="istio", addresses=None, labels=None):
    spec = {"gatewayClassName": cls,
            "listeners": listeners or [{"name": "http", "port": 80, "protocol": "HTTP", "hostname": "a.example.com"}]}
    if addresses:
        spec["addresses"] = addresses
    metadata = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": metadata, "spec": spec}


def route(name="r", namespace="default", parents=None, backends=None, kind="HTTPRoute", hostnames=None,
          version="v1", labels=None, filters=None):
    rule = {"backendRefs": backends if backends is not None else [{"name": "svc", "port": 80}]}
    if filters:
        rule["filters"] = filters
    spec = {"parentRefs": parents if parents is not None else [{"name": "gw"}], "rules": [rule]}
    if hostnames is not None:
        spec["hostnames"] = hostnames
    metadata = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "gateway.networking.k8s.io/" + version, "kind": kind, "metadata": metadata, "spec": spec}


def service(name="svc", namespace="default", ports=(80,)):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http-%d" % p, "port": p} for p in ports]}}


def namespace(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def grant(namespace="default", from_kind="HTTPRoute", from_namespace="other", to_kind="Service", to_name=None,
          name="g"):
    to = {"group": "", "kind": to_kind}
    if to_name:
        to["name"] = to_name
    return {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": from_kind, "namespace": from_namespace}],
                     "to": [to]}}


def analyse(objects: List[dict]):
    """As the files source reads manifests: the whole configuration, Istio's defaults assumed.

    The reference tools' verdicts are compared on documents as written: some cases (a repeated listener, a
    Hostname address) are refused by the pinned standard-channel CRDs, which the schema checks report apart.
    """
    return run_integrity(IntegrityRequest(content=yaml.safe_dump_all(objects), schema_validation=False))


def verdicts(result) -> Set[Tuple[str, str, str]]:
    """(tool code, kind, namespace/name) of every finding a reference tool would also give."""
    pairs = set()
    for violation in result["violations"]:
        for code in (violation["istio_code"], violation["kiali_code"]):
            if code:
                pairs.add((code, violation["kind"], "%s/%s" % (violation["namespace"], violation["name"])))
    return pairs


CASES = {
    # KIA1401: the parent Gateway is missing, or not shared with the route's namespace.
    "route to a missing gateway": (
        [service(), route(parents=[{"name": "nope"}])], {("KIA1401", "HTTPRoute", "default/r")}),
    "route to an existing gateway": ([service(), gateway(), route()], set()),
    "grpc route to a missing gateway": (
        [service(), route(kind="GRPCRoute", parents=[{"name": "nope"}], hostnames=[])],
        {("KIA1401", "GRPCRoute", "default/r")}),
    "route to a gateway of another namespace that keeps to itself": (
        [service(namespace="team"), gateway(namespace="infra"),
         route(namespace="team", parents=[{"name": "gw", "namespace": "infra"}])],
        {("KIA1401", "HTTPRoute", "team/r")}),
    "route to a gateway shared with all namespaces": (
        [service(namespace="team"),
         gateway(namespace="infra", listeners=[{"name": "http", "port": 80, "protocol": "HTTP",
                                                "allowedRoutes": {"namespaces": {"from": "All"}}}]),
         route(namespace="team", parents=[{"name": "gw", "namespace": "infra"}])], set()),
    "route to a gateway shared by a namespace label the route's namespace has": (
        [namespace("team", {"shared-gateway": "yes"}), service(namespace="team"),
         gateway(namespace="infra", listeners=[{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {
             "namespaces": {"from": "Selector", "selector": {"matchLabels": {"shared-gateway": "yes"}}}}}]),
         route(namespace="team", parents=[{"name": "gw", "namespace": "infra"}])], set()),
    "route to a gateway shared by a namespace label the route's namespace lacks": (
        [namespace("team", {"shared-gateway": "no"}), service(namespace="team"),
         gateway(namespace="infra", listeners=[{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {
             "namespaces": {"from": "Selector", "selector": {"matchLabels": {"shared-gateway": "yes"}}}}}]),
         route(namespace="team", parents=[{"name": "gw", "namespace": "infra"}])],
        {("KIA1401", "HTTPRoute", "team/r")}),
    "route to an Istio Gateway of that name": (
        [service(), route(parents=[{"name": "gw"}]),
         {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
          "spec": {"selector": {"istio": "ingressgateway"},
                   "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}}],
        {("KIA1401", "HTTPRoute", "default/r")}),
    "tcp route to a missing gateway (not validated by Kiali)": (
        [service(), route(kind="TCPRoute", parents=[{"name": "nope"}])], set()),
    # KIA1402: the backend (or the mesh route's parent Service) is missing or not granted.
    "route to a missing backend": (
        [gateway(), route(backends=[{"name": "gone", "port": 80}])], {("KIA1402", "HTTPRoute", "default/r")}),
    "route to a backend named like a DNS name": (
        [service(), gateway(), route(backends=[{"name": "svc.default", "port": 80}])],
        {("KIA1402", "HTTPRoute", "default/r")}),
    "route to a backend of another namespace without a grant": (
        [service(namespace="data"), gateway(namespace="other"),
         route(namespace="other", backends=[{"name": "svc", "namespace": "data", "port": 80}])],
        {("KIA1402", "HTTPRoute", "other/r")}),
    "route to a backend of another namespace with a grant": (
        [service(namespace="data"), gateway(namespace="other"), grant(namespace="data"),
         route(namespace="other", backends=[{"name": "svc", "namespace": "data", "port": 80}])], set()),
    # Kiali reads no names in a grant; the Gateway API does: a grant for another Service permits nothing here.
    "route to a backend of another namespace with a grant for another Service": (
        [service(namespace="data"), gateway(namespace="other"), grant(namespace="data", to_name="db"),
         route(namespace="other", backends=[{"name": "svc", "namespace": "data", "port": 80}])],
        {("KIA1402", "HTTPRoute", "other/r")}),
    "route to a backend of another namespace with a grant for GRPCRoutes only": (
        [service(namespace="data"), gateway(namespace="other"), grant(namespace="data", from_kind="GRPCRoute"),
         route(namespace="other", backends=[{"name": "svc", "namespace": "data", "port": 80}])],
        {("KIA1402", "HTTPRoute", "other/r")}),
    "grpc route to a missing backend": (
        [gateway(), route(kind="GRPCRoute", backends=[{"name": "gone", "port": 80}], hostnames=[])],
        {("KIA1402", "GRPCRoute", "default/r")}),
    "mesh route for a missing Service": (
        [service(), route(parents=[{"group": "", "kind": "Service", "name": "gone"}])],
        {("KIA1402", "HTTPRoute", "default/r")}),
    "mesh route for an existing Service": (
        [service(), route(parents=[{"group": "", "kind": "Service", "name": "svc"}])], set()),
    # KIA1501-KIA1504: Gateways.
    "two gateways with the same listener": (
        [gateway(name="a"), gateway(name="b")],
        {("KIA1501", "Gateway", "default/a"), ("KIA1501", "Gateway", "default/b")}),
    "two gateways with listeners for different hosts": (
        [gateway(name="a"),
         gateway(name="b", listeners=[{"name": "http", "port": 80, "protocol": "HTTP", "hostname": "b.example.com"}])],
        set()),
    "two gateways with listeners without hostname": (
        [gateway(name="a", listeners=[{"name": "http", "port": 80, "protocol": "HTTP"}]),
         gateway(name="b", listeners=[{"name": "http", "port": 80, "protocol": "HTTP"}])], set()),
    "two gateways with the same address": (
        [gateway(name="a", addresses=[{"type": "Hostname", "value": "lb.example.com"}],
                 listeners=[{"name": "http", "port": 80, "protocol": "HTTP"}]),
         gateway(name="b", addresses=[{"type": "Hostname", "value": "lb.example.com"}],
                 listeners=[{"name": "http", "port": 8080, "protocol": "HTTP"}])],
        {("KIA1502", "Gateway", "default/a"), ("KIA1502", "Gateway", "default/b")}),
    "one gateway repeating a listener": (
        [gateway(listeners=[{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "a.example.com"},
                            {"name": "b", "port": 80, "protocol": "HTTP", "hostname": "a.example.com"}])],
        {("KIA1503", "Gateway", "default/gw")}),
    "gateway of an unknown class": ([gateway(cls="no-such-class")], {("KIA1504", "Gateway", "default/gw")}),
    "gateway of a class istiod creates": ([gateway(cls="istio-waypoint")], set()),
    # KIA1601: ReferenceGrants.
    "grant from a namespace that does not exist": (
        [namespace("data"), service(namespace="data"), grant(namespace="data", from_namespace="nowhere")],
        {("KIA1601", "ReferenceGrant", "data/g")}),
    "grant from a namespace that exists": (
        [namespace("data"), namespace("other"), service(namespace="data"), grant(namespace="data")], set()),
    # IST0166 and the VirtualService analyzers.
    "authorization policy selecting a Kubernetes Gateway's pods": (
        [gateway(name="bookinfo-gateway"),
         {"apiVersion": "v1", "kind": "Pod", "metadata": {
             "name": "bookinfo-gateway-istio-1", "namespace": "default",
             "labels": {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"}},
          "spec": {"containers": [{"name": "istio-proxy", "image": "proxyv2"}]}},
         {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
          "metadata": {"name": "ap", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"}},
                   "action": "DENY"}}],
        {("IST0166", "AuthorizationPolicy", "default/ap")}),
    "telemetry with both a selector and a targetRef": (
        [gateway(name="bookinfo-gateway"),
         {"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry", "metadata": {"name": "t", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"}},
                   "targetRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                 "name": "bookinfo-gateway"}}}], set()),
    "request authentication selecting a Gateway's pods in another namespace": (
        [gateway(name="bookinfo-gateway", namespace="edge"),
         {"apiVersion": "v1", "kind": "Pod", "metadata": {
             "name": "bookinfo-gateway-istio-1", "namespace": "edge",
             "labels": {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"}}},
         {"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
          "metadata": {"name": "ra", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"}}}}],
        # No workload of its own namespace carries the label: Kiali's KIA0004 (no IST0166 across namespaces).
        {("KIA0004", "RequestAuthentication", "default/ra")}),
    "virtual service bound to a Kubernetes Gateway": (
        [service(), gateway(),
         {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": {"name": "vs", "namespace": "default"},
          "spec": {"hosts": ["a.example.com"], "gateways": ["gw"],
                   "http": [{"route": [{"destination": {"host": "svc"}}]}]}}],
        # Kiali resolves Istio Gateways only; Istio's analyzer finds the Gateway API Gateway and its listener's
        # hostname admits the host (istio/istio#60776: no IST0101, no IST0132).
        {("KIA1102", "VirtualService", "default/vs")}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_verdicts_agree_with_the_reference_tools(name):
    objects, expected = CASES[name]
    result = analyse(objects)
    assert verdicts(result) == expected, [v["message"] for v in result["violations"]]


def test_agreement_over_all_cases_is_measured_as_recall_and_precision():
    expected_pairs, found_pairs = set(), set()
    for name, (objects, expected) in CASES.items():
        expected_pairs |= {(name,) + pair for pair in expected}
        found_pairs |= {(name,) + pair for pair in verdicts(analyse(objects))}
    matched = expected_pairs & found_pairs
    assert len(matched) / len(expected_pairs) >= 0.95
    assert len(matched) / len(found_pairs) >= 0.95


def test_a_grant_for_another_service_does_not_permit_the_reference():
    result = analyse([service(namespace="data"), gateway(namespace="other"), grant(namespace="data", to_name="db"),
                      route(namespace="other", backends=[{"name": "svc", "namespace": "data", "port": 80}])])
    assert [(v["code"], v["kiali_code"]) for v in result["violations"]] == [("MSH707", "KIA1402")]


def test_gateway_api_gateways_are_reported_as_gateways_of_their_group():
    result = analyse([gateway(name="a"), gateway(name="b")])
    assert {(v["kind"], v["api_group"]) for v in result["violations"]} == {("Gateway", "gateway.networking.k8s.io")}
    assert {r["name"] for v in result["violations"] for r in v["related"]} == {"a", "b"}


def test_listener_and_kind_rules_of_the_parent():
    objects = [service(), gateway(listeners=[{"name": "tcp", "port": 9000, "protocol": "TCP"}]),
               route(parents=[{"name": "gw", "sectionName": "http"}])]
    assert {v["code"] for v in analyse(objects)["violations"]} == {"MSH703"}
    objects[2] = route(parents=[{"name": "gw"}])
    assert [v["code"] for v in analyse(objects)["violations"]] == ["MSH702"]
    assert "routes of kind HTTPRoute" in analyse(objects)["violations"][0]["message"]
    objects[2] = route(kind="TCPRoute", parents=[{"name": "gw", "port": 9000}])
    assert not analyse(objects)["violations"]


def test_hostnames_no_listener_accepts():
    objects = [service(), gateway(listeners=[{"name": "http", "port": 80, "protocol": "HTTP",
                                              "hostname": "*.example.com"}]),
               route(hostnames=["shop.example.org"])]
    assert [v["code"] for v in analyse(objects)["violations"]] == ["MSH714"]
    for accepted in (["shop.example.com"], ["deep.shop.example.com"], ["*.example.com"], ["*.shop.example.com"]):
        objects[2] = route(hostnames=accepted)
        assert not analyse(objects)["violations"], accepted
    objects[2] = route(hostnames=["example.com"])
    assert [v["code"] for v in analyse(objects)["violations"]] == ["MSH714"]


def test_backend_port_and_mirror():
    objects = [service(ports=(8080,)), service(name="shadow", ports=(80,)), gateway(),
               route(backends=[{"name": "svc", "port": 80}],
                     filters=[{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "ghost", "port": 80}}}])]
    found = {(v["code"], v["path"], v["kiali_code"]) for v in analyse(objects)["violations"]}
    assert found == {("MSH706", "spec.rules[0].backendRefs[0].port", ""),
                     ("MSH704", "spec.rules[0].filters[0].requestMirror.backendRef", "")}


def test_route_and_virtualservice_claiming_one_host_are_both_reported():
    objects = [service(), route(parents=[{"group": "", "kind": "Service", "name": "svc"}]),
               {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": "svc", "namespace": "default"},
                "spec": {"hosts": ["svc.default.svc.cluster.local"],
                         "http": [{"route": [{"destination": {"host": "svc"}}]}]}}]
    found = [(v["code"], v["kind"], [r["kind"] for r in v["related"]]) for v in analyse(objects)["violations"]]
    assert sorted(found) == [("MSH715", "HTTPRoute", ["VirtualService"]), ("MSH715", "VirtualService", ["HTTPRoute"])]
    # On an ingress Gateway: the VirtualService binds to the Gateway Istio generates from the Gateway API Gateway.
    objects = [service(), gateway(namespace="edge"),
               route(namespace="edge", backends=[{"name": "svc", "namespace": "default", "port": 80}],
                     hostnames=["a.example.com"]), grant(from_namespace="edge"),
               {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": "vs", "namespace": "edge"},
                "spec": {"hosts": ["a.example.com"], "gateways": ["edge/gw-istio-autogenerated-k8s-gateway-http"],
                         "http": [{"route": [{"destination": {"host": "svc.default.svc.cluster.local"}}]}]}}]
    assert sorted(v["code"] for v in analyse(objects)["violations"]) == ["MSH110", "MSH715", "MSH715"]


def test_a_missing_grant_of_a_managed_route_is_repaired_by_creating_one():
    managed = {"app.kubernetes.io/managed-by": "meshops.istio_integrity"}
    objects = [service(namespace="data"), service(name="db", namespace="data"), gateway(namespace="other"),
               route(namespace="other", labels=managed, backends=[{"name": "svc", "namespace": "data", "port": 80},
                                                                  {"name": "db", "namespace": "data", "port": 80}])]
    result = analyse(objects)
    [action] = [a for a in result["repair_plan"] if a["kind"] == "ReferenceGrant"]
    assert action["action"] == "create" and action["safe"] and action["namespace"] == "data"
    assert action["manifest"]["spec"] == {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "other"}],
        "to": [{"group": "", "kind": "Service", "name": "db"}, {"group": "", "kind": "Service", "name": "svc"}]}
    # Applying the planned grant clears the findings.
    assert not analyse(objects + [action["manifest"]])["violations"]
    objects[3]["metadata"].pop("labels")
    [action] = [a for a in analyse(objects)["repair_plan"] if a["kind"] == "ReferenceGrant"]
    assert not action["safe"]


def test_older_api_versions_load_like_v1():
    model = MeshModel()
    model.add(route(kind="TCPRoute", version="v1alpha2", parents=[{"name": "nope"}]), "t#1")
    model.add(dict(route(version="v1beta1", parents=[{"name": "nope"}]), kind="HTTPRoute"), "t#2")
    model.mark_scanned([KUBERNETES_GATEWAY])
    result = analyze(model)
    assert sorted((v["kind"], v["code"]) for v in result["violations"]) == [
        ("HTTPRoute", "MSH701"), ("HTTPRoute", "MSH704"), ("TCPRoute", "MSH701"), ("TCPRoute", "MSH704")]


def test_kinds_of_other_apis_with_the_same_names_are_not_modelled():
    model = MeshModel()
    assert model.add({"apiVersion": "example.com/v1", "kind": "HTTPRoute", "metadata": {"name": "x"}}, "t#1") is None
    assert model.add({"apiVersion": "example.com/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "x"}},
                     "t#2") is None


def test_routes_are_drawn_between_their_gateway_and_their_services():
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.graph import mesh_graph
    model = MeshModel()
    for index, obj in enumerate([service(), gateway(), route(name="ok"),
                                 route(name="lost", parents=[{"name": "gone"}], backends=[{"name": "ghost", "port": 80}])]):
        model.add(obj, "t#%d" % index)
    result = analyze(model)
    graph = mesh_graph(model, result["violations"], "all")
    edges = {(e["source"], e["target"], e["kind"], e["broken"]) for e in graph["edges"]}
    assert ("Gateway.gateway.networking.k8s.io/default/gw", "HTTPRoute/default/ok", "attaches", False) in edges
    assert ("HTTPRoute/default/ok", "Service/default/svc", "routes", False) in edges
    assert ("HTTPRoute/default/lost", "missing:Gateway/default/gone", "missing", True) in edges
    assert ("HTTPRoute/default/lost", "missing:Service/default/ghost", "missing", True) in edges
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["Gateway.gateway.networking.k8s.io/default/gw"]["kind"] == "Gateway"
    assert nodes["HTTPRoute/default/lost"]["severity"] == "error"


def test_what_a_partial_live_read_cannot_verify_is_not_reported():
    selector = {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "shop"}}}}
    objects = [service(namespace="team"), route(namespace="team", parents=[{"name": "gw", "namespace": "infra"}],
                                                backends=[{"name": "db", "namespace": "data", "port": 80}]),
               gateway(namespace="infra", listeners=[{"name": "http", "port": 80, "protocol": "HTTP",
                                                      "allowedRoutes": selector}])]
    model = MeshModel()
    for index, obj in enumerate(objects):
        model.add(obj, "live#%d" % index)
    model.mark_scanned(["ReferenceGrant"])  # but not Namespaces: their labels are unknown
    result = analyze(model, scanned_namespaces=["team", "infra"])
    # The selector's verdict and the grant of an unread namespace are unknown: neither is a finding.
    assert not result["violations"], [v["message"] for v in result["violations"]]
    assert result["summary"]["unverifiable_references"] == 2  # the backend Service and its grant in "data"
