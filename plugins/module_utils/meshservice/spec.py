# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a meshservice is: its option spec, the MeshService custom-resource form, validation.

The same spec validates the module's own parameters and every entry of the
batch form (``meshservices:``) or a ``definition:``, so that a bad entry is
refused with the entry and field named before anything is written.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

PROTOCOLS = ["HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TCP", "TLS", "MONGO", "MYSQL", "REDIS", "UDP"]
STRING_MATCH = dict(exact=dict(type="str"), prefix=dict(type="str"), regex=dict(type="str"))
PERCENT = dict(type="float")
DURATION = re.compile(r"^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

PORT_SPEC = dict(
    port=dict(type="int", required=True),
    target_port=dict(type="raw"),
    name=dict(type="str"),
    protocol=dict(type="str", default="HTTP", choices=PROTOCOLS),
)

TRAFFIC_POLICY_SPEC = dict(
    load_balancer=dict(type="dict", options=dict(
        simple=dict(type="str", choices=["UNSPECIFIED", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"]),
        consistent_hash=dict(type="dict", options=dict(
            http_header_name=dict(type="str"),
            http_cookie=dict(type="dict", options=dict(name=dict(type="str", required=True), ttl=dict(type="str"),
                                                       path=dict(type="str"))),
            use_source_ip=dict(type="bool"),
            http_query_parameter_name=dict(type="str"),
            minimum_ring_size=dict(type="int"),
        ), mutually_exclusive=[["http_header_name", "http_cookie", "use_source_ip", "http_query_parameter_name"]]),
    ), mutually_exclusive=[["simple", "consistent_hash"]]),
    connection_pool=dict(type="dict", options=dict(
        tcp=dict(type="dict", options=dict(max_connections=dict(type="int"), connect_timeout=dict(type="str"))),
        http=dict(type="dict", options=dict(
            http1_max_pending_requests=dict(type="int"), http2_max_requests=dict(type="int"),
            max_requests_per_connection=dict(type="int"), max_retries=dict(type="int"),
            idle_timeout=dict(type="str"))),
    )),
    outlier_detection=dict(type="dict", options=dict(
        consecutive_5xx_errors=dict(type="int"), consecutive_gateway_errors=dict(type="int"),
        interval=dict(type="str"), base_ejection_time=dict(type="str"),
        max_ejection_percent=dict(type="int"), min_health_percent=dict(type="int"),
    )),
    tls=dict(type="dict", options=dict(
        mode=dict(type="str", choices=["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]),
        credential_name=dict(type="str"), sni=dict(type="str"))),
)

ROUTE_SPEC = dict(
    name=dict(type="str"),
    match=dict(type="list", elements="dict", options=dict(
        uri=dict(type="dict", options=STRING_MATCH),
        headers=dict(type="dict"),
        query_params=dict(type="dict"),
        method=dict(type="dict", options=STRING_MATCH),
        source_labels=dict(type="dict"),
        ignore_uri_case=dict(type="bool"),
    )),
    destinations=dict(type="list", elements="dict", options=dict(
        host=dict(type="str"), subset=dict(type="str"), port=dict(type="int"), weight=dict(type="int"))),
    timeout=dict(type="str"),
    retries=dict(type="dict", options=dict(attempts=dict(type="int", required=True), per_try_timeout=dict(type="str"),
                                           retry_on=dict(type="str"))),
    fault=dict(type="dict", options=dict(
        delay=dict(type="dict", options=dict(fixed_delay=dict(type="str", required=True), percentage=PERCENT)),
        abort=dict(type="dict", options=dict(http_status=dict(type="int", required=True), percentage=PERCENT)),
    )),
    mirror=dict(type="dict", options=dict(host=dict(type="str"), subset=dict(type="str"), port=dict(type="int"),
                                          percentage=PERCENT)),
    redirect=dict(type="dict", options=dict(uri=dict(type="str"), authority=dict(type="str"),
                                            redirect_code=dict(type="int"), scheme=dict(type="str"))),
    rewrite=dict(type="dict", options=dict(uri=dict(type="str"), authority=dict(type="str"))),
    cors=dict(type="dict", options=dict(
        allow_origins=dict(type="list", elements="dict", options=STRING_MATCH),
        allow_methods=dict(type="list", elements="str"), allow_headers=dict(type="list", elements="str"),
        expose_headers=dict(type="list", elements="str"), max_age=dict(type="str"),
        allow_credentials=dict(type="bool"))),
    headers=dict(type="dict", options=dict(
        request=dict(type="dict", options=dict(set=dict(type="dict"), add=dict(type="dict"),
                                               remove=dict(type="list", elements="str"))),
        response=dict(type="dict", options=dict(set=dict(type="dict"), add=dict(type="dict"),
                                                remove=dict(type="list", elements="str"))))),
)

MESHSERVICE_SPEC: Dict[str, Any] = dict(
    name=dict(type="str", required=True),
    api=dict(type="str", default="istio", choices=["istio", "gateway-api"]),
    namespace=dict(type="str", default="default"),
    service_name=dict(type="str"),
    hosts=dict(type="list", elements="str", default=[]),
    ports=dict(type="list", elements="dict", default=[], options=PORT_SPEC),
    selector=dict(type="dict"),
    labels=dict(type="dict", default={}),
    mesh=dict(type="bool", default=True),
    gateway=dict(type="dict", options=dict(
        name=dict(type="str"),
        namespace=dict(type="str"),
        create=dict(type="bool", default=False),
        selector=dict(type="dict", default={"istio": "ingressgateway"}),
        class_name=dict(type="str", default="istio"),
        section_name=dict(type="str"),
        servers=dict(type="list", elements="dict", options=dict(
            port=dict(type="int", required=True),
            name=dict(type="str"),
            protocol=dict(type="str", default="HTTP", choices=["HTTP", "HTTPS", "HTTP2", "GRPC", "TCP", "TLS"]),
            hosts=dict(type="list", elements="str"),
            tls_mode=dict(type="str", choices=["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL"]),
            credential_name=dict(type="str"),
            https_redirect=dict(type="bool", default=False),
        )),
    )),
    subsets=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True), labels=dict(type="dict", default={}),
        weight=dict(type="int"), traffic_policy=dict(type="dict", options=TRAFFIC_POLICY_SPEC))),
    traffic_policy=dict(type="dict", options=TRAFFIC_POLICY_SPEC),
    routes=dict(type="list", elements="dict", default=[], options=ROUTE_SPEC),
    egress=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str"),
        hosts=dict(type="list", elements="str", required=True),
        ports=dict(type="list", elements="dict", default=[{"number": 443, "name": "tls", "protocol": "TLS"}],
                   options=dict(number=dict(type="int", required=True), name=dict(type="str"),
                                protocol=dict(type="str", default="TLS", choices=PROTOCOLS))),
        resolution=dict(type="str", default="DNS", choices=["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"]),
        location=dict(type="str", default="MESH_EXTERNAL", choices=["MESH_EXTERNAL", "MESH_INTERNAL"]),
        egress_gateway=dict(type="dict", options=dict(name=dict(type="str", required=True),
                                                      namespace=dict(type="str", default="istio-system"),
                                                      service=dict(type="str", default="istio-egressgateway"),
                                                      selector=dict(type="dict", default={"istio": "egressgateway"}),
                                                      create=dict(type="bool", default=True))),
    )),
)


def duration_seconds(value: str) -> float:
    """A Go-style duration (``1h30m``, ``250ms``) in seconds."""
    return sum(float(number) * SECONDS[unit] for number, unit in DURATION_PART.findall(value))


class SpecError(ValueError):
    """An invalid meshservice; the message names the entry and the field."""


# camelCase names whose snake_case is not mechanical (a digit run inside the word).
IRREGULAR_CAMEL = {"consecutive_5xx_errors": "consecutive5xxErrors", "http1_max_pending_requests": "http1MaxPendingRequests",
                   "http2_max_requests": "http2MaxRequests"}
_IRREGULAR_SNAKE = {camel: snake for snake, camel in IRREGULAR_CAMEL.items()}


def camel(key: str) -> str:
    """An option name as the MeshService resource (and Istio) spells it."""
    if key in IRREGULAR_CAMEL:
        return IRREGULAR_CAMEL[key]
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(key: str) -> str:
    if key in _IRREGULAR_SNAKE:
        return _IRREGULAR_SNAKE[key]
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


# MeshService custom-resource keys whose values are user data (label maps), not spec fields.
_OPAQUE = {"labels", "selector", "headers", "query_params", "source_labels", "set", "add"}


def snake_keys(value: Any, parent: str = "") -> Any:
    """camelCase MeshService spec -> the module's snake_case options (label maps left alone)."""
    if isinstance(value, dict):
        if parent in _OPAQUE:
            return value
        return {_snake(k): snake_keys(v, _snake(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(item, parent) for item in value]
    return value


def without_none(value: Any) -> Any:
    """Drop unset options (None) at every depth: AnsibleModule fills absent suboptions with None."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


MESHSERVICE_API_VERSION = "mesh.istio.operator/v1alpha1"
# Not an option: the MeshService resource an entry was read from, carried through validation so
# that the objects rendered in its namespace name it as their owner (Kubernetes garbage collection
# then removes them with it, and an Ansible operator watches them as its dependents).
OWNER = "_owner_reference"


def owner_reference(definition: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The owner reference to a MeshService read from the API server (it has a uid); None for a file."""
    metadata = definition.get("metadata") or {}
    if not metadata.get("uid"):
        return None
    return {"apiVersion": definition.get("apiVersion") or MESHSERVICE_API_VERSION, "kind": "MeshService",
            "name": metadata["name"], "uid": metadata["uid"], "controller": True}


def from_definition(definition: Dict[str, Any], where: str) -> Dict[str, Any]:
    """A MeshService object (apiVersion mesh.istio.operator/v1alpha1) as meshservice options."""
    if not isinstance(definition, dict) or definition.get("kind") != "MeshService":
        raise SpecError("%s: expected a MeshService object (kind: MeshService)" % where)
    metadata = definition.get("metadata") or {}
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise SpecError("%s.metadata.name: is required" % where)
    options = snake_keys(definition.get("spec") or {})
    if not isinstance(options, dict):
        raise SpecError("%s.spec: expected a mapping" % where)
    options["name"] = metadata["name"]
    if metadata.get("namespace") or options.get("namespace"):
        options["namespace"] = metadata.get("namespace") or options["namespace"]
    labels = metadata.get("labels") or {}
    options["labels"] = dict(labels, **(options.get("labels") or {}))
    owner = owner_reference(definition)
    if owner:
        options[OWNER] = owner
    return options


def compose(defined: Dict[str, Any], given: Dict[str, Any], where: str) -> Dict[str, Any]:
    """A definition's options with the task-level ones filling in what it leaves out, as kubernetes.core's
    ``definition`` and ``namespace`` compose; a setting given both ways with different values is an error."""
    clashes = sorted(key for key in given if key in defined and _differs(defined[key], given[key]))
    if clashes:
        raise SpecError("; ".join("%s: %s is %r in the definition and %r as a task option: give it once"
                                  % (where, key, defined[key], given[key]) for key in clashes))
    return _fill(defined, given)


def _differs(defined: Any, given: Any) -> bool:
    if isinstance(defined, dict) and isinstance(given, dict):
        return any(key in given and given[key] is not None and _differs(value, given[key])
                   for key, value in defined.items())
    return defined is not None and given is not None and defined != given


def _fill(defined: Dict[str, Any], given: Dict[str, Any]) -> Dict[str, Any]:
    merged = dict(defined)
    for key, value in given.items():
        if merged.get(key) is None:
            merged[key] = value
        elif isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = _fill(merged[key], value)
    return merged


def _gateway_shorthand(options: Dict[str, Any]) -> None:
    """``gateway: namespace/name`` (or ``name``), as MeshService resources may write it."""
    gateway = options.get("gateway")
    if isinstance(gateway, str) and gateway.strip():
        namespace, _slash, name = gateway.strip().rpartition("/")
        options["gateway"] = dict({"name": name}, **({"namespace": namespace} if namespace else {}))


def validate(options: Dict[str, Any], where: str) -> Dict[str, Any]:
    """Type-check one meshservice against the spec and the rules no spec can express."""
    options = dict(options)
    _gateway_shorthand(options)
    owner = options.pop(OWNER, None)
    result = ArgumentSpecValidator(MESHSERVICE_SPEC).validate(options)
    if result.error_messages:
        raise SpecError("%s: %s" % (where, "; ".join(result.error_messages)))
    params = result.validated_parameters
    _check_semantics(params, where)
    if owner:
        params[OWNER] = owner
    return params


def _check_semantics(params: Dict[str, Any], where: str) -> None:
    problems: List[str] = []
    for field in ("name", "service_name"):
        if params.get(field) and not NAME.match(params[field]):
            problems.append("%s: %r is not a valid Kubernetes name (lowercase letters, digits, '-')" % (field, params[field]))
    for index, port in enumerate(params["ports"]):
        if not 1 <= port["port"] <= 65535:
            problems.append("ports[%d].port: %d is not between 1 and 65535" % (index, port["port"]))
    subset_names = [subset["name"] for subset in params["subsets"]]
    if len(set(subset_names)) != len(subset_names):
        problems.append("subsets: subset names must be unique (%s)" % ", ".join(subset_names))
    weights = [subset["weight"] for subset in params["subsets"] if subset.get("weight") is not None]
    if weights and sum(weights) != 100:
        problems.append("subsets[].weight: weights sum to %d, not 100" % sum(weights))
    for index, route in enumerate(params["routes"]):
        problems += _route_problems(params, route, "routes[%d]" % index, subset_names)
    if not params["ports"] and (params["routes"] or params["hosts"] or params["subsets"]):
        problems.append("ports: at least one port is required to route traffic to the service")
    gateway = params.get("gateway") or {}
    if gateway and not gateway.get("name") and not gateway.get("create"):
        problems.append("gateway.name: required unless gateway.create is true")
    if params["api"] == "gateway-api":
        problems += gateway_api_problems(params)
    elif gateway.get("section_name"):
        problems.append("gateway.section_name: names a Gateway API listener; it needs api: gateway-api")
    if problems:
        raise SpecError("%s: %s" % (where, "; ".join(problems)))


def _route_problems(params, route, path, subset_names) -> List[str]:
    problems = []
    destinations = route.get("destinations") or []
    local = [d for d in destinations if not d.get("host")]
    for index, destination in enumerate(local):
        if destination.get("subset") and destination["subset"] not in subset_names:
            problems.append("%s.destinations[%d].subset: %r is not one of the subsets (%s)"
                            % (path, index, destination["subset"], ", ".join(subset_names) or "none defined"))
    weights = [d["weight"] for d in destinations if d.get("weight") is not None]
    if len(destinations) > 1 and weights and sum(weights) != 100:
        problems.append("%s.destinations[].weight: weights sum to %d, not 100" % (path, sum(weights)))
    for index, weight in enumerate(d.get("weight") for d in destinations):
        if weight is not None and not 0 <= weight <= 100:
            problems.append("%s.destinations[%d].weight: %d is not between 0 and 100" % (path, index, weight))
    if route.get("redirect") and destinations:
        problems.append("%s: redirect and destinations are mutually exclusive" % path)
    for field in ("timeout",):
        if route.get(field) and not DURATION.match(route[field]):
            problems.append("%s.%s: %r is not a duration such as 5s or 250ms" % (path, field, route[field]))
    fault = route.get("fault") or {}
    for kind in ("delay", "abort"):
        percentage = (fault.get(kind) or {}).get("percentage")
        if percentage is not None and not 0 <= percentage <= 100:
            problems.append("%s.fault.%s.percentage: %s is not between 0 and 100" % (path, kind, percentage))
    mirror = route.get("mirror") or {}
    if mirror.get("subset") and not mirror.get("host") and mirror["subset"] not in subset_names:
        problems.append("%s.mirror.subset: %r is not one of the subsets" % (path, mirror["subset"]))
    return problems


def gateway_api_problems(params: Dict[str, Any]) -> List[str]:
    """What ``api: gateway-api`` cannot express: refused, naming the field, rather than dropped."""
    problems = []
    if params["hosts"] and not params.get("gateway"):
        problems.append("hosts: with api: gateway-api, hosts are the hostnames of a Gateway's route; give a gateway "
                        "(a mesh route matches the Service itself)")
    for index, server in enumerate((params.get("gateway") or {}).get("servers") or []):
        path = "gateway.servers[%d]" % index
        if server.get("https_redirect"):
            problems.append("%s.https_redirect: a Gateway API listener cannot redirect; add a redirect route on "
                            "the HTTP listener" % path)
        if server.get("tls_mode") not in (None, "SIMPLE", "PASSTHROUGH"):
            problems.append("%s.tls_mode: %s has no Gateway API listener mode (SIMPLE is Terminate, PASSTHROUGH "
                            "Passthrough)" % (path, server["tls_mode"]))
    for index, route in enumerate(params["routes"]):
        problems += _gateway_api_route_problems(route, "routes[%d]" % index)
    return problems


def _gateway_api_route_problems(route: Dict[str, Any], path: str) -> List[str]:
    problems = []
    if route.get("fault"):
        problems.append("%s.fault: fault injection has no Gateway API equivalent; use api: istio" % path)
    targets = [("%s.destinations[%d]" % (path, index), target) for index, target in enumerate(route.get("destinations") or [])]
    targets += [("%s.mirror" % path, route["mirror"])] if route.get("mirror") else []
    for where, target in targets:
        if target.get("host") and target.get("subset"):
            problems.append("%s.subset: the Gateway API routes to Services, not to subsets of another host; name "
                            "that subset's Service as the host" % where)
        if target.get("host") and not target.get("port"):
            problems.append("%s.port: a Gateway API backend names its port; give the port of %s"
                            % (where, target["host"]))
    for index, match in enumerate(route.get("match") or []):
        where = "%s.match[%d]" % (path, index)
        if match.get("source_labels"):
            problems.append("%s.source_labels: the Gateway API matches requests, not their source workloads" % where)
        if match.get("ignore_uri_case") is not None:
            problems.append("%s.ignore_uri_case: Gateway API path matches are case-sensitive" % where)
        method = {k: v for k, v in (match.get("method") or {}).items() if v is not None}
        if set(method) - {"exact"}:
            problems.append("%s.method: the Gateway API matches a method exactly" % where)
        for field in ("headers", "query_params"):
            for name, value in (match.get(field) or {}).items():
                if isinstance(value, dict) and (len(value) != 1 or not set(value) <= {"exact", "regex"}):
                    problems.append("%s.%s.%s: the Gateway API matches values exactly or by regex only"
                                    % (where, field, name))
    retries = route.get("retries") or {}
    if retries.get("retry_on") and not all(code.strip().isdigit() for code in retries["retry_on"].split(",")):
        problems.append("%s.retries.retry_on: the Gateway API retries on HTTP status codes (such as 502,503), not %r"
                        % (path, retries["retry_on"]))
    origins = (route.get("cors") or {}).get("allow_origins") or []
    if any(set(k for k, v in origin.items() if v is not None) != {"exact"} for origin in origins):
        problems.append("%s.cors.allow_origins: the Gateway API takes exact origins only" % path)
    if (route.get("redirect") or {}).get("redirect_code") not in (None, 301, 302, 303, 307, 308):
        problems.append("%s.redirect.redirect_code: the Gateway API redirects with 301, 302, 303, 307 or 308" % path)
    return problems
