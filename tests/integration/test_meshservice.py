# -*- coding: utf-8 -*-
"""istio_meshservice against the real kube-apiserver with Istio's CRDs."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from conftest import run_playbook

KINDS = "services,gateways.networking.istio.io,virtualservices.networking.istio.io," \
        "destinationrules.networking.istio.io,serviceentries.networking.istio.io"


@pytest.fixture
def namespace(control_plane, request):
    name = "ms-" + request.node.name.replace("test_", "").replace("_", "-")[:40].strip("-")
    control_plane.kubectl("create", "namespace", name)
    return name


def meshservice(plane, **options: Any) -> Dict[str, Any]:
    task = {"meshops.istio_integrity.istio_meshservice": dict({"kubeconfig": str(plane.kubeconfig)}, **options),
            "register": "result", "ignore_errors": True}
    return task


def run(plane, check: bool = False, diff: bool = False, **options: Any):
    task = meshservice(plane, **options)
    if diff:
        task["diff"] = True
    return run_playbook([task], result_var="result", check=check)


def objects(plane, namespace: str) -> Dict[str, Dict[str, Any]]:
    items = json.loads(plane.kubectl("get", KINDS, "-n", namespace, "-o", "json").stdout)["items"]
    return {"%s/%s" % (i["kind"], i["metadata"]["name"]): i for i in items}


def versions(plane, namespace: str) -> Dict[str, str]:
    return {key: obj["metadata"]["resourceVersion"] for key, obj in objects(plane, namespace).items()}


def reviews(namespace: str, weights=(90, 10), **extra: Any) -> Dict[str, Any]:
    return dict(name="reviews", namespace=namespace, hosts=["reviews.%s.example.com" % namespace],
                ports=[{"port": 9080, "name": "http"}],
                gateway={"name": "reviews-gateway", "create": True},
                subsets=[{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}],
                routes=[{"destinations": [{"subset": "v1", "weight": weights[0]}, {"subset": "v2", "weight": weights[1]}]}],
                **extra)


def actions(run_result) -> Dict[str, str]:
    return {"%s/%s" % (r["kind"], r["name"]): r["action"] for r in run_result.facts["resources"]}


def test_create_modify_delete_in_check_mode_for_real_and_again(control_plane, namespace):
    planned = run(control_plane, check=True, **reviews(namespace))
    assert not planned.facts.get("failed"), planned.output
    assert planned.facts["changed"] and set(actions(planned).values()) == {"created"}
    assert objects(control_plane, namespace) == {}

    created = run(control_plane, **reviews(namespace))
    assert created.facts["changed"] and set(actions(created).values()) == {"created"}
    assert set(objects(control_plane, namespace)) == {"Service/reviews", "Gateway/reviews-gateway",
                                                      "DestinationRule/reviews", "VirtualService/reviews"}
    first = versions(control_plane, namespace)
    again = run(control_plane, **reviews(namespace))
    assert not again.facts["changed"] and set(actions(again).values()) == {"unchanged"}
    assert versions(control_plane, namespace) == first

    planned_change = run(control_plane, check=True, diff=True, **reviews(namespace, weights=(50, 50)))
    assert planned_change.facts["changed"] and actions(planned_change)["VirtualService/reviews"] == "updated"
    assert versions(control_plane, namespace) == first
    [diff] = planned_change.facts["diff"]
    assert diff["before"]["spec"]["http"][0]["route"][0]["weight"] == 90
    assert diff["after"]["spec"]["http"][0]["route"][0]["weight"] == 50

    changed = run(control_plane, **reviews(namespace, weights=(50, 50)))
    assert changed.facts["changed"]
    moved = versions(control_plane, namespace)
    assert {key for key in moved if moved[key] != first[key]} == {"VirtualService/reviews"}
    route = objects(control_plane, namespace)["VirtualService/reviews"]["spec"]["http"][0]["route"]
    assert [r["weight"] for r in route] == [50, 50]
    assert not run(control_plane, **reviews(namespace, weights=(50, 50))).facts["changed"]

    planned_removal = run(control_plane, check=True, name="reviews", namespace=namespace, state="absent")
    assert planned_removal.facts["changed"] and len(objects(control_plane, namespace)) == 4
    removed = run(control_plane, name="reviews", namespace=namespace, state="absent")
    assert removed.facts["changed"] and set(actions(removed).values()) == {"deleted"}
    assert objects(control_plane, namespace) == {}
    assert not run(control_plane, name="reviews", namespace=namespace, state="absent").facts["changed"]


def test_prune_removes_only_what_we_own(control_plane, namespace):
    assert run(control_plane, **reviews(namespace)).facts["changed"]
    foreign = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
               "metadata": {"name": "theirs", "namespace": namespace, "labels": {"meshops.io/meshservice": "reviews"}},
               "spec": {"hosts": ["theirs"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}
    control_plane.kubectl("create", "-f", "-", stdin=json.dumps(foreign))
    without_gateway = reviews(namespace)
    without_gateway["gateway"] = {"name": "reviews-gateway", "create": False}
    # The Gateway would be missing after pruning it: the integrity check says so, warn lets it through.
    pruned = run(control_plane, integrity="warn", **without_gateway)
    assert actions(pruned)["Gateway/reviews-gateway"] == "pruned"
    assert "Gateway/reviews-gateway" not in objects(control_plane, namespace)
    assert [v["code"] for v in pruned.facts["integrity"]["new_violations"]] == ["MSH101"], pruned.output
    run(control_plane, name="reviews", namespace=namespace, state="absent")
    assert set(objects(control_plane, namespace)) == {"VirtualService/theirs"}


def test_conflict_with_another_field_manager(control_plane, namespace):
    assert run(control_plane, **reviews(namespace)).facts["changed"]
    theirs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
              "metadata": {"name": "reviews", "namespace": namespace},
              "spec": {"hosts": ["reviews.%s.example.com" % namespace]}}
    control_plane.kubectl("apply", "--server-side", "--field-manager=someone-else", "--force-conflicts",
                          "-f", "-", stdin=json.dumps(theirs))
    renamed = reviews(namespace)
    renamed["hosts"] = ["other.%s.example.com" % namespace]
    refused = run(control_plane, **renamed)
    assert refused.facts["failed"]
    assert "conflict with another field manager" in refused.facts["msg"] and "force_conflicts" in refused.facts["msg"]
    assert objects(control_plane, namespace)["VirtualService/reviews"]["spec"]["hosts"] == ["reviews.%s.example.com" % namespace]
    forced = run(control_plane, force_conflicts=True, integrity="off", **renamed)
    assert not forced.facts.get("failed"), forced.output
    assert objects(control_plane, namespace)["VirtualService/reviews"]["spec"]["hosts"] == ["other.%s.example.com" % namespace]


def test_integrity_enforce_refuses_a_host_clash_and_warn_lets_it_through(control_plane, namespace):
    assert run(control_plane, **reviews(namespace)).facts["changed"]
    clash = dict(name="ratings", namespace=namespace, hosts=["reviews.%s.example.com" % namespace],
                 ports=[{"port": 9080}], gateway={"name": "reviews-gateway"})
    refused = run(control_plane, **clash)
    assert refused.facts["failed"] and "MSH202" not in refused.facts["msg"]  # the message speaks, codes in facts
    assert "already claimed by an older VirtualService" in refused.facts["msg"]
    # Blamed on what is written, the existing VirtualService named as the other party.
    assert [(v["code"], v["name"], [r["name"] for r in v["related"]]) for v in refused.facts["integrity"]["new_violations"]
            ] == [("MSH202", "ratings", ["reviews"])]
    assert "VirtualService %s/ratings" % namespace in refused.facts["msg"]
    assert "VirtualService %s/reviews" % namespace in refused.facts["msg"]
    assert "Service/ratings" not in objects(control_plane, namespace)
    allowed = run(control_plane, integrity="warn", **clash)
    assert not allowed.facts.get("failed"), allowed.output
    assert [(v["code"], v["name"]) for v in allowed.facts["integrity"]["new_violations"]] == [("MSH202", "ratings")]
    assert "VirtualService/ratings" in objects(control_plane, namespace)


def test_route_to_a_missing_service_is_refused(control_plane, namespace):
    refused = run(control_plane, name="edge", namespace=namespace, ports=[{"port": 80}],
                  routes=[{"destinations": [{"host": "ghost"}]}])
    assert refused.facts["failed"] and "'ghost'" in refused.facts["msg"]
    assert objects(control_plane, namespace) == {}


def test_bad_batch_entry_and_schema_rejection_apply_nothing(control_plane, namespace):
    good = reviews(namespace)
    bad = dict(name="bad", namespace=namespace, ports=[{"port": 0}])
    refused = run(control_plane, meshservices=[good, bad])
    assert refused.facts["failed"] and "meshservices[1]: ports[0].port: 0 is not between 1 and 65535" in refused.facts["msg"]
    assert objects(control_plane, namespace) == {}
    too_fast = reviews(namespace)
    too_fast["routes"][0]["timeout"] = "0.5ms"
    rejected = run(control_plane, meshservices=[too_fast])
    assert rejected.facts["failed"] and "rejected by the API server" in rejected.facts["msg"]
    assert "nothing was applied" in rejected.facts["msg"]
    assert objects(control_plane, namespace) == {}


def test_every_traffic_feature_is_accepted_and_read_back(control_plane, namespace):
    full = dict(
        name="shop", namespace=namespace, hosts=["shop.%s.example.com" % namespace],
        ports=[{"port": 8080, "name": "http", "target_port": 8081}],
        gateway={"name": "shop-gateway", "create": True, "servers": [
            {"port": 443, "protocol": "HTTPS", "tls_mode": "SIMPLE", "credential_name": "shop-cert"},
            {"port": 80, "https_redirect": True}]},
        subsets=[{"name": "v1", "labels": {"version": "v1"}},
                 {"name": "v2", "labels": {"version": "v2"},
                  "traffic_policy": {"load_balancer": {"simple": "LEAST_REQUEST"}}}],
        traffic_policy={"load_balancer": {"consistent_hash": {"http_cookie": {"name": "user", "ttl": "0s"}}},
                        "connection_pool": {"tcp": {"max_connections": 100, "connect_timeout": "3s"},
                                            "http": {"http1_max_pending_requests": 10, "max_retries": 3}},
                        "outlier_detection": {"consecutive_5xx_errors": 5, "interval": "10s",
                                              "base_ejection_time": "30s", "max_ejection_percent": 50}},
        routes=[
            {"name": "legacy", "match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/new", "redirect_code": 301}},
            {"name": "ab", "match": [{"headers": {"x-variant": "b"}, "query_params": {"ab": "1"}},
                                     {"source_labels": {"app": "tester"}}],
             "destinations": [{"subset": "v2"}],
             "fault": {"delay": {"fixed_delay": "2s", "percentage": 10}, "abort": {"http_status": 503, "percentage": 1}}},
            {"name": "api", "match": [{"uri": {"prefix": "/api"}}], "rewrite": {"uri": "/"},
             "destinations": [{"subset": "v1", "weight": 80}, {"subset": "v2", "weight": 20}],
             "retries": {"attempts": 3, "per_try_timeout": "2s", "retry_on": "5xx,reset"}, "timeout": "10s",
             "mirror": {"subset": "v2", "percentage": 5},
             "cors": {"allow_origins": [{"exact": "https://shop.example.com"}], "allow_methods": ["GET", "POST"],
                      "max_age": "24h", "allow_credentials": True},
             "headers": {"response": {"set": {"x-served-by": "shop"}}}},
        ],
        # A host no other namespace's ServiceEntry defines (the demo mesh's do define api.payments.example.com:
        # the guard reads ServiceEntries mesh-wide and would rightly refuse a protocol clash with them).
        egress=[{"name": "payments", "hosts": ["api.billing.%s.example.com" % namespace],
                 "egress_gateway": {"name": "egress", "namespace": namespace}}],
    )
    egress_service = {"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "istio-egressgateway", "namespace": namespace},
                      "spec": {"selector": {"istio": "egressgateway"}, "ports": [{"name": "tls", "port": 443}]}}
    control_plane.kubectl("create", "-f", "-", stdin=json.dumps(egress_service))
    applied = run(control_plane, **full)
    assert not applied.facts.get("failed"), applied.output
    live = objects(control_plane, namespace)
    for rendered in applied.facts["rendered"]:
        key = "%s/%s" % (rendered["kind"], rendered["metadata"]["name"])
        if rendered["kind"] != "Service":  # the Service gains server defaults (clusterIP, type, ...)
            assert live[key]["spec"] == rendered["spec"], key
    assert live["Service/shop"]["spec"]["ports"][0]["targetPort"] == 8081
    assert not run(control_plane, **full).facts["changed"]


def test_definition_and_batch_of_meshservice_resources(control_plane, namespace):
    definitions: List[Dict[str, Any]] = [
        {"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
         "metadata": {"name": "svc-%d" % i, "namespace": namespace},
         "spec": {"serviceName": "svc-%d" % i, "hosts": ["svc-%d" % i], "ports": [{"port": 80, "name": "http"}],
                  "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}},
                  "subsets": [{"name": "v1", "labels": {"version": "v1"}, "weight": 100}]}} for i in range(3)]
    batch = run(control_plane, meshservices=definitions)
    assert not batch.facts.get("failed"), batch.output
    assert len([key for key in objects(control_plane, namespace) if key.startswith("VirtualService/")]) == 3
    single = run(control_plane, definition=definitions[0])
    assert not single.facts["changed"]


def test_removed_subset_disappears_from_the_destination_rule(control_plane, namespace):
    assert run(control_plane, **reviews(namespace)).facts["changed"]
    only_v1 = reviews(namespace)
    only_v1["subsets"] = only_v1["subsets"][:1]
    only_v1["routes"] = [{"destinations": [{"subset": "v1"}]}]
    shrunk = run(control_plane, **only_v1)
    assert actions(shrunk)["DestinationRule/reviews"] == "updated", shrunk.output
    live = objects(control_plane, namespace)
    assert [s["name"] for s in live["DestinationRule/reviews"]["spec"]["subsets"]] == ["v1"]
    assert [r["destination"]["subset"] for r in live["VirtualService/reviews"]["spec"]["http"][0]["route"]] == ["v1"]


def test_meshservice_role_applies_the_list_and_removes_unlisted(control_plane, namespace, tmp_path):
    def role(names):
        listed = [dict(name=name, namespace=namespace, ports=[{"port": 80, "name": "http"}]) for name in names]
        task = {"name": "Meshservices", "ansible.builtin.include_role": {"name": "meshops.istio_integrity.meshservice"},
                "vars": {"meshservice_kubeconfig": str(control_plane.kubeconfig), "meshservice_list": listed,
                         "meshservice_namespaces": [namespace], "meshservice_report_dir": str(tmp_path),
                         "meshservice_fail_on": "error"}}
        return run_playbook([task], result_var="meshservice_result")
    first = role(["alpha", "beta"])
    assert not first.failed, first.output
    assert {"Service/alpha", "Service/beta", "VirtualService/alpha", "VirtualService/beta"} <= set(objects(control_plane, namespace))
    assert (tmp_path / "integrity.json").exists()
    second = role(["alpha"])
    assert not second.failed, second.output
    left = set(objects(control_plane, namespace))
    assert "Service/alpha" in left and not {key for key in left if key.endswith("/beta")}
    assert {(r["name"], r["action"]) for r in second.facts["resources"]} >= {("beta", "pruned"), ("alpha", "unchanged")}


def frontend(namespace: str, **extra: Any) -> Dict[str, Any]:
    return dict(name="frontend", namespace=namespace, hosts=["frontend.%s.example.com" % namespace],
                ports=[{"port": 8080, "name": "http"}], **extra)


def test_enforce_refuses_a_gateway_missing_in_another_namespace(control_plane, namespace):
    """The guard reads the namespace a cross-namespace Gateway reference points into, and names the missing one."""
    refused = run(control_plane, **frontend(namespace, gateway={"name": "no-such-gw", "namespace": "istio-system"}))
    assert refused.facts["failed"]
    assert "istio-system/no-such-gw" in refused.facts["msg"] and "nothing was applied" in refused.facts["msg"]
    assert objects(control_plane, namespace) == {}
    control_plane.kubectl("create", "namespace", "istio-system", check=False)
    control_plane.kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": "shared-gw", "namespace": "istio-system"},
        "spec": {"selector": {"istio": "ingressgateway"},
                 "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}}))
    try:
        applied = run(control_plane, **frontend(namespace, gateway={"name": "shared-gw", "namespace": "istio-system"}))
        assert not applied.facts.get("failed"), applied.facts.get("msg")
    finally:
        control_plane.kubectl("delete", "gateway.networking.istio.io", "shared-gw", "-n", "istio-system")


def test_enforce_refuses_when_it_cannot_read_a_referenced_namespace(control_plane, namespace):
    """A user who may write its namespace but not read istio-system: refused, naming the namespace; accepted on demand."""
    control_plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "all", "namespace": namespace},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "restricted-all", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "all"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "restricted-reader"}]}]}))
    as_restricted = dict(kubeconfig=str(control_plane.restricted_kubeconfig))
    options = frontend(namespace, gateway={"name": "edge", "namespace": "istio-system"})
    refused = run_playbook([dict(meshservice(control_plane, **options), **{
        "meshops.istio_integrity.istio_meshservice": dict(options, **as_restricted)})], result_var="result")
    assert refused.facts["failed"]
    assert "cannot verify the change" in refused.facts["msg"] and "istio-system" in refused.facts["msg"]
    assert "forbidden" in refused.facts["msg"].lower() and "accept_unverifiable" in refused.facts["msg"]
    assert objects(control_plane, namespace) == {}
    accepted = run_playbook([dict(meshservice(control_plane, **options), **{
        "meshops.istio_integrity.istio_meshservice": dict(options, accept_unverifiable=True, **as_restricted)})],
        result_var="result")
    assert not accepted.facts.get("failed"), accepted.facts.get("msg")
    assert "VirtualService/frontend" in objects(control_plane, namespace)


def test_two_meshservices_rendering_one_object_are_refused_and_nothing_changes_hands(control_plane, namespace):
    """Batch: both named. One by one (the reconcile role's fallback): the second is refused, every run."""
    def shop(name):
        return dict(name=name, namespace=namespace, hosts=["%s.example.com" % name], ports=[{"port": 80, "name": "http"}],
                    gateway={"name": "shared", "create": True})
    batch = run(control_plane, meshservices=[shop("a"), shop("b")])
    assert batch.facts["failed"] and "meshservices[1] renders Gateway/%s/shared, which meshservices[0] renders too" % (
        namespace) in batch.facts["msg"]
    assert objects(control_plane, namespace) == {}
    assert not run(control_plane, **shop("a")).facts.get("failed")
    owner_before = objects(control_plane, namespace)["Gateway/shared"]["metadata"]
    for _attempt in range(2):
        refused = run(control_plane, **shop("b"))
        assert refused.facts["failed"]
        assert ("Gateway/%s/shared belongs to meshservice %s/a, and meshservice %s/b renders it too"
                % (namespace, namespace, namespace)) in refused.facts["msg"]
        again = run(control_plane, **shop("a"))
        assert not again.facts.get("failed") and not again.facts["changed"]
    owner_after = objects(control_plane, namespace)["Gateway/shared"]["metadata"]
    assert owner_after["resourceVersion"] == owner_before["resourceVersion"]
    assert "VirtualService/b" not in objects(control_plane, namespace)


def test_task_options_fill_in_a_definition(control_plane, namespace):
    """`definition:` plus `gateway: {create: true}` at task level creates the Gateway (it used to be ignored)."""
    definition = {"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService", "metadata": {"name": "web"},
                  "spec": {"hosts": ["web.example.com"], "ports": [{"port": 80, "name": "http"}]}}
    applied = run(control_plane, definition=definition, namespace=namespace, gateway={"name": "web-gw", "create": True})
    assert not applied.facts.get("failed"), applied.facts.get("msg")
    assert {"Gateway/web-gw", "VirtualService/web", "Service/web"} <= set(objects(control_plane, namespace))
    clash = run(control_plane, definition=dict(definition, metadata={"name": "web", "namespace": namespace}),
                namespace="elsewhere")
    assert clash.facts["failed"] and "namespace is %r in the definition and 'elsewhere'" % namespace in clash.facts["msg"]


def test_enforce_sees_a_host_clash_with_a_namespace_the_write_does_not_reference(control_plane, namespace):
    """Another team's VirtualService (its own namespace) already claims the host on the shared Gateway."""
    control_plane.kubectl("create", "namespace", "istio-system", check=False)
    control_plane.kubectl("create", "namespace", "team-other", check=False)
    host = "clash.%s.example.com" % namespace
    control_plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "clash-gw", "namespace": "istio-system"},
         "spec": {"selector": {"istio": "ingressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "theirs", "namespace": "team-other"},
         "spec": {"hosts": [host], "gateways": ["istio-system/clash-gw"],
                  "http": [{"route": [{"destination": {"host": "theirs.team-other.svc.cluster.local"}}]}]}}]}))
    try:
        options = frontend(namespace, gateway={"name": "clash-gw", "namespace": "istio-system"})
        options["hosts"] = [host]
        refused = run(control_plane, **options)
        assert refused.facts["failed"], refused.facts.get("msg")
        assert "VirtualService team-other/theirs" in refused.facts["msg"]
        assert [v["name"] for v in refused.facts["integrity"]["new_violations"]] == ["frontend"]
    finally:
        control_plane.kubectl("delete", "virtualservice.networking.istio.io", "theirs", "-n", "team-other")
        control_plane.kubectl("delete", "gateway.networking.istio.io", "clash-gw", "-n", "istio-system")
