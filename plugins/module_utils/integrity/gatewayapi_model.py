# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes Gateway API in the SQLite model: tables and loaders.

References are stored with the defaults the API server fills in (a parentRef
is a Gateway of the route's namespace, a backendRef a core Service of it), so
manifests from files and objects from a cluster read the same. The references
that can dangle are deferred foreign keys, as for VirtualService gateways:

* route -> parent Gateway (``k8s_parent_ref.gateway_key``) and, with a
  ``sectionName``, -> listener (``(gateway_key, section_name)``);
* route -> backend Service (``k8s_backend_ref.service_key``);
* Gateway -> GatewayClass (``k8s_gateway.class_name``).

Cross-namespace references are permitted by ReferenceGrants: the derived
``k8s_permitted`` table lists each reference a grant of the target namespace
allows.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import hosts
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import documents as doc
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.kinds import GATEWAY_API_GROUP

GROUP = GATEWAY_API_GROUP
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute")
KINDS = ("GatewayClass", "ReferenceGrant") + ROUTE_KINDS
# The label Istio puts on the pods it deploys for a Kubernetes Gateway.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
# The label the API server gives every Namespace: a namespace selector can always match it.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# GatewayClasses istiod creates itself: a Gateway may name them without a GatewayClass in the sources.
ISTIO_GATEWAY_CLASSES = ("istio", "istio-remote", "istio-waypoint", "istio-east-west")
# The route kinds a listener admits when it does not say (by protocol), as Istio implements them.
DEFAULT_ROUTE_KINDS = {"HTTP": ("HTTPRoute", "GRPCRoute"), "HTTPS": ("HTTPRoute", "GRPCRoute"),
                       "TLS": ("TLSRoute",), "TCP": ("TCPRoute",), "HBONE": ()}

SCHEMA = """
CREATE TABLE gateway_class (
    name TEXT PRIMARY KEY,
    object_id INTEGER REFERENCES object(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE k8s_gateway (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    ref_key TEXT NOT NULL UNIQUE,
    class_name TEXT REFERENCES gateway_class(name) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE k8s_listener (
    id INTEGER PRIMARY KEY,
    gateway_id INTEGER NOT NULL REFERENCES k8s_gateway(object_id) ON DELETE CASCADE,
    gateway_key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT,
    port INTEGER,
    protocol TEXT NOT NULL,
    hostname TEXT,
    allowed_from TEXT NOT NULL,
    kinds TEXT NOT NULL,
    UNIQUE (gateway_id, idx)
);
CREATE TABLE k8s_listener_name (
    gateway_key TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (gateway_key, name)
) WITHOUT ROWID;
CREATE TABLE k8s_listener_namespace_selector (
    listener_id INTEGER NOT NULL REFERENCES k8s_listener(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    operator TEXT NOT NULL,
    value_list TEXT NOT NULL
);
CREATE TABLE k8s_address (
    gateway_id INTEGER NOT NULL REFERENCES k8s_gateway(object_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (gateway_id, idx)
);
CREATE TABLE k8s_reference (
    id INTEGER PRIMARY KEY,
    object_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    from_kind TEXT NOT NULL,
    from_namespace TEXT NOT NULL,
    role TEXT NOT NULL,
    rule_idx INTEGER,
    path TEXT NOT NULL,
    grp TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    port INTEGER,
    weight INTEGER,
    service_key TEXT REFERENCES service_key(ref_key) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE service_key (
    ref_key TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE k8s_route (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL
);
CREATE TABLE k8s_route_hostname (
    route_id INTEGER NOT NULL REFERENCES k8s_route(object_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    hostname TEXT NOT NULL,
    PRIMARY KEY (route_id, idx)
);
CREATE TABLE k8s_parent_ref (
    id INTEGER PRIMARY KEY,
    route_id INTEGER NOT NULL REFERENCES k8s_route(object_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    grp TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    section_name TEXT,
    port INTEGER,
    service_host TEXT,
    gateway_key TEXT REFERENCES k8s_gateway(ref_key) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (gateway_key, section_name) REFERENCES k8s_listener_name(gateway_key, name)
        DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE reference_grant (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL
);
CREATE TABLE reference_grant_from (
    grant_id INTEGER NOT NULL REFERENCES reference_grant(object_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    grp TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    PRIMARY KEY (grant_id, idx)
);
CREATE TABLE reference_grant_to (
    grant_id INTEGER NOT NULL REFERENCES reference_grant(object_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    grp TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    PRIMARY KEY (grant_id, idx)
);
CREATE TABLE namespace_label (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE TABLE targetable_policy (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    has_selector INTEGER NOT NULL,
    targeted INTEGER NOT NULL
);
CREATE TABLE policy_selector (
    object_id INTEGER NOT NULL REFERENCES targetable_policy(object_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (object_id, key)
) WITHOUT ROWID;
"""

# Built after the bulk load (the model's LOAD_INDEXES).
INDEXES = """
CREATE INDEX k8s_listener_by_gateway ON k8s_listener(gateway_key, name);
CREATE INDEX k8s_listener_by_hostname ON k8s_listener(hostname, port);
CREATE INDEX k8s_parent_ref_by_gateway ON k8s_parent_ref(gateway_key);
CREATE INDEX k8s_reference_by_target ON k8s_reference(namespace, kind, name);
"""

DERIVED = """
CREATE TABLE k8s_permitted AS
    SELECT r.id AS reference_id, g.object_id AS grant_id
    FROM k8s_reference r
    JOIN reference_grant g ON g.namespace = r.namespace
    JOIN reference_grant_from f ON f.grant_id = g.object_id AND f.namespace = r.from_namespace
                                AND f.kind = r.from_kind AND f.grp = '""" + GROUP + """'
    JOIN reference_grant_to t ON t.grant_id = g.object_id AND t.kind = r.kind AND t.grp = r.grp
                              AND (t.name IS NULL OR t.name = r.name)
    WHERE r.namespace <> r.from_namespace;
CREATE INDEX k8s_permitted_by_reference ON k8s_permitted(reference_id)
"""

# Rows staged per table: the model merges them once the whole object parsed.
Staged = Dict[str, List[Tuple[Any, ...]]]


def _reference(parent: Dict[str, Any], path: str, namespace: str, kind: str, group: str
               ) -> Tuple[str, str, str, str]:
    """(group, kind, namespace, name) of an object reference, with the API's defaults filled in."""
    return (doc.text(parent, "group", path) or ("" if "group" in parent else group),
            doc.text(parent, "kind", path) or kind,
            doc.text(parent, "namespace", path) or namespace,
            doc.text(parent, "name", path, required=True))


def _ref_row(new_id, object_id: int, from_kind: str, from_namespace: str, role: str, rule: Optional[int], path: str,
             ref: Dict[str, Any], default_kind: str, default_group: str, weight: Optional[int] = None
             ) -> Tuple[Any, ...]:
    group, kind, namespace, name = _reference(ref, path, from_namespace, default_kind, default_group)
    service_key = "%s/%s" % (namespace, name) if (group, kind) == ("", "Service") else None
    return (new_id(), object_id, from_kind, from_namespace, role, rule, path, group, kind, namespace, name,
            doc.integer(ref, "port", path), weight, service_key)


def load_gateway(model, staged: Staged, object_id: int, namespace: str, name: str, obj: Dict[str, Any]) -> None:
    """A Gateway API Gateway: its class, listeners, addresses and certificate references."""
    spec = doc.mapping(obj, "spec", "")
    ref_key = "%s/%s" % (namespace, name)
    staged["k8s_gateway"] = [(object_id, ref_key, doc.text(spec, "gatewayClassName", "spec"))]
    names: set = set()
    for index, listener in enumerate(doc.mappings(spec, "listeners", "spec")):
        path = "spec.listeners[%d]" % index
        listener_id = model.new_id()
        listener_name = doc.text(listener, "name", path)
        protocol = (doc.text(listener, "protocol", path) or "").upper()
        allowed = doc.mapping(listener, "allowedRoutes", path)
        namespaces = doc.mapping(allowed, "namespaces", path + ".allowedRoutes")
        kinds = [doc.text(kind, "kind", path + ".allowedRoutes.kinds") or ""
                 for kind in doc.mappings(allowed, "kinds", path + ".allowedRoutes")]
        hostname = doc.text(listener, "hostname", path)
        staged.setdefault("k8s_listener", []).append(
            (listener_id, object_id, ref_key, index, listener_name, doc.integer(listener, "port", path), protocol,
             model.host(hostname.lower()) if hostname else None,
             doc.text(namespaces, "from", path + ".allowedRoutes.namespaces") or "Same",
             ",".join(kinds) if kinds else ",".join(DEFAULT_ROUTE_KINDS.get(protocol, ROUTE_KINDS))))
        if listener_name and listener_name not in names:  # names are unique per Gateway; a repeat is another finding
            names.add(listener_name)
            staged.setdefault("k8s_listener_name", []).append((ref_key, listener_name))
        _namespace_selector(staged, listener_id, doc.mapping(namespaces, "selector", path + ".allowedRoutes.namespaces"),
                            path + ".allowedRoutes.namespaces.selector")
        tls = doc.mapping(listener, "tls", path)
        for ref_index, ref in enumerate(doc.mappings(tls, "certificateRefs", path + ".tls")):
            ref_path = "%s.tls.certificateRefs[%d]" % (path, ref_index)
            staged.setdefault("k8s_reference", []).append(
                _ref_row(model.new_id, object_id, "Gateway", namespace, "certificate", None, ref_path, ref,
                         "Secret", ""))
    staged["k8s_address"] = [
        (object_id, index, doc.text(address, "type", "spec.addresses[%d]" % index) or "IPAddress",
         doc.text(address, "value", "spec.addresses[%d]" % index) or "")
        for index, address in enumerate(doc.mappings(spec, "addresses", "spec"))]


def _namespace_selector(staged: Staged, listener_id: int, selector: Dict[str, Any], path: str) -> None:
    """A listener's namespace selector as (key, operator, values) rows; matchLabels are ``In`` one value."""
    rows = [(listener_id, key, "In", value) for key, value in doc.labels(selector, "matchLabels", path).items()]
    for index, expression in enumerate(doc.mappings(selector, "matchExpressions", path)):
        expression_path = "%s.matchExpressions[%d]" % (path, index)
        rows.append((listener_id, doc.text(expression, "key", expression_path, required=True),
                     doc.text(expression, "operator", expression_path) or "In",
                     "\n".join(doc.texts(expression, "values", expression_path))))
    if rows:
        staged.setdefault("k8s_listener_namespace_selector", []).extend(rows)


def load_route(model, staged: Staged, object_id: int, namespace: str, kind: str, obj: Dict[str, Any]) -> None:
    """An HTTPRoute, GRPCRoute, TCPRoute or TLSRoute: parents, hostnames, backends and mirrors."""
    spec = doc.mapping(obj, "spec", "")
    staged["k8s_route"] = [(object_id, kind, namespace)]
    staged["k8s_route_hostname"] = [(object_id, index, model.host(hostname.lower()))
                                    for index, hostname in enumerate(doc.texts(spec, "hostnames", "spec"))]
    parents = staged.setdefault("k8s_parent_ref", [])
    for index, parent in enumerate(doc.mappings(spec, "parentRefs", "spec")):
        path = "spec.parentRefs[%d]" % index
        group, parent_kind, parent_namespace, name = _reference(parent, path, namespace, "Gateway", GROUP)
        gateway_key = "%s/%s" % (parent_namespace, name) if (group, parent_kind) == (GROUP, "Gateway") else None
        # A mesh (GAMMA) route's parent Service: the host it routes for sidecars.
        service_host = (model.host(hosts.service_fqdn(name, parent_namespace, model.domain))
                        if (group, parent_kind) == ("", "Service") else None)
        parents.append((model.new_id(), object_id, index, group, parent_kind, parent_namespace, name,
                        doc.text(parent, "sectionName", path), doc.integer(parent, "port", path), service_host,
                        gateway_key))
    references = staged.setdefault("k8s_reference", [])
    for rule_index, rule in enumerate(doc.mappings(spec, "rules", "spec")):
        rule_path = "spec.rules[%d]" % rule_index
        for index, backend in enumerate(doc.mappings(rule, "backendRefs", rule_path)):
            path = "%s.backendRefs[%d]" % (rule_path, index)
            weight = doc.integer(backend, "weight", path)
            references.append(_ref_row(model.new_id, object_id, kind, namespace, "backend", rule_index, path, backend,
                                       "Service", "", 1 if weight is None else weight))
            references.extend(_mirrors(model, object_id, kind, namespace, rule_index, path, backend))
        references.extend(_mirrors(model, object_id, kind, namespace, rule_index, rule_path, rule))


def _mirrors(model, object_id: int, kind: str, namespace: str, rule_index: int, path: str,
             parent: Dict[str, Any]) -> List[Tuple[Any, ...]]:
    rows = []
    for index, route_filter in enumerate(doc.mappings(parent, "filters", path)):
        filter_path = "%s.filters[%d].requestMirror" % (path, index)
        mirror = doc.mapping(route_filter, "requestMirror", filter_path.rpartition(".")[0])
        if mirror:
            backend = doc.mapping(mirror, "backendRef", filter_path)
            rows.append(_ref_row(model.new_id, object_id, kind, namespace, "mirror", rule_index,
                                 filter_path + ".backendRef", backend, "Service", ""))
    return rows


def load_reference_grant(staged: Staged, object_id: int, namespace: str, obj: Dict[str, Any]) -> None:
    spec = doc.mapping(obj, "spec", "")
    staged["reference_grant"] = [(object_id, namespace)]
    staged["reference_grant_from"] = [
        (object_id, index, doc.text(entry, "group", "spec.from[%d]" % index) or "",
         doc.text(entry, "kind", "spec.from[%d]" % index, required=True),
         doc.text(entry, "namespace", "spec.from[%d]" % index, required=True))
        for index, entry in enumerate(doc.mappings(spec, "from", "spec"))]
    staged["reference_grant_to"] = [
        (object_id, index, doc.text(entry, "group", "spec.to[%d]" % index) or "",
         doc.text(entry, "kind", "spec.to[%d]" % index, required=True), doc.text(entry, "name", "spec.to[%d]" % index))
        for index, entry in enumerate(doc.mappings(spec, "to", "spec"))]


def load_targetable_policy(staged: Staged, object_id: int, namespace: str, obj: Dict[str, Any]) -> None:
    """An Istio policy that selects workloads by labels or targets a Gateway by reference."""
    spec = doc.mapping(obj, "spec", "")
    selector = doc.mapping(spec, "selector", "spec") if "selector" in spec else None
    targeted = bool(doc.mapping(spec, "targetRef", "spec") or doc.sequence(spec, "targetRefs", "spec"))
    staged["targetable_policy"] = [(object_id, namespace, int(selector is not None), int(targeted))]
    if selector:
        staged["policy_selector"] = [(object_id, key, value)
                                     for key, value in doc.labels(selector, "matchLabels", "spec.selector").items()]


def namespace_labels(name: str, labels: Dict[str, str]) -> List[Tuple[str, str, str]]:
    """A Namespace's labels, with the one the API server always sets."""
    return [(name, key, value) for key, value in dict(labels, **{NAMESPACE_NAME_LABEL: name}).items()]
