# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate plugins/doc_fragments/meshservice.py from the option spec, so the docs cannot drift.

    python tools/gen_meshservice_docs.py          # rewrite the fragment
    python tools/gen_meshservice_docs.py --check  # exit 1 if it is out of date (unit-tested)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.spec import (  # noqa: E402  pylint: disable=wrong-import-position
    MESHSERVICE_SPEC)
from generated import write_or_check  # noqa: E402  pylint: disable=wrong-import-position

FRAGMENT = REPO / "plugins" / "doc_fragments" / "meshservice.py"

# Descriptions by option path; a plain name applies wherever that name appears.
DESCRIPTIONS: Dict[str, str] = {
    "name": "Name of the meshservice; also the name of its VirtualService (or HTTPRoute) and DestinationRule.",
    "api": "Which routing API the meshservice is rendered as. V(istio): Istio Gateway, VirtualService and "
           "DestinationRule. V(gateway-api): the Kubernetes Gateway API, an HTTPRoute (parented to the gateway, "
           "with the hosts as hostnames, and without hosts to the Service as a mesh route) and a Gateway API "
           "Gateway when O(gateway.create); each subset becomes a Service C(<service>-<subset>) that the "
           "HTTPRoute's weighted backendRefs point to, and traffic policy goes into a DestinationRule per backend "
           "Service. Options the Gateway API cannot express (fault injection, source labels, prefix header "
           "matches, ...) are refused naming the field. Route retries need the Gateway API's experimental "
           "channel: where the cluster's HTTPRoute CRD drops the field, the task fails before writing.",
    "namespace": "Namespace of the meshservice and of the objects it renders.",
    "service_name": "Name of the Kubernetes Service and the host its routes target. Defaults to O(name).",
    "hosts": "Hosts the VirtualService serves. Defaults to the service name (mesh-internal traffic).",
    "ports": "Ports of the Kubernetes Service. Required to render the Service and the VirtualService.",
    "ports.port": "Port number the Service exposes (1-65535).",
    "ports.target_port": "Container port or named port the Service forwards to.",
    "ports.name": "Port name; defaults to C(<protocol>-<port>) so Istio detects the protocol.",
    "ports.protocol": "Application protocol, used for the port name.",
    "selector": "Pod selector of the Service. Defaults to C(app=<service_name>); an empty mapping renders none.",
    "labels": "Extra labels on every rendered object.",
    "mesh": "Whether a VirtualService bound to a gateway also serves mesh traffic (only without O(hosts)).",
    "gateway": "The ingress Gateway the VirtualService binds to.",
    "gateway.name": "Gateway name. Defaults to C(<name>-gateway) when O(gateway.create=true).",
    "gateway.namespace": "Gateway namespace. Defaults to O(namespace).",
    "gateway.create": "Render and own the Gateway. When false the Gateway must already exist.",
    "gateway.selector": "Selector of the gateway workload (O(api=istio); a Gateway API Gateway's pods are "
                        "deployed for it).",
    "gateway.class_name": "GatewayClass of a created Gateway API Gateway (O(api=gateway-api)).",
    "gateway.section_name": "Listener of an existing Gateway API Gateway the HTTPRoute attaches to "
                            "(O(api=gateway-api)); all its listeners when omitted.",
    "gateway.servers": "Gateway servers. Defaults to one HTTP server on port 80 for O(hosts).",
    "gateway.servers.port": "Server port number.",
    "gateway.servers.name": "Server port name; defaults to C(<protocol>-<port>).",
    "gateway.servers.protocol": "Server protocol.",
    "gateway.servers.hosts": "Server hosts. Defaults to O(hosts), scoped to O(namespace).",
    "gateway.servers.tls_mode": "TLS mode of the server.",
    "gateway.servers.credential_name": "Secret holding the server's certificate (TLS).",
    "gateway.servers.https_redirect": "Answer plain HTTP with a redirect to HTTPS.",
    "subsets": "Subsets (versions) of the service, rendered into the DestinationRule.",
    "subsets.name": "Subset name, referenced by route destinations.",
    "subsets.labels": "Pod labels selecting the subset's workloads.",
    "subsets.weight": "Share of traffic (0-100) when O(routes) is empty; weights must sum to 100.",
    "subsets.traffic_policy": "Traffic policy of this subset; same options as O(traffic_policy).",
    "traffic_policy": "Traffic policy of the DestinationRule.",
    "load_balancer": "Load balancing.",
    "simple": "Simple load balancing algorithm.",
    "consistent_hash": "Consistent-hash (sticky) load balancing; one hash key.",
    "http_header_name": "Hash on this request header.",
    "http_cookie": "Hash on this cookie (created when missing).",
    "http_cookie.name": "Cookie name.",
    "ttl": "Cookie lifetime, for example V(0s) or V(1h).",
    "path": "Cookie path.",
    "use_source_ip": "Hash on the source IP.",
    "http_query_parameter_name": "Hash on this query parameter.",
    "minimum_ring_size": "Minimum number of virtual nodes of the hash ring.",
    "connection_pool": "Connection pool limits (circuit breaking).",
    "tcp": "TCP limits.",
    "max_connections": "Maximum connections to a destination host.",
    "connect_timeout": "TCP connect timeout, for example V(10s).",
    "http": "HTTP limits.",
    "http1_max_pending_requests": "Maximum pending HTTP requests.",
    "http2_max_requests": "Maximum concurrent HTTP/2 requests.",
    "max_requests_per_connection": "Maximum requests per connection.",
    "max_retries": "Maximum outstanding retries.",
    "idle_timeout": "Idle timeout of upstream connections.",
    "outlier_detection": "Outlier detection: eject hosts that keep failing (circuit breaking).",
    "consecutive_5xx_errors": "5xx errors in a row before a host is ejected.",
    "consecutive_gateway_errors": "Gateway errors (502, 503, 504) in a row before a host is ejected.",
    "interval": "Time between ejection sweeps.",
    "base_ejection_time": "Minimum ejection duration.",
    "max_ejection_percent": "Maximum share of hosts ejected at once.",
    "min_health_percent": "Outlier detection is off below this share of healthy hosts.",
    "tls": "TLS settings for connections to the service.",
    "tls.mode": "TLS mode.",
    "tls.credential_name": "Secret with the client certificate.",
    "sni": "SNI to present.",
    "routes": "Ordered HTTP routing rules. Without any, all traffic goes to the service (split by subset weights).",
    "routes.name": "Rule name.",
    "match": "Conditions; the rule applies when any entry matches.",
    "uri": "Match on the request path.",
    "exact": "Exact match.",
    "prefix": "Prefix match.",
    "regex": "RE2 regular expression match.",
    "headers": "Match on request headers: a string for an exact match, or a mapping C({prefix: ...}) or C({regex: ...}).",
    "query_params": "Match on query parameters, as for O(routes[].match[].headers).",
    "method": "Match on the HTTP method.",
    "source_labels": "Match on the labels of the calling workload.",
    "ignore_uri_case": "Match the URI case-insensitively.",
    "destinations": "Weighted destinations (canary, A/B). Without any, the rule routes to the service.",
    "destinations.host": "Destination host; defaults to the service.",
    "destinations.subset": "Subset of the service (one of O(subsets)).",
    "destinations.port": "Destination port; defaults to the service's first port.",
    "destinations.weight": "Share of traffic (0-100); weights of a rule must sum to 100.",
    "timeout": "Request timeout, for example V(10s).",
    "retries": "Retry policy.",
    "attempts": "Number of retries.",
    "per_try_timeout": "Timeout of each attempt.",
    "retry_on": "Conditions to retry on, for example V(5xx,reset,connect-failure).",
    "fault": "Fault injection.",
    "delay": "Inject a delay.",
    "fixed_delay": "Delay, for example V(5s).",
    "percentage": "Share of requests affected (0-100).",
    "abort": "Abort requests.",
    "http_status": "HTTP status returned by aborted requests.",
    "mirror": "Mirror (shadow) traffic to another destination.",
    "mirror.host": "Mirror host; defaults to the service.",
    "mirror.subset": "Mirror subset.",
    "mirror.port": "Mirror port.",
    "mirror.percentage": "Share of requests mirrored (0-100).",
    "redirect": "Answer with an HTTP redirect instead of routing.",
    "redirect.uri": "Path of the redirect.",
    "redirect.authority": "Authority (host) of the redirect.",
    "redirect_code": "HTTP status of the redirect (301 by default).",
    "scheme": "Scheme of the redirect.",
    "rewrite": "Rewrite the request before forwarding.",
    "rewrite.uri": "New path prefix.",
    "rewrite.authority": "New authority (Host header).",
    "cors": "CORS policy.",
    "allow_origins": "Allowed origins.",
    "allow_methods": "Allowed methods.",
    "allow_headers": "Allowed request headers.",
    "expose_headers": "Headers the browser may read.",
    "max_age": "How long preflight results may be cached.",
    "allow_credentials": "Whether credentials are allowed.",
    "routes.headers": "Header manipulation.",
    "request": "Changes to request headers.",
    "response": "Changes to response headers.",
    "set": "Headers to set.",
    "add": "Headers to append.",
    "remove": "Headers to remove.",
    "egress": "External services the mesh may call, rendered as ServiceEntries.",
    "egress.name": "ServiceEntry name; defaults to C(<name>-egress-<index>).",
    "egress.hosts": "External hosts.",
    "egress.ports": "Ports of the external service.",
    "egress.ports.number": "Port number.",
    "egress.ports.name": "Port name; defaults to C(<protocol>-<number>).",
    "egress.ports.protocol": "Port protocol.",
    "resolution": "How the hosts resolve.",
    "location": "Whether the service is outside or inside the mesh.",
    "egress_gateway": "Route the external traffic through an egress gateway.",
    "egress_gateway.name": "Egress Gateway name.",
    "egress_gateway.namespace": "Egress Gateway namespace.",
    "egress_gateway.service": "Service of the egress gateway workload.",
    "egress_gateway.selector": "Selector of the egress gateway workload.",
    "egress_gateway.create": "Render and own the egress Gateway.",
}


def _description(path: str) -> str:
    parts = path.split(".")
    for start in range(len(parts)):
        key = ".".join(parts[start:])
        if key in DESCRIPTIONS:
            return DESCRIPTIONS[key]
    for start in range(len(parts) - 1):
        key = "%s.%s" % (parts[start], parts[-1])
        if key in DESCRIPTIONS:
            return DESCRIPTIONS[key]
    raise KeyError("no description for option %s" % path)


def document(spec: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    result = {}
    for name, option in spec.items():
        path = prefix + name
        entry: Dict[str, Any] = {"description": [_description(path)], "type": option["type"]}
        for key in ("elements", "choices", "default"):
            if key in option:
                entry[key] = option[key]
        if option.get("required"):
            entry["required"] = True
        if option.get("options"):
            entry["suboptions"] = document(option["options"], path + ".")
        result[name] = entry
    return result


def fragment_text() -> str:
    options = document(MESHSERVICE_SPEC)
    options["name"]["required"] = False
    options["name"]["description"].append("Required unless O(definition) or O(meshservices) is given.")
    # The module applies top-level defaults per entry (an entry may come from meshservices or a
    # definition), so its own argument spec has none: the docs state them in words instead.
    for option in options.values():
        if "default" in option:
            default = option.pop("default")
            if default in ([], {}):
                continue
            option["description"].append("Default: V(%s)." % (str(default).lower() if isinstance(default, bool) else default))
    body = yaml.safe_dump({"options": options}, sort_keys=False, width=120, default_flow_style=False)
    return ('# -*- coding: utf-8 -*-\n'
            '# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)\n'
            '# Generated by tools/gen_meshservice_docs.py from meshservice_spec.py: do not edit.\n\n'
            'from __future__ import annotations\n\n\n'
            'class ModuleDocFragment:\n'
            '    """The options of one meshservice."""\n\n'
            '    DOCUMENTATION = r"""\n' + body + '"""\n')


def main() -> int:
    return write_or_check(FRAGMENT, fragment_text(), sys.argv)


if __name__ == "__main__":
    sys.exit(main())
