# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-memory SQLite model of a mesh.

Objects are parsed once, their references normalised to Istio's runtime names
(FQDN hosts, ``namespace/name`` gateways, wildcard lookup keys), and stored in
tables whose keys and constraints carry the integrity rules:

* ownership (a server belongs to a Gateway, a subset to a DestinationRule) is
  an enforced foreign key with ON DELETE CASCADE;
* a VirtualService's Gateway reference is a deferred foreign key into
  ``gateway(ref_key)``: ``PRAGMA foreign_key_check`` lists the dangling ones;
* object identity (kind, namespace, name) is a unique constraint.

The connection stays inside one open transaction and is never committed:
deferred constraints are checked at COMMIT, and an analysis database is
thrown away, so the dangling references can stay and be reported.
"""

from __future__ import annotations

import datetime
import sqlite3
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import documents as doc
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import hosts

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "meshops.istio_integrity"
EXPORT_ANNOTATION = "networking.istio.io/exportTo"

ISTIO_KINDS = ("Gateway", "VirtualService", "DestinationRule", "ServiceEntry")
WORKLOAD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
WORKLOAD_KINDS = ("Pod",) + WORKLOAD_TEMPLATE_KINDS
MODELLED_KINDS = ISTIO_KINDS + ("Service", "Secret") + WORKLOAD_KINDS

# Protocol prefixes Istio reads from a Service port name (protocol selection).
PORT_NAME_PROTOCOLS = ("grpc-web", "grpc", "http2", "https", "http", "mongo", "mysql", "redis", "tcp", "tls", "udp")

SCHEMA = """
CREATE TABLE object (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    managed INTEGER NOT NULL,
    in_scope INTEGER NOT NULL,
    created TEXT NOT NULL,
    source TEXT NOT NULL,
    UNIQUE (kind, namespace, name)
);
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
    protocol TEXT,
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
    match_all INTEGER NOT NULL
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
    host TEXT NOT NULL
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
CREATE TABLE service (
    object_id INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    selector TEXT NOT NULL
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
CREATE TABLE workload (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE TABLE workload_label (
    workload_id INTEGER NOT NULL REFERENCES workload(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (key, value, workload_id)
) WITHOUT ROWID;
CREATE TABLE secret (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
) WITHOUT ROWID;
CREATE TABLE host_key (
    host TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (host, key)
) WITHOUT ROWID;
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
"""

# Tables derived once after loading; every check that needs them reads them.
# (Indexes on bulk-loaded tables are built here too: cheaper after the load than during it.)
DERIVED = """
CREATE INDEX host_key_by_key ON host_key(key, host);

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
"""


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
    """The protocol Istio infers from a port name (``http-web`` -> ``http``), if any."""
    if not name:
        return None
    lowered = name.lower()
    for protocol in PORT_NAME_PROTOCOLS:
        if lowered == protocol or lowered.startswith(protocol + "-"):
            return protocol
    return None


class MeshModel:
    """Loads objects into SQLite rows; ``finish()`` builds the derived tables."""

    def __init__(self, domain: str = hosts.DEFAULT_DOMAIN, default_namespace: str = "default",
                 scope: Optional[Any] = None) -> None:
        self.domain = domain
        self.default_namespace = default_namespace
        self.scope = scope  # callable(kind, namespace, labels) -> bool; None: everything in scope
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(SCHEMA)
        self.db.execute("BEGIN")
        self.scanned: Dict[str, int] = {}
        self._rows: Dict[str, List[Tuple[Any, ...]]] = {}
        self._identities: Dict[Tuple[str, str, str], str] = {}
        self._hosts: set = set()
        self._last_id = 0  # ids are shared by all tables: one counter, advanced per staged row
        self._finished = False
        self._loaders = {"Gateway": self._load_gateway, "VirtualService": self._load_virtualservice,
                         "DestinationRule": self._load_destinationrule, "ServiceEntry": self._load_serviceentry,
                         "Service": self._load_service, "Secret": self._load_secret}

    # -- loading -------------------------------------------------------------
    def add(self, obj: Dict[str, Any], source: str) -> Optional[str]:
        """Model one Kubernetes object; returns its kind, or None when the kind is not modelled.

        Raises ``InvalidDocument`` (a field has the wrong type or is missing)
        or ``DuplicateObject``; the model is unchanged in both cases.
        """
        kind = obj.get("kind")
        if kind not in MODELLED_KINDS:
            return None
        metadata = doc.mapping(obj, "metadata", "")
        name = doc.text(metadata, "name", "metadata", required=True)
        namespace = doc.text(metadata, "namespace", "metadata") or self.default_namespace
        labels = doc.labels(metadata, "labels", "metadata")
        identity = (kind, namespace, name)
        if identity in self._identities:
            raise DuplicateObject("%s %s/%s is already defined by %s" % (kind, namespace, name, self._identities[identity]))
        staged: Dict[str, List[Tuple[Any, ...]]] = {}
        object_id = self._new_id()
        # Rows are staged and merged only once the whole object parsed (ids skipped by a failure are harmless).
        self._loaders.get(kind, self._load_workload)(staged, object_id, namespace, name, metadata, obj)
        self._identities[identity] = source
        self.scanned[kind] = self.scanned.get(kind, 0) + 1
        for table, rows in staged.items():
            self._rows.setdefault(table, []).extend(rows)
        if kind not in WORKLOAD_KINDS and kind != "Secret":
            in_scope = self.scope is None or self.scope(kind, namespace, labels)
            managed = labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE
            created = _timestamp(metadata.get("creationTimestamp"))
            self._rows.setdefault("object", []).append(
                (object_id, kind, namespace, name, int(managed), int(in_scope), created, source))
        return kind

    def hide(self, kind: str, namespace: str, name: str) -> None:
        """Treat the object as gone (about to be deleted): later copies of it are overridden."""
        self._identities.setdefault((kind, namespace, name), "(removed)")

    def defined(self, kind: str, namespace: str, name: str) -> bool:
        """Whether an object of that identity is already loaded."""
        return (kind, namespace, name) in self._identities

    def _new_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def _exports(self, staged, object_id: int, values: List[str], namespace: str) -> None:
        staged.setdefault("export", []).extend(
            (object_id, ns) for ns in hosts.export_namespaces(values, namespace))

    def _selector(self, staged, object_id: int, selector: Dict[str, str]) -> None:
        staged.setdefault("object_selector", []).extend((object_id, k, v) for k, v in selector.items())

    def _host(self, host: str) -> str:
        self._hosts.add(host)
        return host

    def _load_gateway(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        selector = doc.labels(spec, "selector", "spec")
        self._selector(staged, object_id, selector)
        staged["gateway"] = [(object_id, "%s/%s" % (namespace, name), name, hosts.canonical_labels(selector))]
        for index, server in enumerate(doc.mappings(spec, "servers", "spec")):
            path = "spec.servers[%d]" % index
            port = doc.mapping(server, "port", path)
            server_id = self._new_id()
            staged.setdefault("gateway_server", []).append(
                (server_id, object_id, index, doc.integer(port, "number", path + ".port"),
                 (doc.text(port, "protocol", path + ".port") or "").upper()))
            for host_index, host in enumerate(doc.texts(server, "hosts", path)):
                scope, host_name = hosts.split_server_host(host, namespace)
                staged.setdefault("server_host", []).append(
                    (server_id, host_index, scope, self._host(host_name), host))
            tls = doc.mapping(server, "tls", path)
            credentials = [(path + ".tls.credentialName", doc.text(tls, "credentialName", path + ".tls"))]
            credentials += [("%s.tls.credentialNames[%d]" % (path, i), value)
                            for i, value in enumerate(doc.texts(tls, "credentialNames", path + ".tls"))]
            staged.setdefault("server_credential", []).extend(
                (server_id, field, secret.replace("kubernetes://", "", 1)) for field, secret in credentials if secret)

    def _load_virtualservice(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        self._exports(staged, object_id, doc.texts(spec, "exportTo", "spec"), namespace)
        staged["vs_host"] = [(object_id, index, self._host(hosts.resolve_host(host, namespace, self.domain)), host)
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
                (self._new_id(), object_id, path, ref, binds, hosts.gateway_key(ref, namespace)))

    def _load_route(self, staged, vs_id, namespace, protocol, index, rule) -> List[Tuple[Optional[str], str, int]]:
        """Stage one http/tcp/tls rule; returns the Gateway references of its matches."""
        path = "spec.%s[%d]" % (protocol, index)
        matches = doc.mappings(rule, "match", path)
        refs = []
        for match_index, match in enumerate(matches):
            match_path = "%s.match[%d]" % (path, match_index)
            refs += [("%s.gateways[%d]" % (match_path, i), ref, 0)
                     for i, ref in enumerate(doc.texts(match, "gateways", match_path))]
        route_id = self._new_id()
        staged.setdefault("route", []).append((route_id, vs_id, protocol, index, int(_matches_everything(matches))))
        for dest_index, target in enumerate(doc.mappings(rule, "route", path)):
            dest_path = "%s.route[%d]" % (path, dest_index)
            self._destination(staged, route_id, vs_id, namespace, "route", dest_path + ".destination",
                              doc.mapping(target, "destination", dest_path), doc.integer(target, "weight", dest_path))
        if "mirror" in rule:
            self._destination(staged, route_id, vs_id, namespace, "mirror", path + ".mirror",
                              doc.mapping(rule, "mirror", path), None)
        for mirror_index, mirror in enumerate(doc.mappings(rule, "mirrors", path)):
            mirror_path = "%s.mirrors[%d]" % (path, mirror_index)
            self._destination(staged, route_id, vs_id, namespace, "mirror", mirror_path + ".destination",
                              doc.mapping(mirror, "destination", mirror_path), None)
        return refs

    def _destination(self, staged, route_id, vs_id, namespace, role, path, destination, weight) -> None:
        raw_host = doc.text(destination, "host", path, required=True)
        port = doc.mapping(destination, "port", path)
        staged.setdefault("destination", []).append(
            (self._new_id(), route_id, vs_id, namespace, role, path, raw_host,
             self._host(hosts.resolve_host(raw_host, namespace, self.domain)),
             doc.text(destination, "subset", path), doc.integer(port, "number", path + ".port"), weight))

    def _load_destinationrule(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        raw_host = doc.text(spec, "host", "spec", required=True)
        self._exports(staged, object_id, doc.texts(spec, "exportTo", "spec"), namespace)
        staged["destination_rule"] = [(object_id, raw_host, self._host(hosts.resolve_host(raw_host, namespace, self.domain)))]
        for index, subset in enumerate(doc.mappings(spec, "subsets", "spec")):
            path = "spec.subsets[%d]" % index
            subset_id = self._new_id()
            staged.setdefault("dr_subset", []).append((subset_id, object_id, index, doc.text(subset, "name", path, required=True)))
            staged.setdefault("subset_label", []).extend(
                (subset_id, k, v) for k, v in doc.labels(subset, "labels", path).items())

    def _load_serviceentry(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        self._exports(staged, object_id, doc.texts(spec, "exportTo", "spec"), namespace)
        staged["registry"] = [(self._new_id(), object_id, index, self._host(host.strip().lower()))
                              for index, host in enumerate(doc.texts(spec, "hosts", "spec"))]
        self._ports(staged, object_id, spec)

    def _load_service(self, staged, object_id, namespace, name, metadata, obj) -> None:
        spec = doc.mapping(obj, "spec", "")
        annotations = doc.labels(metadata, "annotations", "metadata")
        exports = [v for v in annotations.get(EXPORT_ANNOTATION, "").split(",") if v.strip()]
        self._exports(staged, object_id, exports, namespace)
        selector = doc.labels(spec, "selector", "spec")
        self._selector(staged, object_id, selector)
        staged["service"] = [(object_id, namespace, hosts.canonical_labels(selector))]
        staged["registry"] = [(self._new_id(), object_id, 0,
                               self._host(hosts.service_fqdn(name, namespace, self.domain)))]
        self._ports(staged, object_id, spec)

    def _ports(self, staged, object_id: int, spec: Dict[str, Any]) -> None:
        rows = []
        for index, port in enumerate(doc.mappings(spec, "ports", "spec")):
            path = "spec.ports[%d]" % index
            number = doc.integer(port, "number", path) if "number" in port else doc.integer(port, "port", path)
            port_name = doc.text(port, "name", path)
            target = port.get("targetPort")
            app_protocol = doc.text(port, "appProtocol", path)
            rows.append((object_id, index, number, port_name, (doc.text(port, "protocol", path) or "TCP").upper(),
                         app_protocol.lower() if app_protocol else None, port_name_protocol(port_name),
                         None if target is None else str(target)))
        staged["port"] = rows

    def _load_secret(self, staged, object_id, namespace, name, metadata, obj) -> None:
        # Only the name is modelled: secret data never enters the engine.
        staged["secret"] = [(namespace, name)]

    def _load_workload(self, staged, object_id, namespace, name, metadata, obj) -> None:
        kind = obj["kind"]
        if kind == "Pod":
            labels = doc.labels(metadata, "labels", "metadata")
        else:
            template = doc.mapping(doc.mapping(obj, "spec", ""), "template", "spec")
            labels = doc.labels(doc.mapping(template, "metadata", "spec.template"), "labels", "spec.template.metadata")
        staged["workload"] = [(object_id, kind, namespace, name)]
        staged["workload_label"] = [(object_id, k, v) for k, v in labels.items()]

    def mark_scanned(self, kinds: Iterable[str]) -> None:
        """Record kinds that were listed even if none exist (a live cluster with no Pods)."""
        for kind in kinds:
            self.scanned.setdefault(kind, 0)

    # -- derived tables ------------------------------------------------------
    def finish(self) -> "MeshModel":
        """Insert the staged rows and build the derived tables (idempotent)."""
        if self._finished:
            return self
        order = ("object", "export", "object_selector", "gateway", "gateway_server", "server_host",
                 "server_credential", "vs_host", "vs_gateway", "route", "destination", "destination_rule",
                 "dr_subset", "subset_label", "service", "registry", "port", "workload", "workload_label")
        for table in order:
            rows = self._rows.pop(table, [])
            if rows:
                marks = ",".join("?" * len(rows[0]))
                self.db.executemany("INSERT INTO %s VALUES (%s)" % (table, marks), rows)
        self.db.executemany("INSERT OR IGNORE INTO secret VALUES (?, ?)", self._rows.pop("secret", []))
        # Sorted, the primary-key B-tree is appended to instead of split all over.
        self.db.executemany("INSERT INTO host_key VALUES (?, ?)",
                            sorted((host, key) for host in self._hosts for key in hosts.lookup_keys(host)))
        # One statement at a time: executescript() would COMMIT the open transaction.
        for statement in DERIVED.split(";\n"):
            if statement.strip():
                self.db.execute(statement)
        self._finished = True
        return self

    def close(self) -> None:
        self.db.close()


def _matches_everything(matches: List[Dict[str, Any]]) -> bool:
    """A rule with no match, an empty match, or only ``uri: {prefix: /}`` catches all requests."""
    if not matches:
        return True
    for match in matches:
        conditions = {key: value for key, value in match.items() if key != "name"}
        if not conditions or conditions == {"uri": {"prefix": "/"}}:
            return True
    return False
