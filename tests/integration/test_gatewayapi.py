# -*- coding: utf-8 -*-
"""The Kubernetes Gateway API against a real kube-apiserver with its standard-channel CRDs and Istio's:
istio_meshservice rendering HTTPRoutes (accepted, weights shifted, idempotent, pruned, guarded) and
istio_integrity_facts finding broken routes live and from files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from conftest import facts_task, run_playbook, start_plane


@pytest.fixture(scope="module")
def plane():
    """A control plane of this module's own: what it plants must not reach the other modules' mesh."""
    control_plane = start_plane()
    yield control_plane
    control_plane.stop()


def meshservice_task(plane, **options: Any) -> Dict[str, Any]:
    return {"name": "Meshservice", "register": "applied",
            "meshops.istio_integrity.istio_meshservice": dict({"kubeconfig": str(plane.kubeconfig)}, **options)}


def apply(plane, *tasks: Dict[str, Any], check: bool = False):
    return run_playbook(list(tasks), result_var="applied", check=check)


def get(plane, resource: str, namespace: str, name: str) -> Dict[str, Any]:
    return json.loads(plane.kubectl("get", resource, name, "-n", namespace, "-o", "json").stdout)


def exists(plane, resource: str, namespace: str, name: str) -> bool:
    return plane.kubectl("get", resource, name, "-n", namespace, check=False).returncode == 0


def canary(namespace: str, stable: int, canary_weight: int, **extra: Any) -> Dict[str, Any]:
    return dict({
        "name": "reviews", "namespace": namespace, "api": "gateway-api", "hosts": ["reviews.shop.example.com"],
        "ports": [{"port": 9080, "name": "http"}],
        "gateway": {"name": "shop-gateway", "create": True},
        "subsets": [{"name": "v1", "labels": {"version": "v1"}, "weight": stable},
                    {"name": "v2", "labels": {"version": "v2"}, "weight": canary_weight}],
        "traffic_policy": {"connection_pool": {"tcp": {"max_connections": 100}}},
        "routes": [{"match": [{"headers": {"x-canary": "always"}}], "destinations": [{"subset": "v2"}],
                    "timeout": "5s"},
                   {"destinations": [{"subset": "v1", "weight": stable}, {"subset": "v2", "weight": canary_weight}],
                    "mirror": {"subset": "v2", "percentage": 10}}],
    }, **extra)


def backend_weights(route: Dict[str, Any]) -> Dict[str, int]:
    return {ref["name"]: ref["weight"] for ref in route["spec"]["rules"][-1]["backendRefs"]}


def test_a_canary_rendered_as_httproute_is_accepted_shifted_idempotent_and_pruned(plane):
    plane.kubectl("create", "namespace", "shop")
    first = apply(plane, meshservice_task(plane, meshservices=[canary("shop", 90, 10)]))
    assert not first.failed, first.output
    assert first.facts["changed"] is True
    created = {(r["kind"], r["name"]) for r in first.facts["resources"] if r["action"] == "created"}
    assert created == {("Service", "reviews"), ("Service", "reviews-v1"), ("Service", "reviews-v2"),
                       ("Gateway", "shop-gateway"), ("DestinationRule", "reviews"), ("DestinationRule", "reviews-v1"),
                       ("DestinationRule", "reviews-v2"), ("HTTPRoute", "reviews")}
    route = get(plane, "httproutes.gateway.networking.k8s.io", "shop", "reviews")
    assert backend_weights(route) == {"reviews-v1": 90, "reviews-v2": 10}
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "name": "shop-gateway", "namespace": "shop"}]
    assert route["spec"]["hostnames"] == ["reviews.shop.example.com"]
    assert route["spec"]["rules"][0]["matches"][0]["headers"] == [{"name": "x-canary", "type": "Exact",
                                                                   "value": "always"}]
    assert route["spec"]["rules"][0]["timeouts"] == {"request": "5s"}
    mirror = route["spec"]["rules"][1]["filters"][0]["requestMirror"]
    assert mirror["backendRef"]["name"] == "reviews-v2" and mirror["percent"] == 10
    gateway = get(plane, "gateways.gateway.networking.k8s.io", "shop", "shop-gateway")
    assert gateway["spec"]["listeners"][0]["hostname"] == "reviews.shop.example.com"
    assert get(plane, "services", "shop", "reviews-v2")["spec"]["selector"] == {"app": "reviews", "version": "v2"}
    assert get(plane, "destinationrules.networking.istio.io", "shop", "reviews-v2")["spec"]["host"] == "reviews-v2"

    again = apply(plane, meshservice_task(plane, meshservices=[canary("shop", 90, 10)]))
    assert not again.failed and again.facts["changed"] is False, again.output
    assert {r["action"] for r in again.facts["resources"]} == {"unchanged"}

    shifted = apply(plane, meshservice_task(plane, meshservices=[canary("shop", 50, 50)]))
    assert not shifted.failed and shifted.facts["changed"] is True, shifted.output
    assert backend_weights(get(plane, "httproutes.gateway.networking.k8s.io", "shop", "reviews")) == {
        "reviews-v1": 50, "reviews-v2": 50}

    # Promoted: v2 only. Its no longer rendered siblings are pruned, the route follows.
    promoted = canary("shop", 0, 100)
    promoted["subsets"] = [{"name": "v2", "labels": {"version": "v2"}}]
    promoted["routes"] = [{"destinations": [{"subset": "v2"}]}]
    pruned = apply(plane, meshservice_task(plane, meshservices=[promoted]))
    assert not pruned.failed, pruned.output
    assert {(r["kind"], r["name"]) for r in pruned.facts["resources"] if r["action"] == "pruned"} == {
        ("Service", "reviews-v1"), ("DestinationRule", "reviews-v1")}
    assert not exists(plane, "services", "shop", "reviews-v1")
    assert backend_weights(get(plane, "httproutes.gateway.networking.k8s.io", "shop", "reviews")) == {"reviews-v2": 1}

    removed = apply(plane, meshservice_task(plane, meshservices=[promoted], state="absent"))
    assert not removed.failed, removed.output
    assert not exists(plane, "httproutes.gateway.networking.k8s.io", "shop", "reviews")
    assert not exists(plane, "gateways.gateway.networking.k8s.io", "shop", "shop-gateway")


def test_the_guard_refuses_a_route_to_another_namespace_without_a_reference_grant(plane):
    for namespace in ("front", "data"):
        plane.kubectl("create", "namespace", namespace)
    plane.kubectl("create", "service", "clusterip", "db", "-n", "data", "--tcp=5432:5432")
    entry = {"name": "api", "namespace": "front", "api": "gateway-api", "ports": [{"port": 80}],
             "routes": [{"destinations": [{"host": "db.data.svc.cluster.local", "port": 5432}]}]}
    refused = apply(plane, meshservice_task(plane, meshservices=[entry]))
    assert refused.failed
    assert "MSH707" in refused.output or "ReferenceGrant" in refused.output, refused.output
    assert not exists(plane, "httproutes.gateway.networking.k8s.io", "front", "api")
    plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump({
        "apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
        "metadata": {"name": "front-routes", "namespace": "data"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "front"}],
                 "to": [{"group": "", "kind": "Service"}]}}))
    granted = apply(plane, meshservice_task(plane, meshservices=[entry]))
    assert not granted.failed, granted.output
    route = get(plane, "httproutes.gateway.networking.k8s.io", "front", "api")
    assert route["spec"]["parentRefs"] == [{"group": "", "kind": "Service", "name": "api", "port": 80}]
    assert route["spec"]["rules"][0]["backendRefs"][0]["namespace"] == "data"


def test_retries_are_refused_where_the_standard_channel_crd_drops_them(plane):
    plane.kubectl("create", "namespace", "retry")
    entry = {"name": "ratings", "namespace": "retry", "ports": [{"port": 80}],
             "routes": [{"retries": {"attempts": 3, "retry_on": "503"}}]}
    # The task's api applies to the batch entries that do not choose their own.
    run = apply(plane, meshservice_task(plane, meshservices=[entry], api="gateway-api"))
    assert run.failed
    assert "spec.rules[0].retry" in run.output and "nothing was applied" in run.output, run.output
    assert not exists(plane, "services", "retry", "ratings")


BROKEN_ROUTES = """
apiVersion: v1
kind: Namespace
metadata: {name: broken}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: broken}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-nowhere, namespace: broken}
spec:
  parentRefs: [{name: no-such-gateway}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-nothing, namespace: broken}
spec:
  parentRefs: [{kind: Service, group: "", name: web}]
  rules: [{backendRefs: [{name: no-such-service, port: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-gateway-istio-0, namespace: broken, labels: {gateway.networking.k8s.io/gateway-name: web-gateway}}
spec: {containers: [{name: istio-proxy, image: proxyv2}]}
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: ineffective, namespace: broken}
spec:
  selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: web-gateway}}
  url: oci://registry.example.com/filters/auth:1
"""


def test_routes_to_a_missing_gateway_or_backend_are_found_live_and_from_files(plane, tmp_path: Path):
    manifest = tmp_path / "routes.yaml"
    manifest.write_text(BROKEN_ROUTES)
    plane.kubectl("apply", "-f", str(manifest))
    live = run_playbook([facts_task(kubeconfig=str(plane.kubeconfig), namespaces=["broken"])])
    files = run_playbook([facts_task(src=[str(manifest)])])
    assert not live.failed and not files.failed, live.output + files.output

    def findings(facts: Dict[str, Any]) -> List[tuple]:
        return sorted((v["code"], v["kind"], v["name"], v["path"], v["kiali_code"]) for v in facts["violations"])

    expected = [("MSH701", "HTTPRoute", "to-nowhere", "spec.parentRefs[0]", "KIA1401"),
                ("MSH704", "HTTPRoute", "to-nothing", "spec.rules[0].backendRefs[0]", "KIA1402"),
                ("MSH716", "WasmPlugin", "ineffective", "spec.selector", "")]
    assert findings(live.facts) == findings(files.facts) == expected
    assert [v["istio_code"] for v in live.facts["violations"] if v["code"] == "MSH716"] == ["IST0166"]
    assert live.facts["summary"]["scanned"]["HTTPRoute"] == 2  # the namespace asked for only
    assert live.facts["summary"]["checks_skipped"] == {}
    assert not [note for note in live.facts["summary"]["notes"] if "not read" in note], live.facts["summary"]["notes"]
