# -*- coding: utf-8 -*-
"""Rendering: one test per traffic feature, pure functions only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import spec
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import render

REPO = Path(__file__).resolve().parents[4]
BASE = {"name": "reviews", "namespace": "bookinfo", "ports": [{"port": 9080, "name": "http"}],
        "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}


def objects(**options):
    params = spec.validate(dict(BASE, **options), "test")
    return {obj["kind"]: obj for obj in render.render(params)}


def http(**options):
    return objects(**options)["VirtualService"]["spec"]["http"]


def test_every_object_is_labelled_as_ours():
    for obj in objects(gateway={"create": True}, egress=[{"hosts": ["api.example.com"]}]).values():
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "meshops.istio_integrity"
        assert labels["meshops.io/meshservice"] == "reviews"


def test_rendering_is_deterministic():
    options = dict(routes=[{"match": [{"headers": {"b": "1", "a": "2"}}], "destinations": [{"subset": "v1"}]}])
    assert render.render(spec.validate(dict(BASE, **options), "a")) == render.render(spec.validate(dict(BASE, **options), "b"))


def test_service_ports_and_default_selector():
    service = objects()["Service"]
    assert service["spec"] == {"ports": [{"name": "http", "port": 9080, "protocol": "TCP"}], "selector": {"app": "reviews"}}


def test_weighted_canary():
    [rule] = http(routes=[{"destinations": [{"subset": "v1", "weight": 90}, {"subset": "v2", "weight": 10}]}])
    assert [(r["destination"]["subset"], r["weight"]) for r in rule["route"]] == [("v1", 90), ("v2", 10)]
    assert rule["route"][0]["destination"] == {"host": "reviews", "subset": "v1", "port": {"number": 9080}}


def test_subset_weights_without_routes():
    subsets = [{"name": "v1", "weight": 75}, {"name": "v2", "weight": 25}]
    [rule] = http(subsets=subsets)
    assert [r["weight"] for r in rule["route"]] == [75, 25]


def test_uri_header_query_and_source_matches():
    [rule] = http(routes=[{"match": [{"uri": {"prefix": "/api"}, "headers": {"end-user": "jason", "x": {"regex": "a.*"}},
                                      "query_params": {"debug": "1"}, "source_labels": {"app": "web"}}],
                           "destinations": [{"subset": "v2"}]}])
    assert rule["match"] == [{"uri": {"prefix": "/api"}, "headers": {"end-user": {"exact": "jason"}, "x": {"regex": "a.*"}},
                              "queryParams": {"debug": {"exact": "1"}}, "sourceLabels": {"app": "web"}}]


def test_retries_timeout_fault_mirror():
    [rule] = http(routes=[{"retries": {"attempts": 3, "per_try_timeout": "2s", "retry_on": "5xx"}, "timeout": "10s",
                           "fault": {"delay": {"fixed_delay": "5s", "percentage": 10}, "abort": {"http_status": 503}},
                           "mirror": {"subset": "v2", "percentage": 20}, "destinations": [{"subset": "v1"}]}])
    assert rule["retries"] == {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}
    assert rule["timeout"] == "10s"
    assert rule["fault"] == {"delay": {"fixedDelay": "5s", "percentage": {"value": 10.0}},
                             "abort": {"httpStatus": 503, "percentage": {"value": 100.0}}}
    assert rule["mirror"] == {"host": "reviews", "subset": "v2", "port": {"number": 9080}}
    assert rule["mirrorPercentage"] == {"value": 20.0}


def test_redirect_rewrite_cors_headers():
    rules = http(routes=[{"match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/new", "redirect_code": 308}},
                         {"rewrite": {"uri": "/"}, "cors": {"allow_origins": [{"exact": "https://a.example"}],
                                                            "allow_methods": ["GET"], "max_age": "24h"},
                          "headers": {"request": {"set": {"x-env": "prod"}}}}])
    assert rules[0] == {"match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/new", "redirectCode": 308}}
    assert rules[1]["rewrite"] == {"uri": "/"}
    assert rules[1]["corsPolicy"] == {"allowMethods": ["GET"], "maxAge": "24h", "allowOrigins": [{"exact": "https://a.example"}]}
    assert rules[1]["headers"] == {"request": {"set": {"x-env": "prod"}}}


def test_load_balancing_connection_pool_outlier_detection():
    policy = {"load_balancer": {"consistent_hash": {"http_cookie": {"name": "user", "ttl": "0s"}}},
              "connection_pool": {"tcp": {"max_connections": 100}, "http": {"http1_max_pending_requests": 10}},
              "outlier_detection": {"consecutive_5xx_errors": 5, "interval": "10s", "base_ejection_time": "30s"}}
    rule = objects(traffic_policy=policy)["DestinationRule"]["spec"]
    assert rule["trafficPolicy"] == {
        "loadBalancer": {"consistentHash": {"httpCookie": {"name": "user", "ttl": "0s"}}},
        "connectionPool": {"tcp": {"maxConnections": 100}, "http": {"http1MaxPendingRequests": 10}},
        "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"}}
    assert [s["name"] for s in rule["subsets"]] == ["v1", "v2"]


def test_gateway_tls_and_https_redirect():
    gateway = objects(hosts=["r.example.com"], gateway={"name": "gw", "namespace": "istio-system", "create": True, "servers": [
        {"port": 443, "protocol": "HTTPS", "tls_mode": "SIMPLE", "credential_name": "cert"},
        {"port": 80, "https_redirect": True}]})["Gateway"]
    assert gateway["metadata"]["namespace"] == "istio-system"
    https, plain = gateway["spec"]["servers"]
    assert https["tls"] == {"mode": "SIMPLE", "credentialName": "cert"} and https["hosts"] == ["bookinfo/r.example.com"]
    assert plain["tls"] == {"httpsRedirect": True}


def test_virtual_service_binds_to_the_gateway():
    vs = objects(hosts=["r.example.com"], gateway={"name": "gw", "namespace": "istio-system"})["VirtualService"]
    assert vs["spec"]["gateways"] == ["istio-system/gw"] and "Gateway" not in objects(gateway={"name": "gw"})


def test_egress_through_an_egress_gateway():
    rendered = render.render(spec.validate(dict(BASE, egress=[{"hosts": ["api.example.com"], "egress_gateway": {"name": "egress"}}]), "t"))
    kinds = [(o["kind"], o["metadata"]["name"]) for o in rendered]
    assert ("ServiceEntry", "reviews-egress-0") in kinds and ("Gateway", "egress") in kinds
    [steer] = [o for o in rendered if o["kind"] == "VirtualService" and o["metadata"]["name"] == "reviews-egress-0"]
    assert steer["spec"]["gateways"] == ["mesh", "istio-system/egress"] and len(steer["spec"]["tls"]) == 2


def test_meshservice_definition_in_camel_case():
    options = spec.from_definition({"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
                                    "metadata": {"name": "reviews", "namespace": "bookinfo"},
                                    "spec": {"serviceName": "reviews-svc", "hosts": ["r"],
                                             "ports": [{"port": 80, "targetPort": 8080, "name": "http"}],
                                             "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}},
                                             "subsets": [{"name": "v1", "labels": {"appVersion": "v1"}, "weight": 100}]}},
                                   "definition")
    params = spec.validate(options, "definition")
    assert params["service_name"] == "reviews-svc" and params["ports"][0]["target_port"] == 8080
    assert params["subsets"][0]["labels"] == {"appVersion": "v1"}  # label keys stay as written


def test_a_live_meshservice_owns_what_it_renders_in_its_own_namespace():
    definition = {"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
                  "metadata": {"name": "reviews", "namespace": "bookinfo", "uid": "0b6f-uid"},
                  "spec": {"ports": [{"port": 9080}], "gateway": {"name": "public", "namespace": "istio-system",
                                                                  "create": True}}}
    rendered = render.render(spec.validate(spec.from_definition(definition, "definition"), "definition"))
    owners = {(o["kind"], o["metadata"]["namespace"]): o["metadata"].get("ownerReferences") for o in rendered}
    reference = [{"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService", "name": "reviews",
                  "uid": "0b6f-uid", "controller": True}]
    assert owners[("Service", "bookinfo")] == reference and owners[("VirtualService", "bookinfo")] == reference
    assert owners[("Gateway", "istio-system")] is None  # owner references cannot cross namespaces
    # A definition from a file (no uid) is owned by nobody: deleting nothing can remove it.
    del definition["metadata"]["uid"]
    from_file = render.render(spec.validate(spec.from_definition(definition, "definition"), "definition"))
    assert all("ownerReferences" not in o["metadata"] for o in from_file)


@pytest.mark.parametrize("options, message", [
    ({"ports": [{"port": 0}]}, "ports[0].port: 0 is not between 1 and 65535"),
    ({"routes": [{"destinations": [{"subset": "v9"}]}]}, "routes[0].destinations[0].subset: 'v9' is not one of the subsets"),
    ({"routes": [{"destinations": [{"subset": "v1", "weight": 60}, {"subset": "v2", "weight": 30}]}]}, "weights sum to 90"),
    ({"routes": [{"timeout": "ten seconds"}]}, "routes[0].timeout"),
    ({"subsets": [{"name": "v1"}, {"name": "v1"}]}, "subset names must be unique"),
    ({"ports": [{"port": "eighty"}]}, "ports"),
])
def test_invalid_options_name_the_entry_and_field(options, message):
    with pytest.raises(spec.SpecError, match="^meshservices\\[2\\]: .*" + message.replace("[", "\\[").replace("]", "\\]")):
        spec.validate(dict(BASE, **options), "meshservices[2]")


def test_generated_option_docs_are_up_to_date():
    result = subprocess.run([sys.executable, str(REPO / "tools" / "gen_meshservice_docs.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def _option_names(options, found):
    for name, option in options.items():
        found.add(name)
        _option_names(option.get("options") or {}, found)
    return found


def test_every_option_name_round_trips_through_camel_case():
    for name in _option_names(spec.MESHSERVICE_SPEC, set()):
        assert spec.snake_keys({spec.camel(name): 1}) == {name: 1}, name


def test_generated_meshservice_crd_is_up_to_date():
    result = subprocess.run([sys.executable, str(REPO / "tools" / "gen_meshservice_crd.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
