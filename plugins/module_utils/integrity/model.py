# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-memory SQLite model of a mesh.

Objects are parsed once, their references normalised to Istio's runtime names
(FQDN hosts, ``namespace/name`` gateways, wildcard lookup keys), and stored in
tables whose keys and constraints carry the integrity rules:

* ownership (a server belongs to a Gateway, a subset to a DestinationRule) is
  a declared foreign key; the model writes only rows whose owner it staged, so
  enforcement is off (it would look up every owner again while loading in bulk)
  and ``PRAGMA foreign_key_check`` still reads the declarations;
* a VirtualService's Gateway reference is a deferred foreign key into
  ``gateway(ref_key)``: ``PRAGMA foreign_key_check`` lists the dangling ones;
* object identity (kind, namespace, name) is a unique constraint.

Kinds are told apart by API group as well as kind: a Kubernetes Gateway API
``Gateway`` (gateway.networking.k8s.io) is recorded as a gateway reference
target of its own, never as an Istio Gateway.

The connection stays inside one open transaction and is never committed:
deferred constraints are checked at COMMIT, and an analysis database is
thrown away, so the dangling references can stay and be reported.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import documents as doc
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.kinds import (
    GATEWAY_API_GROUP, KUBERNETES_GATEWAY, TARGETABLE_POLICY_KINDS)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import (
    certificates, gatewayapi_model, hosts, mesh_config, re2)

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# Codes a user silenced on an object: Istio's annotation for IST codes, ours for our codes ('*': all).
SUPPRESS_ANNOTATIONS = ("galley.istio.io/analyze-suppress", "meshops.io/integrity-suppress")
MANAGED_BY_VALUE = "meshops.istio_integrity"
EXPORT_ANNOTATION = "networking.istio.io/exportTo"
INJECT_KEY = "sidecar.istio.io/inject"
DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode"
GATEWAY_MANAGED_LABEL = "gateway.istio.io/managed"

ISTIO_GROUP = "networking.istio.io"
SECURITY_GROUP = "security.istio.io"
ISTIO_KINDS = ("Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "Sidecar")
GATEWAY_API_KINDS = (KUBERNETES_GATEWAY,) + gatewayapi_model.KINDS
WORKLOAD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
WORKLOAD_KINDS = ("Pod",) + WORKLOAD_TEMPLATE_KINDS
SECURITY_KINDS = ("PeerAuthentication",)
MODELLED_KINDS = ISTIO_KINDS + SECURITY_KINDS + ("Service", "Secret", "Namespace") + WORKLOAD_KINDS
# Kinds without a namespace.
CLUSTER_KINDS = ("Namespace", "GatewayClass")

# Namespaces Istio treats as system namespaces: no port-name or workload findings there.
# Istio's control-plane namespace (``istio_namespace``) is always one too.
DEFAULT_SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "local-path-storage")
DEFAULT_ISTIO_NAMESPACE = "istio-system"
NOT_CREATED_YET = "~"  # sorts after every RFC 3339 timestamp
# Istio's default ingress gateway, assumed offline (its workload's labels and its Service's name).
INGRESS_GATEWAY_NAME = "istio-ingressgateway"
INGRESS_GATEWAY_SELECTOR = {"istio": "ingressgateway"}
INGRESS_GATEWAY_LABELS = dict(INGRESS_GATEWAY_SELECTOR, app=INGRESS_GATEWAY_NAME)
ASSUMED_SOURCE = "(assumed: Istio's default ingress gateway)"

# Protocols Istio recognises as a Service port name prefix or appProtocol (protocol selection).
PORT_NAME_PROTOCOLS = ("grpc-web", "grpc", "http2", "https", "http_proxy", "http", "mongo", "mysql", "redis", "tcp",
                       "tls", "udp")
WELL_KNOWN_APP_PROTOCOLS = {"kubernetes.io/h2c": "http2", "kubernetes.io/ws": "http", "kubernetes.io/wss": "https"}
# Labels Istio adds to endpoints from the node they run on: a subset may select on them.
TOPOLOGY_LABELS = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone",
                   "kubernetes.io/hostname")

SCHEMA = """
CREATE TABLE object (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    managed INTEGER NOT NULL,
    in_scope INTEGER NOT NULL,
    created TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE suppression (
    object_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    annotation TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (object_id, annotation, code)
) WITHOUT ROWID;
CREATE TABLE export (
    object_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    PRIMARY KEY (object_id, namespace)
) WITHOUT ROWID;
CREATE TABLE object_selector (
    object_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (object_id, key)
) WITHOUT ROWID;
CREATE TABLE namespace_info (
    name TEXT PRIMARY KEY,
    injection INTEGER,
    ambient INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE gateway (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    ref_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    selector TEXT NOT NULL
);
CREATE TABLE gateway_server (
    id INTEGER PRIMARY KEY,
    gateway_id INTEGER NOT NULL REFERENCES gateway(object_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    port INTEGER,
    port_name TEXT,
    protocol TEXT,
    certificate TEXT,
    UNIQUE (gateway_id, idx)
);
CREATE TABLE server_host (
    server_id INTEGER NOT NULL REFERENCES gateway_server(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    scope TEXT NOT NULL,
    host TEXT NOT NULL,
    raw TEXT NOT NULL,
    PRIMARY KEY (server_id, idx)
);
CREATE TABLE server_credential (
    server_id INTEGER NOT NULL REFERENCES gateway_server(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    secret TEXT NOT NULL
);
CREATE TABLE vs_host (
    vs_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    host TEXT NOT NULL,
    raw TEXT NOT NULL,
    PRIMARY KEY (vs_id, idx)
);
CREATE TABLE vs_gateway (
    id INTEGER PRIMARY KEY,
    vs_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    path TEXT,
    ref TEXT NOT NULL,
    binds INTEGER NOT NULL,
    gateway_key TEXT REFERENCES gateway(ref_key) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE route (
    id INTEGER PRIMARY KEY,
    vs_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    protocol TEXT NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT,
    match_count INTEGER NOT NULL
);
CREATE TABLE route_match (
    route_id INTEGER NOT NULL REFERENCES route(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    canonical TEXT NOT NULL,
    PRIMARY KEY (route_id, idx)
);
CREATE TABLE invalid_regex (
    vs_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    pattern TEXT NOT NULL,
    problem TEXT NOT NULL
);
CREATE TABLE destination (
    id INTEGER PRIMARY KEY,
    route_id INTEGER NOT NULL REFERENCES route(id) ON DELETE CASCADE,
    vs_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    role TEXT NOT NULL,
    path TEXT NOT NULL,
    raw_host TEXT NOT NULL,
    host TEXT NOT NULL,
    subset TEXT,
    port INTEGER,
    weight INTEGER
);
CREATE TABLE destination_rule (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    raw_host TEXT NOT NULL,
    host TEXT NOT NULL,
    has_policy INTEGER NOT NULL
);
CREATE TABLE peer_authentication (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    selects INTEGER NOT NULL,
    mode TEXT NOT NULL
);
CREATE TABLE dr_subset (
    id INTEGER PRIMARY KEY,
    dr_id INTEGER NOT NULL REFERENCES destination_rule(object_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL
);
CREATE TABLE subset_label (
    subset_id INTEGER NOT NULL REFERENCES dr_subset(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (subset_id, key)
) WITHOUT ROWID;
CREATE TABLE dr_tls (
    dr_id INTEGER NOT NULL REFERENCES destination_rule(object_id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    port INTEGER,
    mode TEXT NOT NULL,
    verified INTEGER NOT NULL
);
CREATE TABLE service (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    selector TEXT NOT NULL,
    type TEXT NOT NULL,
    istio_managed INTEGER NOT NULL
);
CREATE TABLE service_entry (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    addressed INTEGER NOT NULL
);
CREATE TABLE registry (
    id INTEGER PRIMARY KEY,
    object_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    host TEXT NOT NULL
);
CREATE TABLE port (
    object_id INTEGER NOT NULL REFERENCES object(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    number INTEGER,
    name TEXT,
    protocol TEXT,
    app_protocol TEXT,
    name_protocol TEXT,
    target_port TEXT,
    PRIMARY KEY (object_id, idx)
);
CREATE TABLE sidecar (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    selects INTEGER NOT NULL
);
CREATE TABLE sidecar_outbound_policy (
    sidecar_id INTEGER PRIMARY KEY REFERENCES sidecar(object_id) ON DELETE CASCADE,
    mode TEXT NOT NULL
);
CREATE TABLE sidecar_egress_host (
    sidecar_id INTEGER NOT NULL REFERENCES sidecar(object_id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    scope TEXT NOT NULL,
    host TEXT NOT NULL,
    raw TEXT NOT NULL
);
CREATE TABLE workload (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    injection INTEGER,
    proxied INTEGER NOT NULL,
    host_network INTEGER NOT NULL,
    ambient INTEGER NOT NULL
);
CREATE TABLE workload_label (
    workload_id INTEGER NOT NULL REFERENCES workload(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (key, value, workload_id)
) WITHOUT ROWID;
CREATE TABLE workload_port (
    workload_id INTEGER NOT NULL REFERENCES workload(id) ON DELETE CASCADE,
    number INTEGER,
    name TEXT
);
CREATE TABLE secret (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    problem TEXT,
    PRIMARY KEY (namespace, name)
) WITHOUT ROWID;
-- Objects no source has, assumed as every Istio install has them (Istio's default ingress gateway):
-- they exist, but what they hold (a Service's ports) is not known, so no check judges by it.
CREATE TABLE assumed (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE
);
CREATE TABLE host_key (
    host TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (host, key)
) WITHOUT ROWID;
""" + gatewayapi_model.SCHEMA

# Indexes of the loaded tables: built once after the bulk load, cheaper than kept up during it.
# (Object identity is unique: the model refuses a second object of one identity before staging it.)
LOAD_INDEXES = """
CREATE UNIQUE INDEX object_identity ON object(kind, namespace, name);
CREATE INDEX registry_by_host ON registry(host);
CREATE INDEX registry_by_object ON registry(object_id);
CREATE INDEX destination_by_route ON destination(route_id);
CREATE INDEX destination_by_vs ON destination(vs_id);
CREATE INDEX destination_by_host ON destination(host, subset);
CREATE INDEX destination_rule_by_host ON destination_rule(host);
CREATE INDEX dr_subset_by_rule ON dr_subset(dr_id, name);
CREATE INDEX route_by_vs ON route(vs_id, protocol, idx);
CREATE INDEX vs_gateway_by_vs ON vs_gateway(vs_id);
CREATE INDEX vs_gateway_by_key ON vs_gateway(gateway_key);
CREATE INDEX gateway_server_by_gateway ON gateway_server(gateway_id);
CREATE INDEX server_host_by_host ON server_host(host);
CREATE INDEX service_by_selector ON service(namespace, selector);
CREATE INDEX workload_by_namespace ON workload(namespace, kind);
""" + gatewayapi_model.INDEXES

# Tables derived once after loading; every check that needs them reads them.
DERIVED = LOAD_INDEXES + """
CREATE INDEX host_key_by_key ON host_key(key, host);
CREATE INDEX destination_by_raw_host ON destination(raw_host, subset);
CREATE INDEX gateway_server_by_certificate ON gateway_server(certificate);

CREATE TABLE destination_target AS
    SELECT d.id AS destination_id, r.id AS registry_id, r.object_id AS target_id
    FROM destination d
    JOIN host_key k ON k.host = d.host
    JOIN registry r ON r.host = k.key
    WHERE EXISTS (SELECT 1 FROM export e WHERE e.object_id = r.object_id AND e.namespace IN ('*', d.namespace))
    UNION
    SELECT d.id, r.id, r.object_id
    FROM destination d
    JOIN host_key k ON k.key = d.host
    JOIN registry r ON r.host = k.host
    WHERE EXISTS (SELECT 1 FROM export e WHERE e.object_id = r.object_id AND e.namespace IN ('*', d.namespace));
CREATE INDEX destination_target_by_destination ON destination_target(destination_id, target_id);

CREATE TABLE selection AS
    SELECT s.object_id, wl.workload_id
    FROM object_selector s
    JOIN object o ON o.id = s.object_id
    JOIN workload_label wl ON wl.key = s.key AND wl.value = s.value
    JOIN workload w ON w.id = wl.workload_id
    WHERE o.kind = 'Gateway' OR w.namespace = o.namespace
    GROUP BY s.object_id, wl.workload_id
    HAVING count(*) = (SELECT count(*) FROM object_selector x WHERE x.object_id = s.object_id);
CREATE INDEX selection_by_object ON selection(object_id, workload_id);
CREATE INDEX selection_by_workload ON selection(workload_id, object_id);

CREATE TABLE vs_binding AS
    SELECT g.vs_id, coalesce(g.gateway_key, 'mesh') AS gateway, h.host, min(h.idx) AS host_idx,
           o.created, o.namespace
    FROM vs_gateway g
    JOIN vs_host h ON h.vs_id = g.vs_id
    JOIN object o ON o.id = g.vs_id
    WHERE g.binds = 1
    GROUP BY g.vs_id, coalesce(g.gateway_key, 'mesh'), h.host;
CREATE INDEX vs_binding_by_claim ON vs_binding(gateway, host);
""" + gatewayapi_model.DERIVED


class DuplicateObject(ValueError):
    """The same kind/namespace/name was loaded twice (e.g. in two manifest files)."""


def _timestamp(value: Any) -> str:
    """creationTimestamp as RFC 3339 text; YAML may have parsed it into a datetime."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value if isinstance(value, str) else ""


def port_name_protocol(name: Optional[str]) -> Optional[str]:
    """The protocol Istio infers from a port name or appProtocol (``http-web`` -> ``http``), if any."""
    if not name:
        return None
    lowered = name.lower()
    if lowered in WELL_KNOWN_APP_PROTOCOLS:
        return WELL_KNOWN_APP_PROTOCOLS[lowered]
    for protocol in PORT_NAME_PROTOCOLS:
        if lowered == protocol or lowered.startswith(protocol + "-"):
            return protocol
    return None


def modelled_kind(obj: Dict[str, Any]) -> Optional[str]:
    """The model's name for an object's kind, telling kinds apart by API group; None when not modelled."""
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    if group == GATEWAY_API_GROUP:
        return KUBERNETES_GATEWAY if kind == "Gateway" else (kind if kind in gatewayapi_model.KINDS else None)
    if kind in TARGETABLE_POLICY_KINDS:
        return kind if group in ("", TARGETABLE_POLICY_KINDS[kind]) else None
    if (kind in ISTIO_KINDS and group not in ("", ISTIO_GROUP)) or (kind in SECURITY_KINDS and group not in ("", SECURITY_GROUP)):
        return None  # another API's kind of the same name
    return kind if kind in MODELLED_KINDS else None


def api_group(kind: str) -> str:
    """The API group of a modelled kind (by its model name), which tells Istio's Gateway from the Gateway API's."""
    if kind in GATEWAY_API_KINDS:
        return GATEWAY_API_GROUP
    if kind in ISTIO_KINDS:
        return ISTIO_GROUP
    if kind in SECURITY_KINDS:
        return SECURITY_GROUP
    if kind in TARGETABLE_POLICY_KINDS:
        return TARGETABLE_POLICY_KINDS[kind]
    return "apps" if kind in WORKLOAD_TEMPLATE_KINDS and kind != "Job" else ("batch" if kind == "Job" else "")


def object_identity(kind: str, group: str, namespace: str, name: str) -> str:
    """``kind/namespace/name``; kubectl's ``kind.group`` for the Gateway API Gateway, which shares Istio's kind
    (``kind`` may also be the model's ``KubernetesGateway``)."""
    if kind == KUBERNETES_GATEWAY or (kind == "Gateway" and group == GATEWAY_API_GROUP):
        kind = "Gateway." + GATEWAY_API_GROUP
    return "%s/%s/%s" % (kind, namespace, name)


def _injection(value: Optional[str]) -> Optional[int]:
    """1/0 for an explicit sidecar injection choice, None when the object leaves it to its namespace."""
    if value is None:
        return None
    return 1 if value.strip().lower() in ("true", "enabled") else 0


class MeshModel:
    """Loads objects into SQLite rows; ``finish()`` builds the derived tables."""

    def __init__(self, domain: str = hosts.DEFAULT_DOMAIN, default_namespace: str = "default",
                 scope: Optional[Any] = None) -> None:
        self.domain = domain
        self.default_namespace = default_namespace
        self.scope = scope  # callable(kind, namespace, labels) -> bool; None: everything in scope
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = OFF")
        self.db.executescript(SCHEMA)
        self.db.execute("BEGIN")
        self.scanned: Dict[str, int] = {}
        # Mesh configurations by the namespace of their ConfigMap ('' for a MeshConfig document).
        self.mesh_configs: Dict[str, mesh_config.MeshConfig] = {}
        self._rows: Dict[str, List[Tuple[Any, ...]]] = {}
        self._identities: Dict[Tuple[str, str, str], str] = {}
        self._hosts: set = set()
        self._last_id = 0  # ids are shared by all tables: one counter, advanced per staged row
        self._finished = False
        self._loaders = {"Gateway": self._load_gateway, "VirtualService": self._load_virtualservice,
                         "DestinationRule": self._load_destinationrule, "ServiceEntry": self._load_serviceentry,
                         "Service": self._load_service, "Secret": self._load_secret, "Sidecar": self._load_sidecar,
                         "Namespace": self._load_namespace, KUBERNETES_GATEWAY: self._load_kubernetes_gateway,
                         "PeerAuthentication": self._load_peerauthentication, "GatewayClass": self._load_gateway_class,
                         "ReferenceGrant": self._load_reference_grant}
        self._loaders.update((kind, self._load_gateway_api_route) for kind in gatewayapi_model.ROUTE_KINDS)
        self._loaders.update((kind, self._load_targetable_policy) for kind in TARGETABLE_POLICY_KINDS)

    # -- loading -------------------------------------------------------------
    def add(self, obj: Dict[str, Any], source: str) -> Optional[str]:
        """Model one Kubernetes object; returns its kind, or None when the kind is not modelled.

        Raises ``InvalidDocument`` (a field has the wrong type or is missing)
        or ``DuplicateObject``; the model is unchanged in both cases.
        """
        if mesh_config.is_mesh_config_map(obj):
            return self._add_mesh_config_map(obj, source)
        kind = modelled_kind(obj)
        if kind is None:
            return None
        metadata = doc.mapping(obj, "metadata", "")
        name = doc.text(metadata, "name", "metadata", required=True)
        namespace = "" if kind in CLUSTER_KINDS else (doc.text(metadata, "namespace", "metadata") or self.default_namespace)
        labels = doc.labels(metadata, "labels", "metadata")
        identity = (kind, namespace, name)
        if identity in self._identities:
            raise DuplicateObject("%s %s/%s is already defined by %s" % (kind, namespace, name, self._identities[identity]))
        staged: Dict[str, List[Tuple[Any, ...]]] = {}
        object_id = self.new_id()
        suppressions = _suppressions(object_id, metadata) if metadata.get("annotations") else []
        # Rows are staged and merged only once the whole object parsed (ids skipped by a failure are harmless).
        self._loaders.get(kind, self._load_workload)(staged, object_id, namespace, name, metadata, obj)
        self._identities[identity] = source
        self.scanned[kind] = self.scanned.get(kind, 0) + 1
        for table, rows in staged.items():
            self._rows.setdefault(table, []).extend(rows)
        if kind not in ("Secret", "Namespace"):
            in_scope = self.scope is None or self.scope(kind, namespace, labels)
            managed = labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE
            # An object without creationTimestamp is about to be created (rendered, or from files beside a
            # live scan): it is the newest party of any conflict with what exists.
            created = _timestamp(metadata.get("creationTimestamp")) or NOT_CREATED_YET
            self._rows.setdefault("object", []).append(
                (object_id, kind, namespace, name, int(managed), int(in_scope), created, source))
            if suppressions:
                self._rows.setdefault("suppression", []).extend(suppressions)
        return kind

    def _add_mesh_config_map(self, obj: Dict[str, Any], source: str) -> str:
        namespace = doc.text(doc.mapping(obj, "metadata", ""), "namespace", "metadata") or self.default_namespace
        try:
            self.mesh_configs[namespace] = mesh_config.from_config_map(obj, source)
        except mesh_config.MeshConfigError as error:
            raise doc.InvalidDocument("data", str(error)) from None
        return "ConfigMap"

    def add_mesh_config(self, fields: Dict[str, Any], source: str) -> None:
        """A MeshConfig document (kind-less MeshConfig fields); raises ``InvalidDocument`` for a bad field."""
        try:
            self.mesh_configs[""] = mesh_config.from_fields(fields, source)
        except mesh_config.MeshConfigError as error:
            raise doc.InvalidDocument("MeshConfig", str(error)) from None

    def mesh(self, istio_namespace: str) -> mesh_config.MeshConfig:
        """The mesh configuration in force: a MeshConfig document, else Istio's ConfigMap, else Istio's defaults."""
        return self.mesh_configs.get("") or self.mesh_configs.get(istio_namespace) or mesh_config.MeshConfig()

    def hide(self, kind: str, namespace: str, name: str) -> None:
        """Treat the object as gone (about to be deleted): later copies of it are overridden."""
        self._identities.setdefault((kind, namespace, name), "(removed)")

    def defined(self, kind: str, namespace: str, name: str) -> bool:
        """Whether an object of that identity is already loaded."""
        return (kind, namespace, name) in self._identities

    def new_id(self) -> int:
        """A row id no other row of any table has."""
        self._last_id += 1
        return self._last_id

    def _exports(self, staged, object_id: int, values: List[str], namespace: str) -> None:
        staged.setdefault("export", []).extend(
            (object_id, ns) for ns in hosts.export_namespaces(values, namespace))

    def _selector(self, staged, object_id: int, selector: Dict[str, str]) -> None:
        staged.setdefault("object_selector", []).extend((object_id, k, v) for k, v in selector.items())

    def host(self, host: str) -> str:
        """A host name the wildcard lookup keys are built for."""
        self._hosts.add(host)
        return host

    def _load_namespace(self, staged, object_id, namespace, name, metadata, obj) -> None:
        labels = doc.labels(metadata, "labels", "metadata")
        injection = _injection(labels.get("istio-injection"))
        if injection is None and labels.get("istio.io/rev"):
            injection = 1
        staged["namespace_info"] = [(name, injection, int(labels.get(DATAPLANE_MODE_LABEL) == "ambient"))]
        staged["namespace_label"] = gatewayapi_model.namespace_labels(name, labels)

    def _load_kubernetes_gateway(self, staged, object_id, namespace, name, metadata, obj) -> None:
        gatewayapi_model.load_gateway(self, staged, object_id, namespace, name, obj)

    def _load_gateway_class(self, staged, object_id, namespace, name, metadata, obj) -> None:
        staged["gateway_class"] = [(name, object_id)]

    def _load_gateway_api_route(self, staged, object_id, namespace, name, metadata, obj) -> None:
        gatewayapi_model.load_route(self, staged, object_id, namespace, obj["kind"], obj)

    def _load_reference_grant(self, staged, object_id, namespace, name, metadata, obj) -> None:
        gatewayapi_model.load_reference_grant(staged, object_id, namespace, obj)

    def _load_targetable_policy(self, staged, object_id, namespace, name, metadata, obj) -> None:
        gatewayapi_model.load_targetable_policy(staged, object_id, namespace, obj)

    def _load_gateway(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        selector = doc.labels(spec, "selector", "spec")
        self._selector(staged, object_id, selector)
        staged["gateway"] = [(object_id, "%s/%s" % (namespace, name), name, hosts.canonical_labels(selector))]
        for index, server in enumerate(doc.mappings(spec, "servers", "spec")):
            path = "spec.servers[%d]" % index
            port = doc.mapping(server, "port", path)
            tls = doc.mapping(server, "tls", path)
            credential = doc.text(tls, "credentialName", path + ".tls")
            files = (doc.text(tls, "serverCertificate", path + ".tls"), doc.text(tls, "privateKey", path + ".tls"))
            # What identifies the certificate a server presents (IST0138): the Secret, or the file pair.
            certificate = ("secret:" + credential) if credential else (
                "files:%s|%s" % files if files[0] and files[1] else None)
            server_id = self.new_id()
            staged.setdefault("gateway_server", []).append(
                (server_id, object_id, index, doc.integer(port, "number", path + ".port"),
                 doc.text(port, "name", path + ".port"), (doc.text(port, "protocol", path + ".port") or "").upper(),
                 certificate))
            for host_index, host in enumerate(doc.texts(server, "hosts", path)):
                scope, host_name = hosts.split_server_host(host, namespace)
                staged.setdefault("server_host", []).append(
                    (server_id, host_index, scope, self.host(host_name), host))
            credentials = [(path + ".tls.credentialName", credential)]
            credentials += [("%s.tls.credentialNames[%d]" % (path, i), value)
                            for i, value in enumerate(doc.texts(tls, "credentialNames", path + ".tls"))]
            staged.setdefault("server_credential", []).extend(
                (server_id, field, secret.replace("kubernetes://", "", 1)) for field, secret in credentials if secret)

    def _load_virtualservice(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        self._exports(staged, object_id, doc.texts(spec, "exportTo", "spec"), namespace)
        staged["vs_host"] = [(object_id, index, self.host(hosts.resolve_host(host, namespace, self.domain)), host)
                             for index, host in enumerate(doc.texts(spec, "hosts", "spec"))]
        gateways = doc.texts(spec, "gateways", "spec")
        refs = [("spec.gateways[%d]" % i, ref, 1) for i, ref in enumerate(gateways)]
        if not gateways:
            refs.append((None, hosts.MESH_GATEWAY, 1))
        for protocol in ("http", "tcp", "tls"):
            for index, rule in enumerate(doc.mappings(spec, protocol, "spec")):
                refs += self._load_route(staged, object_id, namespace, protocol, index, rule)
        for path, ref, binds in refs:
            staged.setdefault("vs_gateway", []).append(
                (self.new_id(), object_id, path, ref, binds, hosts.gateway_key(ref, namespace)))

    def _load_route(self, staged, vs_id, namespace, protocol, index, rule) -> List[Tuple[Optional[str], str, int]]:
        """Stage one http/tcp/tls rule; returns the Gateway references of its matches."""
        path = "spec.%s[%d]" % (protocol, index)
        matches = doc.mappings(rule, "match", path)
        refs = []
        route_id = self.new_id()
        for match_index, match in enumerate(matches):
            match_path = "%s.match[%d]" % (path, match_index)
            refs += [("%s.gateways[%d]" % (match_path, i), ref, 0)
                     for i, ref in enumerate(doc.texts(match, "gateways", match_path))]
            if protocol == "http":
                self._regexes(staged, vs_id, match_path, match)
            staged.setdefault("route_match", []).append((route_id, match_index, _canonical_match(match)))
        staged.setdefault("route", []).append(
            (route_id, vs_id, protocol, index, doc.text(rule, "name", path), len(matches)))
        for dest_index, target in enumerate(doc.mappings(rule, "route", path)):
            dest_path = "%s.route[%d]" % (path, dest_index)
            self._destination(staged, route_id, vs_id, namespace, "route", dest_path + ".destination",
                              doc.mapping(target, "destination", dest_path), doc.integer(target, "weight", dest_path))
        if protocol == "http":
            cors = doc.mapping(rule, "corsPolicy", path)
            for origin_index, origin in enumerate(doc.mappings(cors, "allowOrigins", path + ".corsPolicy")):
                self._regex(staged, vs_id, "%s.corsPolicy.allowOrigins[%d].regex" % (path, origin_index), origin)
        if "mirror" in rule:
            self._destination(staged, route_id, vs_id, namespace, "mirror", path + ".mirror",
                              doc.mapping(rule, "mirror", path), None)
        for mirror_index, mirror in enumerate(doc.mappings(rule, "mirrors", path)):
            mirror_path = "%s.mirrors[%d]" % (path, mirror_index)
            self._destination(staged, route_id, vs_id, namespace, "mirror", mirror_path + ".destination",
                              doc.mapping(mirror, "destination", mirror_path), None)
        return refs

    def _regexes(self, staged, vs_id: int, match_path: str, match: Dict[str, Any]) -> None:
        """The regexes of an HTTP match Istio's analyzer checks (withoutHeaders is undocumented: not checked)."""
        for field in ("uri", "scheme", "method", "authority"):
            self._regex(staged, vs_id, "%s.%s.regex" % (match_path, field), doc.mapping(match, field, match_path))
        for field in ("headers", "queryParams"):
            for key, value in doc.mapping(match, field, match_path).items():
                if isinstance(value, dict):
                    self._regex(staged, vs_id, "%s.%s.%s.regex" % (match_path, field, key), value)

    def _regex(self, staged, vs_id: int, path: str, string_match: Dict[str, Any]) -> None:
        pattern = string_match.get("regex")
        reason = re2.problem(pattern) if isinstance(pattern, str) and pattern else None
        if reason:
            staged.setdefault("invalid_regex", []).append((vs_id, path, pattern, reason))

    def _destination(self, staged, route_id, vs_id, namespace, role, path, destination, weight) -> None:
        raw_host = doc.text(destination, "host", path, required=True)
        port = doc.mapping(destination, "port", path)
        staged.setdefault("destination", []).append(
            (self.new_id(), route_id, vs_id, namespace, role, path, raw_host,
             self.host(hosts.resolve_host(raw_host, namespace, self.domain)),
             doc.text(destination, "subset", path), doc.integer(port, "number", path + ".port"), weight))

    def _load_destinationrule(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        raw_host = doc.text(spec, "host", "spec", required=True)
        self._exports(staged, object_id, doc.texts(spec, "exportTo", "spec"), namespace)
        policy = doc.mapping(spec, "trafficPolicy", "spec")
        staged["destination_rule"] = [(object_id, raw_host, self.host(hosts.resolve_host(raw_host, namespace, self.domain)),
                                       int(bool(policy)))]
        for index, subset in enumerate(doc.mappings(spec, "subsets", "spec")):
            path = "spec.subsets[%d]" % index
            subset_id = self.new_id()
            staged.setdefault("dr_subset", []).append((subset_id, object_id, index, doc.text(subset, "name", path, required=True)))
            staged.setdefault("subset_label", []).extend(
                (subset_id, k, v) for k, v in doc.labels(subset, "labels", path).items())
        # credentialName reaches sidecars only through a DestinationRule with a workloadSelector (Istio's reading).
        selects = spec.get("workloadSelector") is not None
        self._client_tls(staged, object_id, "spec.trafficPolicy", None, policy, selects)
        for index, setting in enumerate(doc.mappings(policy, "portLevelSettings", "spec.trafficPolicy")):
            path = "spec.trafficPolicy.portLevelSettings[%d]" % index
            port = doc.integer(doc.mapping(setting, "port", path), "number", path + ".port")
            self._client_tls(staged, object_id, path, port, setting, selects)

    def _client_tls(self, staged, dr_id: int, parent: str, port: Optional[int], policy: Dict[str, Any],
                    selects: bool) -> None:
        """The ``tls`` of a traffic policy; a ``tls`` without ``mode`` is DISABLE (the field's default), as Istio
        and Kiali read it."""
        if policy.get("tls") is None:
            return
        path = parent + ".tls"
        tls = doc.mapping(policy, "tls", parent)
        mode = (doc.text(tls, "mode", path) or "DISABLE").upper()
        # As Istio's analyzer decides it: the server is verified with a CA given inline, or through a credential
        # Secret where the rule selects workloads; insecureSkipVerify does not verify anything.
        verified = bool(doc.text(tls, "caCertificates", path) or (doc.text(tls, "credentialName", path) and selects))
        staged.setdefault("dr_tls", []).append((dr_id, path, port, mode, int(verified)))

    def _load_peerauthentication(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        selector = doc.labels(doc.mapping(spec, "selector", "spec"), "matchLabels", "spec.selector")
        self._selector(staged, object_id, selector)
        mode = (doc.text(doc.mapping(spec, "mtls", "spec"), "mode", "spec.mtls") or "UNSET").upper()
        staged["peer_authentication"] = [(object_id, namespace, int(bool(selector)), mode)]

    def _load_serviceentry(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        self._exports(staged, object_id, doc.texts(spec, "exportTo", "spec"), namespace)
        staged["registry"] = [(self.new_id(), object_id, index,
                               self.host(hosts.resolve_host(host, namespace, self.domain)))
                              for index, host in enumerate(doc.texts(spec, "hosts", "spec"))]
        status = doc.mapping(obj, "status", "")
        addressed = bool(doc.texts(spec, "addresses", "spec") or doc.sequence(status, "addresses", "status"))
        staged["service_entry"] = [(object_id, int(addressed))]
        self._ports(staged, object_id, spec)

    def _load_service(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        annotations = doc.labels(metadata, "annotations", "metadata")
        labels = doc.labels(metadata, "labels", "metadata")
        exports = [v for v in annotations.get(EXPORT_ANNOTATION, "").split(",") if v.strip()]
        self._exports(staged, object_id, exports, namespace)
        selector = doc.labels(spec, "selector", "spec")
        self._selector(staged, object_id, selector)
        # Istio's own Services (control plane, gateways it deploys) are not users' to name.
        istio_managed = "istio" in labels or bool(labels.get("istio.io/rev")) or GATEWAY_MANAGED_LABEL in labels
        staged["service"] = [(object_id, namespace, hosts.canonical_labels(selector),
                              doc.text(spec, "type", "spec") or "ClusterIP", int(istio_managed))]
        staged["registry"] = [(self.new_id(), object_id, 0,
                               self.host(hosts.service_fqdn(name, namespace, self.domain)))]
        staged["service_key"] = [("%s/%s" % (namespace, name),)]
        self._ports(staged, object_id, spec)

    def _ports(self, staged, object_id: int, spec: Dict[str, Any]) -> None:
        rows = []
        for index, port in enumerate(doc.mappings(spec, "ports", "spec")):
            path = "spec.ports[%d]" % index
            number = doc.integer(port, "number", path) if "number" in port else doc.integer(port, "port", path)
            port_name = doc.text(port, "name", path)
            target = port.get("targetPort")
            app_protocol = doc.text(port, "appProtocol", path)
            protocol = (doc.text(port, "protocol", path) or "TCP").upper()
            # Istio reads the protocol from appProtocol when set, else from the name; UDP is UDP either way.
            istio_protocol = "udp" if protocol == "UDP" else port_name_protocol(app_protocol or port_name)
            rows.append((object_id, index, number, port_name, protocol,
                         app_protocol.lower() if app_protocol else None, istio_protocol,
                         None if target is None or target == 0 else str(target)))
        staged["port"] = rows

    def _load_sidecar(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        selector = doc.labels(doc.mapping(spec, "workloadSelector", "spec"), "labels", "spec.workloadSelector")
        self._selector(staged, object_id, selector)
        staged["sidecar"] = [(object_id, namespace, int(bool(selector)))]
        if "outboundTrafficPolicy" in spec:
            policy = doc.mapping(spec, "outboundTrafficPolicy", "spec")
            staged["sidecar_outbound_policy"] = [
                (object_id, (doc.text(policy, "mode", "spec.outboundTrafficPolicy") or "").upper())]
        for index, listener in enumerate(doc.mappings(spec, "egress", "spec")):
            path = "spec.egress[%d].hosts" % index
            for host_index, host in enumerate(doc.texts(listener, "hosts", "spec.egress[%d]" % index)):
                scope, _slash, host_name = host.partition("/")
                scope = namespace if scope == "." else scope
                # A short name is a Service of the Sidecar's namespace, as Kiali reads it.
                staged.setdefault("sidecar_egress_host", []).append(
                    (object_id, "%s[%d]" % (path, host_index), scope,
                     self.host(hosts.resolve_host(host_name, namespace, self.domain)), host))

    def _load_secret(self, staged, object_id, namespace, name, metadata, obj) -> None:
        # Secret values never enter the model: only whether they make a usable TLS credential.
        staged["secret"] = [(namespace, name, certificates.credential_problem(obj, "data" in obj or "stringData" in obj))]

    def _load_workload(self, staged, object_id, namespace, name, metadata, obj) -> None:
        kind = obj["kind"]
        if kind == "Pod":
            pod_metadata, pod_spec, path = metadata, doc.mapping(obj, "spec", ""), "spec"
        else:
            template = doc.mapping(doc.mapping(obj, "spec", ""), "template", "spec")
            pod_metadata = doc.mapping(template, "metadata", "spec.template")
            pod_spec, path = doc.mapping(template, "spec", "spec.template"), "spec.template.spec"
        labels = doc.labels(pod_metadata, "labels", "metadata")
        annotations = doc.labels(pod_metadata, "annotations", "metadata")
        ports, proxied = [], False
        for field in ("containers", "initContainers"):
            for index, container in enumerate(doc.mappings(pod_spec, field, path)):
                container_path = "%s.%s[%d]" % (path, field, index)
                proxied = proxied or doc.text(container, "name", container_path) == "istio-proxy"
                ports += [(object_id, doc.integer(port, "containerPort", container_path + ".ports"),
                           doc.text(port, "name", container_path + ".ports"))
                          for port in doc.mappings(container, "ports", container_path) if field == "containers"]
        # Injected Pods listed as metadata only say so by the injector's status annotation.
        proxied = proxied or "sidecar.istio.io/status" in doc.labels(metadata, "annotations", "metadata")
        staged["workload"] = [(object_id, kind, namespace, name,
                               _injection(labels.get(INJECT_KEY, annotations.get(INJECT_KEY))), int(proxied),
                               int(pod_spec.get("hostNetwork") is True),
                               int(labels.get(DATAPLANE_MODE_LABEL) == "ambient"))]
        staged["workload_label"] = [(object_id, k, v) for k, v in labels.items()]
        staged["workload_port"] = ports

    def mark_scanned(self, kinds: Iterable[str]) -> None:
        """Record kinds that were listed even if none exist (a live cluster with no Pods)."""
        for kind in kinds:
            self.scanned.setdefault(kind, 0)

    def assume_istio_defaults(self, istio_namespace: str = DEFAULT_ISTIO_NAMESPACE) -> None:
        """Offline, assume what an Istio install always has: its default ingress gateway and Service.

        Only when the sources describe no running Pods (then they are the live state, and nothing is
        assumed) and bring no workload of their own for that selector. The assumed objects are never
        reported on, and the Service's ports are not assumed (installs change them): ``assumed`` table.
        """
        if self.scanned.get("Pod") or self._labelled_workload(INGRESS_GATEWAY_SELECTOR, None):
            return
        assumed = [self._synthetic_workload(istio_namespace, INGRESS_GATEWAY_NAME, INGRESS_GATEWAY_LABELS,
                                            ASSUMED_SOURCE)]
        if not self.defined("Service", istio_namespace, INGRESS_GATEWAY_NAME):
            assumed.append(self._synthetic_service(istio_namespace, INGRESS_GATEWAY_NAME, INGRESS_GATEWAY_LABELS, (),
                                                   ASSUMED_SOURCE))
        self._rows.setdefault("assumed", []).extend((object_id,) for object_id in assumed)

    def declare_gateway_ports(self, entries: Iterable[Dict[str, Any]],
                              istio_namespace: str = DEFAULT_ISTIO_NAMESPACE) -> None:
        """What the user says of a gateway the sources do not hold (option ``gateway_ports``): a Service with these
        ports selects the workloads with these labels in that namespace, and such a workload exists (it is added
        when no source has one). Entries: ``selector``, ``namespace`` (default: Istio's), ``ports`` (numbers)."""
        for index, entry in enumerate(entries):
            namespace = entry.get("namespace") or istio_namespace
            selector = dict(entry["selector"])
            name = "(gateway_ports[%d])" % index  # not a Kubernetes name: never one of the sources'
            if not self._labelled_workload(selector, namespace):
                self._synthetic_workload(namespace, name, selector, "option gateway_ports[%d]" % index)
            self._synthetic_service(namespace, name, selector, [(port, None) for port in dict.fromkeys(entry["ports"])],
                                    "option gateway_ports[%d]" % index, registered=False)

    def _labelled_workload(self, labels: Dict[str, str], namespace: Optional[str]) -> bool:
        """Whether a loaded workload (in the namespace, or in any when None) carries all these labels."""
        carried: Dict[int, int] = {}
        for workload_id, key, value in self._rows.get("workload_label", []):
            if labels.get(key) == value:
                carried[workload_id] = carried.get(workload_id, 0) + 1
        return any(carried.get(row[0]) == len(labels) and namespace in (None, row[2])
                   for row in self._rows.get("workload", []))

    def _synthetic_workload(self, namespace: str, name: str, labels: Dict[str, str], source: str) -> int:
        """A gateway Deployment no source has (never reported on)."""
        if self.defined("Deployment", namespace, name):
            name += "-assumed"
        workload_id = self.new_id()
        self._rows.setdefault("workload", []).append((workload_id, "Deployment", namespace, name, 0, 1, 0, 0))
        self._rows.setdefault("workload_label", []).extend((workload_id, k, v) for k, v in labels.items())
        self._rows.setdefault("object", []).append((workload_id, "Deployment", namespace, name, 0, 0, "", source))
        return workload_id

    def _synthetic_service(self, namespace: str, name: str, selector: Dict[str, str],
                           ports: Iterable[Tuple[int, Optional[int]]], source: str, registered: bool = True) -> int:
        """A Service no source has (never reported on): selector, (port, targetPort) pairs, exported everywhere;
        ``registered``: its host resolves (routes may name it)."""
        service_id = self.new_id()
        self._rows.setdefault("object", []).append((service_id, "Service", namespace, name, 0, 0, "", source))
        self._rows.setdefault("export", []).append((service_id, "*"))
        self._rows.setdefault("object_selector", []).extend((service_id, k, v) for k, v in selector.items())
        self._rows.setdefault("service", []).append(
            (service_id, namespace, hosts.canonical_labels(selector), "LoadBalancer", 1))
        if registered:
            self._rows.setdefault("registry", []).append(
                (self.new_id(), service_id, 0, self.host(hosts.service_fqdn(name, namespace, self.domain))))
        self._rows.setdefault("port", []).extend(
            (service_id, index, port, None, "TCP", None, None, None if target is None else str(target))
            for index, (port, target) in enumerate(ports))
        return service_id

    # -- derived tables ------------------------------------------------------
    def finish(self) -> "MeshModel":
        """Insert the staged rows and build the derived tables (idempotent)."""
        if self._finished:
            return self
        order = ("object", "suppression", "export", "object_selector", "namespace_info", "namespace_label", "gateway",
                 "gateway_class", "k8s_gateway", "k8s_listener", "k8s_listener_name", "k8s_listener_namespace_selector",
                 "k8s_address", "service_key", "k8s_reference", "k8s_route", "k8s_route_hostname", "k8s_parent_ref",
                 "reference_grant", "reference_grant_from", "reference_grant_to", "targetable_policy",
                 "policy_selector", "gateway_server", "server_host", "server_credential", "vs_host", "vs_gateway", "route", "route_match",
                 "invalid_regex",
                 "destination", "destination_rule", "dr_subset", "subset_label", "dr_tls", "peer_authentication",
                 "service", "service_entry",
                 "registry", "port", "sidecar", "sidecar_outbound_policy", "sidecar_egress_host", "workload", "workload_label",
                 "workload_port", "assumed")
        for table in order:
            rows = self._rows.pop(table, [])
            if rows:
                marks = ",".join("?" * len(rows[0]))
                self.db.executemany("INSERT INTO %s VALUES (%s)" % (table, marks), rows)
        self.db.executemany("INSERT OR IGNORE INTO secret VALUES (?, ?, ?)", self._rows.pop("secret", []))
        self.db.executemany("INSERT OR IGNORE INTO gateway_class VALUES (?, NULL)",
                            [(name,) for name in gatewayapi_model.ISTIO_GATEWAY_CLASSES])
        # Every host column holds a host registered by ``host()``, so a wildcard key that is not one of them joins
        # nothing: only the others are stored. Sorted, the primary-key B-tree is appended to instead of split.
        known = self._hosts
        self.db.executemany("INSERT INTO host_key VALUES (?, ?)", sorted(
            (host, key) for host in known for key in hosts.lookup_keys(host) if key == host or key in known))
        # One statement at a time: executescript() would COMMIT the open transaction.
        for statement in DERIVED.split(";\n"):
            if statement.strip():
                self.db.execute(statement)
        self._finished = True
        return self

    def close(self) -> None:
        self.db.close()


def _canonical_match(match: Dict[str, Any]) -> str:
    """A route match as Istio compares matches (IST0130, IST0131): its JSON without its name and without the
    zero values Istio's serialization omits."""
    def without_zeros(value: Any) -> Any:
        if isinstance(value, dict):
            kept = {key: without_zeros(item) for key, item in value.items()}
            return {key: item for key, item in kept.items() if item not in (None, False, "", 0, {}, [])}
        return [without_zeros(item) for item in value] if isinstance(value, list) else value
    return json.dumps(without_zeros({key: item for key, item in match.items() if key != "name"}), sort_keys=True,
                      default=str)


def _suppressions(object_id: int, metadata: Dict[str, Any]) -> List[Tuple[int, str, str]]:
    """(object, annotation, code) rows of the suppression annotations an object carries."""
    annotations = doc.labels(metadata, "annotations", "metadata")
    return [(object_id, annotation, code)
            for annotation in SUPPRESS_ANNOTATIONS
            for code in dict.fromkeys(part.strip().upper() for part in annotations.get(annotation, "").split(","))
            if code]
