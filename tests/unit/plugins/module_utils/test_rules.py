# -*- coding: utf-8 -*-
"""Naming rules, label selectors and the repair plan."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import hosts, label_selector
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.engine import analyze
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import MeshModel


@pytest.mark.parametrize("host, namespace, expected", [
    ("reviews", "bookinfo", "reviews.bookinfo.svc.cluster.local"),
    ("reviews.bookinfo", "default", "reviews.bookinfo"),
    ("Reviews.Example.COM", "default", "reviews.example.com"),
    ("*.example.com", "default", "*.example.com"),
])
def test_resolve_host(host, namespace, expected):
    assert hosts.resolve_host(host, namespace) == expected


def test_lookup_keys_follow_label_boundaries():
    assert hosts.lookup_keys("a.b.example.com") == ["a.b.example.com", "*.b.example.com", "*.example.com", "*.com", "*"]
    assert hosts.lookup_keys("*.example.com") == ["*.example.com", "*.com", "*"]
    assert "*.ample.com" not in hosts.lookup_keys("a.example.com")


@pytest.mark.parametrize("ref, expected", [
    ("mesh", None), ("istio-system/gw", "istio-system/gw"), ("gw", "apps/gw"),
    ("gw.istio-system.svc.cluster.local", "istio-system/gw"), ("/gw", "apps/gw"),
])
def test_gateway_key(ref, expected):
    assert hosts.gateway_key(ref, "apps") == expected


def test_export_namespaces():
    assert hosts.export_namespaces(None, "a") == ["*"]
    assert hosts.export_namespaces([".", "b"], "a") == ["a", "b"]
    assert hosts.export_namespaces(["~"], "a") == []


def test_split_server_host():
    assert hosts.split_server_host("./x.com", "gw-ns") == ("gw-ns", "x.com")
    assert hosts.split_server_host("*/x.com", "gw-ns") == ("*", "x.com")
    assert hosts.split_server_host("x.com", "gw-ns") == ("*", "x.com")


@pytest.mark.parametrize("selector, labels, matches", [
    ("app=a", {"app": "a"}, True), ("app==a", {"app": "b"}, False), ("app!=a", {}, True),
    ("app", {"app": ""}, True), ("!app", {"app": "x"}, False), ("env in (prod, staging)", {"env": "staging"}, True),
    ("env notin (prod)", {"env": "prod"}, False), ("app=a,env in (x,y)", {"app": "a", "env": "y"}, True),
])
def test_label_selector(selector, labels, matches):
    assert label_selector.parse(selector)(labels) is matches


def test_label_selector_rejects_garbage():
    with pytest.raises(ValueError, match="invalid label selector term"):
        label_selector.parse("a=b=c")


MANAGED = {"app.kubernetes.io/managed-by": "meshops.istio_integrity"}
WEB_SERVICE = """
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---"""


def violations_and_plan(text):
    model = MeshModel()
    for index, document in enumerate(yaml.safe_load_all(text)):
        model.add(document, "t#%d" % index)
    result = analyze(model)
    return result["violations"], result["repair_plan"]


def plan_for(text):
    return violations_and_plan(text)[1]


def test_orphaned_virtual_service_is_deleted_and_gets_no_gateway():
    violations, plan = violations_and_plan("""
kind: VirtualService
metadata: {name: orphan, namespace: default, labels: {app.kubernetes.io/managed-by: meshops.istio_integrity}}
spec: {hosts: [o.example.com], gateways: [missing], http: [{route: [{destination: {host: ghost}}]}]}
""")
    assert [(a["action"], a["name"], a["safe"]) for a in plan] == [("delete", "orphan", True)]
    assert {v["repair"] for v in violations} == {"A1"}


def test_missing_gateway_is_created_from_every_referencing_host():
    plan = plan_for(WEB_SERVICE + """
kind: VirtualService
metadata: {name: a, namespace: default, labels: {app.kubernetes.io/managed-by: meshops.istio_integrity}}
spec: {hosts: [a.example.com], gateways: [edge], http: [{route: [{destination: {host: web}}]}]}
---
kind: VirtualService
metadata: {name: b, namespace: team, labels: {app.kubernetes.io/managed-by: meshops.istio_integrity}}
spec: {hosts: [b.example.com], gateways: [default/edge], http: [{route: [{destination: {host: web.default.svc.cluster.local}}]}]}
""")
    [create] = plan
    assert create["action"] == "create" and create["safe"] is True
    assert create["manifest"]["metadata"] == {"name": "edge", "namespace": "default", "labels": MANAGED}
    assert create["manifest"]["spec"]["servers"][0]["hosts"] == ["default/a.example.com", "team/b.example.com"]


def test_gateway_for_unmanaged_virtual_service_is_not_safe():
    plan = plan_for(WEB_SERVICE + """
kind: VirtualService
metadata: {name: a, namespace: default}
spec: {hosts: [a.example.com], gateways: [edge], http: [{route: [{destination: {host: web}}]}]}
""")
    assert [(a["action"], a["safe"]) for a in plan] == [("create", False)]


def test_host_conflict_patches_the_newer_object_with_guarded_removal():
    plan = plan_for(WEB_SERVICE + """
kind: VirtualService
metadata: {name: old, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {hosts: [web], http: [{route: [{destination: {host: web}}]}]}
---
kind: VirtualService
metadata: {name: new, namespace: default, creationTimestamp: "2024-02-01T00:00:00Z",
           labels: {app.kubernetes.io/managed-by: meshops.istio_integrity}}
spec: {hosts: [extra.example.com, web], http: [{route: [{destination: {host: web}}]}]}
""")
    [patch] = plan
    assert (patch["action"], patch["name"], patch["safe"]) == ("patch", "new", True)
    assert patch["patch"] == [{"op": "test", "path": "/spec/hosts/1", "value": "web"},
                              {"op": "remove", "path": "/spec/hosts/1"}]


def test_removing_the_only_host_is_left_to_people():
    plan = plan_for(WEB_SERVICE + """
kind: VirtualService
metadata: {name: old, namespace: default}
spec: {hosts: [web], http: [{route: [{destination: {host: web}}]}]}
---
kind: VirtualService
metadata: {name: new, namespace: default}
spec: {hosts: [web], http: [{route: [{destination: {host: web}}]}]}
""")
    [manual] = plan
    assert manual["action"] == "manual" and "without hosts" in manual["reason"]
