# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering a meshservice into Kubernetes and Istio objects: pure and deterministic.

Input is one validated meshservice (``meshservice_spec.validate``); output is a
list of manifests, every one labelled as ours and with the meshservice's name,
so that apply, prune and the integrity engine can find them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.spec import OWNER, camel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import (
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, object_identity)

MESHSERVICE_LABEL = "meshops.io/meshservice"
MESHSERVICE_NAMESPACE_LABEL = "meshops.io/meshservice-namespace"
ISTIO_API = "networking.istio.io/v1"


def camel_tree(value: Any) -> Any:
    """Options -> Istio fields: camelCase keys, None dropped."""
    if isinstance(value, dict):
        return {camel(k): camel_tree(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [camel_tree(item) for item in value]
    return value


def owned_labels(params: Dict[str, Any]) -> Dict[str, str]:
    labels = {str(k): str(v) for k, v in (params.get("labels") or {}).items()}
    labels.update({MANAGED_BY_LABEL: MANAGED_BY_VALUE, MESHSERVICE_LABEL: params["name"],
                   MESHSERVICE_NAMESPACE_LABEL: params["namespace"]})
    return labels


def meshservice_of(obj: Dict[str, Any]) -> Tuple[str, str]:
    """(namespace, name) of the meshservice an object was rendered from, by its labels."""
    labels = obj["metadata"].get("labels") or {}
    return labels.get(MESHSERVICE_NAMESPACE_LABEL, ""), labels.get(MESHSERVICE_LABEL, "")


def metadata_for(name: str, namespace: str, params: Dict[str, Any]) -> Dict[str, Any]:
    metadata: Dict[str, Any] = {"name": name, "namespace": namespace, "labels": owned_labels(params)}
    # Owner references cannot cross namespaces: a Gateway created elsewhere is cleaned up by the reconcile.
    if params.get(OWNER) and namespace == params["namespace"]:
        metadata["ownerReferences"] = [params[OWNER]]
    return metadata


def service_name(params: Dict[str, Any]) -> str:
    return params.get("service_name") or params["name"]


def gateway_ref(params: Dict[str, Any]) -> Optional[str]:
    gateway = params.get("gateway")
    if not gateway:
        return None
    return "%s/%s" % (gateway.get("namespace") or params["namespace"], gateway.get("name") or params["name"] + "-gateway")


def render_service(params: Dict[str, Any]) -> Dict[str, Any]:
    ports = []
    for port in params["ports"]:
        protocol = port["protocol"].lower()
        entry = {"name": port.get("name") or "%s-%d" % (protocol, port["port"]), "port": port["port"],
                 "protocol": "UDP" if protocol == "udp" else "TCP"}
        if port.get("target_port") is not None:
            entry["targetPort"] = port["target_port"]
        ports.append(entry)
    spec: Dict[str, Any] = {"ports": ports}
    selector = params.get("selector") if params.get("selector") is not None else {"app": service_name(params)}
    if selector:
        spec["selector"] = {str(k): str(v) for k, v in selector.items()}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata_for(service_name(params), params["namespace"], params),
            "spec": spec}


def render_gateway(params: Dict[str, Any]) -> Dict[str, Any]:
    gateway = params["gateway"]
    namespace, name = gateway_ref(params).split("/")
    servers = []
    for server in gateway.get("servers") or [{"port": 80, "protocol": "HTTP"}]:
        protocol = server.get("protocol") or "HTTP"
        entry: Dict[str, Any] = {
            "port": {"number": server["port"], "name": server.get("name") or "%s-%d" % (protocol.lower(), server["port"]),
                     "protocol": protocol},
            "hosts": server.get("hosts") or ["%s/%s" % (params["namespace"], host) for host in params["hosts"]],
        }
        tls = {"httpsRedirect": True} if server.get("https_redirect") else {}
        if server.get("tls_mode"):
            tls["mode"] = server["tls_mode"]
        if server.get("credential_name"):
            tls["credentialName"] = server["credential_name"]
        if tls:
            entry["tls"] = tls
        servers.append(entry)
    selector = {str(k): str(v) for k, v in (gateway.get("selector") or {}).items()}
    return {"apiVersion": ISTIO_API, "kind": "Gateway", "metadata": metadata_for(name, namespace, params),
            "spec": {"selector": selector, "servers": servers}}


def _destination(params: Dict[str, Any], target: Dict[str, Any], default_port: Optional[int]) -> Dict[str, Any]:
    destination: Dict[str, Any] = {"host": target.get("host") or service_name(params)}
    if target.get("subset"):
        destination["subset"] = target["subset"]
    port = target.get("port") or (None if target.get("host") else default_port)
    if port:
        destination["port"] = {"number": port}
    return destination


def _string_match(match: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in match.items() if v is not None}


def _match(match: Dict[str, Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    if match.get("uri"):
        result["uri"] = _string_match(match["uri"])
    if match.get("method"):
        result["method"] = _string_match(match["method"])
    for field, key in (("headers", "headers"), ("query_params", "queryParams")):
        if match.get(field):
            # A bare string means exact; a mapping is passed through ({prefix: ...}, {regex: ...}).
            result[key] = {name: value if isinstance(value, dict) else {"exact": str(value)}
                           for name, value in sorted(match[field].items())}
    if match.get("source_labels"):
        result["sourceLabels"] = {str(k): str(v) for k, v in match["source_labels"].items()}
    if match.get("ignore_uri_case") is not None:
        result["ignoreUriCase"] = match["ignore_uri_case"]
    return result


def _percent(value: Optional[float]) -> Optional[Dict[str, float]]:
    return None if value is None else {"value": float(value)}


def _http_route(params: Dict[str, Any], route: Dict[str, Any], default_port: Optional[int]) -> Dict[str, Any]:
    rule: Dict[str, Any] = {}
    if route.get("name"):
        rule["name"] = route["name"]
    if route.get("match"):
        rule["match"] = [_match(match) for match in route["match"]]
    if route.get("redirect"):
        rule["redirect"] = camel_tree(route["redirect"])
    else:
        targets = route.get("destinations") or [{}]
        rule["route"] = []
        for target in targets:
            entry: Dict[str, Any] = {"destination": _destination(params, target, default_port)}
            if target.get("weight") is not None:
                entry["weight"] = target["weight"]
            rule["route"].append(entry)
    if route.get("rewrite"):
        rule["rewrite"] = camel_tree(route["rewrite"])
    if route.get("timeout"):
        rule["timeout"] = route["timeout"]
    if route.get("retries"):
        rule["retries"] = camel_tree(route["retries"])
    fault = route.get("fault") or {}
    if fault:
        rule["fault"] = {}
        if fault.get("delay"):
            rule["fault"]["delay"] = {"fixedDelay": fault["delay"]["fixed_delay"],
                                      "percentage": _percent(fault["delay"].get("percentage") or 100.0)}
        if fault.get("abort"):
            rule["fault"]["abort"] = {"httpStatus": fault["abort"]["http_status"],
                                      "percentage": _percent(fault["abort"].get("percentage") or 100.0)}
    if route.get("mirror"):
        mirror = route["mirror"]
        rule["mirror"] = _destination(params, mirror, default_port)
        if mirror.get("percentage") is not None:
            rule["mirrorPercentage"] = _percent(mirror["percentage"])
    if route.get("cors"):
        cors = dict(route["cors"])
        origins = cors.pop("allow_origins", None)
        rule["corsPolicy"] = camel_tree(cors)
        if origins:
            rule["corsPolicy"]["allowOrigins"] = [_string_match(origin) for origin in origins]
    if route.get("headers"):
        rule["headers"] = camel_tree(route["headers"])
    return rule


def default_routes(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """No routes given: everything to the service, split by subset weights when they are set."""
    weighted = [subset for subset in params["subsets"] if subset.get("weight") is not None]
    if weighted:
        return [{"destinations": [{"subset": s["name"], "weight": s["weight"]} for s in weighted]}]
    return [{}]


def render_virtual_service(params: Dict[str, Any]) -> Dict[str, Any]:
    default_port = params["ports"][0]["port"] if len(params["ports"]) == 1 else None
    if default_port is None and params["ports"]:
        default_port = params["ports"][0]["port"]
    hosts = params["hosts"] or [service_name(params)]
    spec: Dict[str, Any] = {"hosts": hosts}
    gateway = gateway_ref(params)
    if gateway:
        spec["gateways"] = [gateway] + (["mesh"] if params.get("mesh") and not params["hosts"] else [])
    routes = params["routes"] or default_routes(params)
    spec["http"] = [_http_route(params, route, default_port) for route in routes]
    return {"apiVersion": ISTIO_API, "kind": "VirtualService",
            "metadata": metadata_for(params["name"], params["namespace"], params), "spec": spec}


def render_destination_rule(params: Dict[str, Any]) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"host": service_name(params)}
    if params.get("traffic_policy"):
        spec["trafficPolicy"] = camel_tree(params["traffic_policy"])
    if params["subsets"]:
        spec["subsets"] = []
        for subset in params["subsets"]:
            entry: Dict[str, Any] = {"name": subset["name"]}
            if subset.get("labels"):
                entry["labels"] = {str(k): str(v) for k, v in subset["labels"].items()}
            if subset.get("traffic_policy"):
                entry["trafficPolicy"] = camel_tree(subset["traffic_policy"])
            spec["subsets"].append(entry)
    return {"apiVersion": ISTIO_API, "kind": "DestinationRule",
            "metadata": metadata_for(params["name"], params["namespace"], params), "spec": spec}


def render_egress(params: Dict[str, Any], index: int, egress: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A ServiceEntry; through an egress gateway also the Gateway and the VirtualService that steer to it."""
    name = egress.get("name") or "%s-egress-%d" % (params["name"], index)
    ports = [{"number": p["number"], "name": p.get("name") or "%s-%d" % (p["protocol"].lower(), p["number"]),
              "protocol": p["protocol"]} for p in egress["ports"]]
    objects = [{"apiVersion": ISTIO_API, "kind": "ServiceEntry", "metadata": metadata_for(name, params["namespace"], params),
                "spec": {"hosts": egress["hosts"], "ports": ports, "resolution": egress["resolution"],
                         "location": egress["location"]}}]
    through = egress.get("egress_gateway")
    if through:
        gateway_key = "%s/%s" % (through["namespace"], through["name"])
        if through.get("create"):
            objects.append({"apiVersion": ISTIO_API, "kind": "Gateway",
                            "metadata": metadata_for(through["name"], through["namespace"], params),
                            "spec": {"selector": {str(k): str(v) for k, v in through["selector"].items()},
                                     "servers": [{"port": {"number": ports[0]["number"], "name": ports[0]["name"],
                                                           "protocol": ports[0]["protocol"]},
                                                  "hosts": egress["hosts"],
                                                  **({"tls": {"mode": "PASSTHROUGH"}} if ports[0]["protocol"] == "TLS" else {})}]}})
        gateway_service = "%s.%s.svc.cluster.local" % (through["service"], through["namespace"])
        number = ports[0]["number"]
        if ports[0]["protocol"] == "TLS":
            rules = {"tls": [
                {"match": [{"gateways": ["mesh"], "port": number, "sniHosts": egress["hosts"]}],
                 "route": [{"destination": {"host": gateway_service, "port": {"number": number}}}]},
                {"match": [{"gateways": [gateway_key], "port": number, "sniHosts": egress["hosts"]}],
                 "route": [{"destination": {"host": egress["hosts"][0], "port": {"number": number}}}]}]}
        else:
            rules = {"http": [
                {"match": [{"gateways": ["mesh"], "port": number}],
                 "route": [{"destination": {"host": gateway_service, "port": {"number": number}}}]},
                {"match": [{"gateways": [gateway_key], "port": number}],
                 "route": [{"destination": {"host": egress["hosts"][0], "port": {"number": number}}}]}]}
        objects.append({"apiVersion": ISTIO_API, "kind": "VirtualService",
                        "metadata": metadata_for(name, params["namespace"], params),
                        "spec": dict({"hosts": egress["hosts"], "gateways": ["mesh", gateway_key]}, **rules)})
    return objects


def render(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every object the meshservice owns, in apply order (Service first, routes last)."""
    objects: List[Dict[str, Any]] = []
    if params["ports"]:
        objects.append(render_service(params))
    if params.get("gateway") and params["gateway"].get("create"):
        objects.append(render_gateway(params))
    if params["subsets"] or params.get("traffic_policy"):
        objects.append(render_destination_rule(params))
    if params["ports"]:
        objects.append(render_virtual_service(params))
    for index, egress in enumerate(params["egress"]):
        objects += render_egress(params, index, egress)
    return objects


def identity(obj: Dict[str, Any]) -> str:
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return object_identity(obj["kind"], group, obj["metadata"]["namespace"], obj["metadata"]["name"])
