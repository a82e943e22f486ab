# -*- coding: utf-8 -*-
"""Rendering as the Kubernetes Gateway API (``api: gateway-api``): pure functions only. The API server's
acceptance of these objects is proven in tests/integration/test_gatewayapi.py."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import render, render_gatewayapi, spec
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.runner import dropped_fields

BASE = {"name": "reviews", "namespace": "bookinfo", "api": "gateway-api", "ports": [{"port": 9080, "name": "http"}],
        "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}


def objects(**options):
    params = spec.validate(dict(BASE, **options), "test")
    return {"%s/%s" % (obj["kind"], obj["metadata"]["name"]): obj for obj in render_gatewayapi.render_objects(params)}


def rules(**options):
    return objects(**options)["HTTPRoute/reviews"]["spec"]["rules"]


def test_a_weighted_canary_routes_to_one_service_per_subset():
    rendered = objects(routes=[{"destinations": [{"subset": "v1", "weight": 80}, {"subset": "v2", "weight": 20}]}])
    assert sorted(rendered) == ["HTTPRoute/reviews", "Service/reviews", "Service/reviews-v1", "Service/reviews-v2"]
    assert rendered["Service/reviews-v2"]["spec"]["selector"] == {"app": "reviews", "version": "v2"}
    assert rendered["Service/reviews-v2"]["spec"]["ports"] == rendered["Service/reviews"]["spec"]["ports"]
    assert rendered["HTTPRoute/reviews"]["spec"]["rules"] == [{"backendRefs": [
        {"name": "reviews-v1", "port": 9080, "weight": 80}, {"name": "reviews-v2", "port": 9080, "weight": 20}]}]
    for obj in rendered.values():
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "meshops.istio_integrity"


def test_subset_weights_without_routes_and_mesh_parent():
    weighted = [{"name": "v1", "labels": {"version": "v1"}, "weight": 90},
                {"name": "v2", "labels": {"version": "v2"}, "weight": 10}]
    route = objects(subsets=weighted)["HTTPRoute/reviews"]["spec"]
    # No gateway: a mesh (GAMMA) route of the Service itself.
    assert route["parentRefs"] == [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}]
    assert "hostnames" not in route
    assert [(ref["name"], ref["weight"]) for ref in route["rules"][0]["backendRefs"]] == [("reviews-v1", 90),
                                                                                          ("reviews-v2", 10)]


def test_gateway_parent_hostnames_and_created_gateway():
    rendered = objects(hosts=["shop.example.com"], gateway={"create": True, "namespace": "edge",
                                                            "servers": [{"port": 443, "protocol": "HTTPS",
                                                                         "credential_name": "shop-cert"}]})
    route = rendered["HTTPRoute/reviews"]["spec"]
    assert route["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                    "name": "reviews-gateway", "namespace": "edge"}]
    assert route["hostnames"] == ["shop.example.com"]
    gateway = rendered["Gateway/reviews-gateway"]
    assert gateway["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert gateway["spec"] == {"gatewayClassName": "istio", "listeners": [{
        "name": "https-443", "port": 443, "protocol": "HTTPS", "hostname": "shop.example.com",
        "tls": {"mode": "Terminate", "certificateRefs": [{"name": "shop-cert"}]},
        # In another namespace than the route: admit the route's namespace by name.
        "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {
            "matchLabels": {"kubernetes.io/metadata.name": "bookinfo"}}}}}]}
    assert render.identity(gateway) == "Gateway.gateway.networking.k8s.io/edge/reviews-gateway"


def test_an_existing_gateway_listener_and_mesh_traffic():
    route = objects(gateway={"name": "shared", "namespace": "infra", "section_name": "http"})["HTTPRoute/reviews"]
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared", "namespace": "infra",
         "sectionName": "http"},
        {"group": "", "kind": "Service", "name": "reviews", "port": 9080}]


def test_matches_timeouts_retries_and_mirror():
    [rule] = rules(routes=[{
        "match": [{"uri": {"prefix": "/api"}, "headers": {"x-user": "tester", "x-id": {"regex": "[0-9]+"}},
                   "query_params": {"debug": "1"}, "method": {"exact": "GET"}}],
        "destinations": [{"subset": "v2"}], "timeout": "10s",
        "retries": {"attempts": 3, "per_try_timeout": "2s", "retry_on": "502,503"},
        "mirror": {"subset": "v1", "percentage": 12.5}}])
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"},
                                "headers": [{"name": "x-id", "type": "RegularExpression", "value": "[0-9]+"},
                                            {"name": "x-user", "type": "Exact", "value": "tester"}],
                                "queryParams": [{"name": "debug", "type": "Exact", "value": "1"}],
                                "method": "GET"}]
    assert rule["timeouts"] == {"request": "10s", "backendRequest": "2s"}
    assert rule["retry"] == {"attempts": 3, "codes": [502, 503]}
    assert rule["filters"] == [{"type": "RequestMirror", "requestMirror": {
        "backendRef": {"name": "reviews-v1", "port": 9080}, "fraction": {"numerator": 12500, "denominator": 100000}}}]


def test_redirect_rewrite_headers_and_cors_are_filters():
    redirect, rewrite = rules(routes=[
        {"match": [{"uri": {"exact": "/old"}}], "redirect": {"uri": "/new", "redirect_code": 301, "scheme": "https"}},
        {"match": [{"uri": {"prefix": "/v1"}}], "rewrite": {"uri": "/", "authority": "internal"},
         "headers": {"request": {"set": {"x-env": "prod"}, "remove": ["x-debug"]}, "response": {"add": {"x-by": "m"}}},
         "cors": {"allow_origins": [{"exact": "https://shop.example.com"}], "allow_methods": ["GET"],
                  "max_age": "24h"}}])
    assert "backendRefs" not in redirect
    assert redirect["filters"] == [{"type": "RequestRedirect", "requestRedirect": {
        "scheme": "https", "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}, "statusCode": 301}}]
    assert rewrite["filters"] == [
        {"type": "URLRewrite", "urlRewrite": {"hostname": "internal",
                                              "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}},
        {"type": "RequestHeaderModifier",
         "requestHeaderModifier": {"set": [{"name": "x-env", "value": "prod"}], "remove": ["x-debug"]}},
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "x-by", "value": "m"}]}},
        {"type": "CORS", "cors": {"allowOrigins": ["https://shop.example.com"], "allowMethods": ["GET"],
                                  "maxAge": 86400}}]


def test_backends_by_host():
    [rule] = rules(routes=[{"destinations": [{"host": "ratings", "port": 9080, "weight": 50},
                                             {"host": "details.other.svc.cluster.local", "port": 80, "weight": 30},
                                             {"host": "api.example.com", "port": 443, "weight": 20}]}])
    assert rule["backendRefs"] == [
        {"name": "ratings", "port": 9080, "weight": 50},
        {"name": "details", "namespace": "other", "port": 80, "weight": 30},
        {"group": "networking.istio.io", "kind": "Hostname", "name": "api.example.com", "port": 443, "weight": 20}]


def test_traffic_policy_goes_into_a_destination_rule_per_backend_service():
    rendered = objects(traffic_policy={"load_balancer": {"simple": "LEAST_REQUEST"}},
                       subsets=[{"name": "v1", "labels": {"version": "v1"}},
                                {"name": "v2", "labels": {"version": "v2"},
                                 "traffic_policy": {"outlier_detection": {"consecutive_5xx_errors": 5}}}])
    assert rendered["DestinationRule/reviews"]["spec"] == {"host": "reviews",
                                                           "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}}
    assert rendered["DestinationRule/reviews-v1"]["spec"]["host"] == "reviews-v1"
    assert rendered["DestinationRule/reviews-v2"]["spec"] == {
        "host": "reviews-v2", "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 5}}}


@pytest.mark.parametrize("options, message", [
    ({"hosts": ["shop.example.com"]}, "hosts: with api: gateway-api"),
    ({"routes": [{"fault": {"abort": {"http_status": 503}}}]}, "routes[0].fault: fault injection has no Gateway API"),
    ({"routes": [{"match": [{"source_labels": {"app": "x"}}]}]}, "routes[0].match[0].source_labels"),
    ({"routes": [{"match": [{"headers": {"x": {"prefix": "a"}}}]}]}, "routes[0].match[0].headers.x"),
    ({"routes": [{"match": [{"ignore_uri_case": True}]}]}, "routes[0].match[0].ignore_uri_case"),
    ({"routes": [{"match": [{"method": {"regex": "GET|POST"}}]}]}, "routes[0].match[0].method"),
    ({"routes": [{"retries": {"attempts": 2, "retry_on": "5xx"}}]}, "routes[0].retries.retry_on"),
    ({"routes": [{"destinations": [{"host": "ratings", "subset": "v2", "port": 80}]}]},
     "routes[0].destinations[0].subset"),
    ({"routes": [{"mirror": {"host": "ratings", "subset": "v2", "port": 80}}]}, "routes[0].mirror.subset"),
    ({"routes": [{"destinations": [{"host": "ratings"}]}]}, "routes[0].destinations[0].port"),
    ({"routes": [{"cors": {"allow_origins": [{"prefix": "https://"}]}}]}, "routes[0].cors.allow_origins"),
    ({"gateway": {"create": True, "servers": [{"port": 80, "https_redirect": True}]}},
     "gateway.servers[0].https_redirect"),
    ({"gateway": {"create": True, "servers": [{"port": 443, "protocol": "HTTPS", "tls_mode": "MUTUAL"}]}},
     "gateway.servers[0].tls_mode"),
])
def test_what_the_gateway_api_cannot_express_is_refused_naming_the_field(options, message):
    with pytest.raises(spec.SpecError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        spec.validate(dict(BASE, **options), "meshservices[0]")


def test_a_listener_name_without_api_gateway_api_is_refused():
    with pytest.raises(spec.SpecError, match="gateway.section_name"):
        spec.validate(dict(BASE, api="istio", gateway={"name": "gw", "section_name": "http"}), "x")


def test_fields_the_server_drops_are_named():
    sent = {"spec": {"rules": [{"retry": {"attempts": 3}, "backendRefs": [{"name": "a", "port": 80}]}],
                     "hostnames": []}}
    returned = {"spec": {"rules": [{"backendRefs": [{"name": "a", "port": 80, "kind": "Service"}]}]}}
    assert dropped_fields(sent, returned) == ["spec.rules[0].retry"]
    assert dropped_fields(returned, returned) == []
