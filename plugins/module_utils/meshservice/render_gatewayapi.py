# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering a meshservice as Kubernetes Gateway API objects (``api: gateway-api``): pure and deterministic.

The Gateway API routes to Services, not to subsets: each subset becomes a Service
of its own (``<service>-<subset>``, the base selector plus the subset's labels),
and a weighted canary is an HTTPRoute whose backendRefs are those Services. A
Gateway parent carries the meshservice's hosts as hostnames; without hosts the
route is also (or only, without a gateway) a mesh route of the Service (GAMMA).
Traffic policy, which the Gateway API has no field for, goes into one
DestinationRule per backend Service. Options the Gateway API cannot express are
refused by validation (``spec.gateway_api_problems``), never dropped.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.gatewayapi_model import (
    GROUP, NAMESPACE_NAME_LABEL)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.hosts import DEFAULT_DOMAIN
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import render
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.spec import duration_seconds

GATEWAY_API = GROUP + "/v1"
# Istio's server protocols as listener protocols.
LISTENER_PROTOCOLS = {"HTTP": "HTTP", "HTTP2": "HTTP", "GRPC": "HTTP", "HTTPS": "HTTPS", "TLS": "TLS", "TCP": "TCP"}
MATCH_TYPES = {"exact": "Exact", "prefix": "PathPrefix", "regex": "RegularExpression"}
VALUE_MATCH_TYPES = {"exact": "Exact", "regex": "RegularExpression"}


def subset_service_name(params: Dict[str, Any], subset: str) -> str:
    return "%s-%s" % (render.service_name(params), subset)


def render_subset_services(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One Service per subset: the meshservice's selector narrowed by the subset's labels."""
    base = render.render_service(params)
    services = []
    for subset in params["subsets"]:
        service = render.render_service(params)
        service["metadata"]["name"] = subset_service_name(params, subset["name"])
        selector = dict(base["spec"].get("selector") or {})
        selector.update({str(k): str(v) for k, v in (subset.get("labels") or {}).items()})
        service["spec"]["selector"] = selector
        services.append(service)
    return services


def render_gateway(params: Dict[str, Any]) -> Dict[str, Any]:
    """A Gateway API Gateway: one listener per server host (a listener has one hostname)."""
    gateway = params["gateway"]
    namespace, name = render.gateway_ref(params).split("/")
    listeners = []
    for server in gateway.get("servers") or [{"port": 80, "protocol": "HTTP"}]:
        protocol = LISTENER_PROTOCOLS[server.get("protocol") or "HTTP"]
        hosts = [host.rpartition("/")[2] for host in server.get("hosts") or params["hosts"]] or ["*"]
        base_name = server.get("name") or "%s-%d" % (protocol.lower(), server["port"])
        for index, host in enumerate(hosts):
            listener: Dict[str, Any] = {"name": base_name if len(hosts) == 1 else "%s-%d" % (base_name, index),
                                        "port": server["port"], "protocol": protocol}
            if host != "*":
                listener["hostname"] = host
            if server.get("tls_mode") == "PASSTHROUGH":
                listener["tls"] = {"mode": "Passthrough"}
            elif server.get("credential_name"):
                listener["tls"] = {"mode": "Terminate", "certificateRefs": [{"name": server["credential_name"]}]}
            if namespace != params["namespace"]:
                listener["allowedRoutes"] = {"namespaces": {"from": "Selector", "selector": {
                    "matchLabels": {NAMESPACE_NAME_LABEL: params["namespace"]}}}}
            listeners.append(listener)
    return {"apiVersion": GATEWAY_API, "kind": "Gateway", "metadata": render.metadata_for(name, namespace, params),
            "spec": {"gatewayClassName": gateway.get("class_name") or "istio", "listeners": listeners}}


def _parent_refs(params: Dict[str, Any], port: Optional[int]) -> List[Dict[str, Any]]:
    parents: List[Dict[str, Any]] = []
    gateway = render.gateway_ref(params)
    if gateway:
        namespace, name = gateway.split("/")
        parent = {"group": GROUP, "kind": "Gateway", "name": name, "namespace": namespace}
        if (params["gateway"] or {}).get("section_name"):
            parent["sectionName"] = params["gateway"]["section_name"]
        parents.append(parent)
    if not gateway or (params.get("mesh") and not params["hosts"]):
        parent = {"group": "", "kind": "Service", "name": render.service_name(params)}
        if port:
            parent["port"] = port
        parents.append(parent)
    return parents


def _backend(params: Dict[str, Any], target: Dict[str, Any], port: Optional[int]) -> Dict[str, Any]:
    """A route target as a backendRef: a subset's Service, a Service by short name or FQDN, or an Istio Hostname."""
    host = target.get("host")
    namespace = None
    if target.get("subset") and not host:
        name = subset_service_name(params, target["subset"])
    elif not host:
        name = render.service_name(params)
    else:
        name, namespace = service_of_host(host, params["namespace"])
        if name is None:
            backend: Dict[str, Any] = {"group": "networking.istio.io", "kind": "Hostname", "name": host}
            if target.get("port"):
                backend["port"] = target["port"]
            return backend
    backend = {"name": name}
    if namespace and namespace != params["namespace"]:
        backend["namespace"] = namespace
    if target.get("port") or (port and not host):
        backend["port"] = target.get("port") or port
    return backend


def service_of_host(host: str, namespace: str) -> Tuple[Optional[str], Optional[str]]:
    """(name, namespace) of a Service host, short or the FQDN; (None, None) otherwise: a dotted host is literal, as
    Istio reads it (``reviews.default`` is not the Service), and becomes an Istio Hostname backend."""
    labels = host.split(".")
    if len(labels) == 1:
        return host, namespace
    if len(labels) > 3 and labels[2] == "svc" and ".".join(labels[3:]) == DEFAULT_DOMAIN:
        return labels[0], labels[1]
    return None, None


def _match(match: Dict[str, Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    uri = {k: v for k, v in (match.get("uri") or {}).items() if v is not None}
    for kind, value in uri.items():
        result["path"] = {"type": MATCH_TYPES[kind], "value": value}
    for field, key in (("headers", "headers"), ("query_params", "queryParams")):
        entries = []
        for name, value in sorted((match.get(field) or {}).items()):
            kind, text = next(iter(value.items())) if isinstance(value, dict) else ("exact", value)
            entries.append({"name": name, "type": VALUE_MATCH_TYPES[kind], "value": str(text)})
        if entries:
            result[key] = entries
    if (match.get("method") or {}).get("exact"):
        result["method"] = match["method"]["exact"]
    return result


def _header_modifier(modifier: Dict[str, Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for operation in ("set", "add"):
        if modifier.get(operation):
            result[operation] = [{"name": str(k), "value": str(v)} for k, v in sorted(modifier[operation].items())]
    if modifier.get("remove"):
        result["remove"] = list(modifier["remove"])
    return result


def _filters(params: Dict[str, Any], route: Dict[str, Any], port: Optional[int]) -> List[Dict[str, Any]]:
    filters: List[Dict[str, Any]] = []
    redirect = route.get("redirect") or {}
    if redirect:
        spec: Dict[str, Any] = {}
        if redirect.get("scheme"):
            spec["scheme"] = redirect["scheme"]
        if redirect.get("authority"):
            spec["hostname"] = redirect["authority"]
        if redirect.get("uri"):
            spec["path"] = {"type": "ReplaceFullPath", "replaceFullPath": redirect["uri"]}
        if redirect.get("redirect_code"):
            spec["statusCode"] = redirect["redirect_code"]
        filters.append({"type": "RequestRedirect", "requestRedirect": spec})
    rewrite = route.get("rewrite") or {}
    if rewrite:
        spec = {}
        if rewrite.get("authority"):
            spec["hostname"] = rewrite["authority"]
        if rewrite.get("uri"):
            prefixes = [(m.get("uri") or {}).get("prefix") for m in route.get("match") or []]
            if prefixes and all(prefixes):
                spec["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": rewrite["uri"]}
            else:
                spec["path"] = {"type": "ReplaceFullPath", "replaceFullPath": rewrite["uri"]}
        filters.append({"type": "URLRewrite", "urlRewrite": spec})
    headers = route.get("headers") or {}
    for direction, kind, key in (("request", "RequestHeaderModifier", "requestHeaderModifier"),
                                 ("response", "ResponseHeaderModifier", "responseHeaderModifier")):
        if headers.get(direction):
            filters.append({"type": kind, key: _header_modifier(headers[direction])})
    mirror = route.get("mirror") or {}
    if mirror:
        spec = {"backendRef": _backend(params, mirror, port)}
        spec["backendRef"].setdefault("port", port)
        if mirror.get("percentage") is not None:
            percentage = float(mirror["percentage"])
            spec.update({"percent": int(percentage)} if percentage.is_integer() else
                        {"fraction": {"numerator": int(round(percentage * 1000)), "denominator": 100000}})
        filters.append({"type": "RequestMirror", "requestMirror": spec})
    cors = route.get("cors") or {}
    if cors:
        spec = {"allowOrigins": [origin["exact"] for origin in cors.get("allow_origins") or []]}
        for option, key in (("allow_methods", "allowMethods"), ("allow_headers", "allowHeaders"),
                            ("expose_headers", "exposeHeaders")):
            if cors.get(option):
                spec[key] = list(cors[option])
        if cors.get("max_age"):
            spec["maxAge"] = int(duration_seconds(cors["max_age"]))
        if cors.get("allow_credentials") is not None:
            spec["allowCredentials"] = cors["allow_credentials"]
        filters.append({"type": "CORS", "cors": {k: v for k, v in spec.items() if v}})
    return filters


def _rule(params: Dict[str, Any], route: Dict[str, Any], port: Optional[int]) -> Dict[str, Any]:
    rule: Dict[str, Any] = {}
    if route.get("name"):
        rule["name"] = route["name"]
    if route.get("match"):
        rule["matches"] = [_match(match) for match in route["match"]]
    filters = _filters(params, route, port)
    if filters:
        rule["filters"] = filters
    if not route.get("redirect"):
        rule["backendRefs"] = []
        for target in route.get("destinations") or [{}]:
            backend = _backend(params, target, port)
            if target.get("weight") is not None:
                backend["weight"] = target["weight"]
            rule["backendRefs"].append(backend)
    timeouts = {}
    if route.get("timeout"):
        timeouts["request"] = route["timeout"]
    retries = route.get("retries") or {}
    if retries.get("per_try_timeout"):
        timeouts["backendRequest"] = retries["per_try_timeout"]
    if timeouts:
        rule["timeouts"] = timeouts
    if retries:
        # Gateway API's retry (GEP-1731); the write refuses it where the served CRD drops the field.
        retry: Dict[str, Any] = {"attempts": retries["attempts"]}
        if retries.get("retry_on"):
            retry["codes"] = [int(code) for code in retries["retry_on"].split(",")]
        rule["retry"] = retry
    return rule


def render_http_route(params: Dict[str, Any]) -> Dict[str, Any]:
    port = params["ports"][0]["port"] if params["ports"] else None
    spec: Dict[str, Any] = {"parentRefs": _parent_refs(params, port)}
    if params["hosts"] and render.gateway_ref(params):
        spec["hostnames"] = list(params["hosts"])
    routes = params["routes"] or render.default_routes(params)
    spec["rules"] = [_rule(params, route, port) for route in routes]
    return {"apiVersion": GATEWAY_API, "kind": "HTTPRoute",
            "metadata": render.metadata_for(params["name"], params["namespace"], params), "spec": spec}


def render_policies(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The traffic policy of each backend Service, as the DestinationRules the Gateway API has no field for."""
    policies = []
    if params.get("traffic_policy"):
        rule = render.render_destination_rule(dict(params, subsets=[]))
        policies.append(rule)
    for subset in params["subsets"]:
        policy = subset.get("traffic_policy") or params.get("traffic_policy")
        if policy:
            rule = render.render_destination_rule(dict(params, subsets=[], traffic_policy=policy))
            rule["metadata"]["name"] = "%s-%s" % (params["name"], subset["name"])
            rule["spec"]["host"] = subset_service_name(params, subset["name"])
            policies.append(rule)
    return policies


def render_objects(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every object the meshservice owns under the Gateway API, in apply order."""
    objects: List[Dict[str, Any]] = []
    if params["ports"]:
        objects.append(render.render_service(params))
        objects += render_subset_services(params)
    if params.get("gateway") and params["gateway"].get("create"):
        objects.append(render_gateway(params))
    objects += render_policies(params)
    if params["ports"]:
        objects.append(render_http_route(params))
    for index, egress in enumerate(params["egress"]):
        objects += render.render_egress(params, index, egress)
    return objects
