# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The traffic graph of a checked model: nodes and edges, as data any report can draw.

Gateway -> VirtualService -> Service / ServiceEntry -> DestinationRule subset -> workload,
each node in its namespace; Gateway API Gateways and routes take the columns of
Istio's Gateways and VirtualServices. The edges that exist come from the model (the
same resolution the checks use); a broken reference is an edge to a
placeholder node named after what is missing; the parties of a conflict are
linked. ``scope="broken"`` is the part a reader needs to see the problems, and
costs next to nothing whatever the mesh size: the objects with findings and the
other parties they name, their placeholders, and the edges among them.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Set, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.gatewayapi_model import ROUTE_KINDS
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import (
    GATEWAY_API_GROUP, KUBERNETES_GATEWAY, WORKLOAD_KINDS, MeshModel, object_identity)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.kinds import DISPLAY_KINDS

GRAPH_KINDS = ("Gateway", KUBERNETES_GATEWAY, "VirtualService", "Service", "ServiceEntry",
               "DestinationRule") + ROUTE_KINDS + WORKLOAD_KINDS
# The column each kind is drawn in, left to right along the path of a request.
LAYER = dict({"Gateway": 0, "VirtualService": 1, "Service": 2, "ServiceEntry": 2, "DestinationRule": 3},
             **{kind: 1 for kind in ROUTE_KINDS}, **{kind: 4 for kind in WORKLOAD_KINDS})
# Findings about a reference to something missing: code -> kind of the missing thing.
MISSING = {"MSH101": "Gateway", "MSH110": "Gateway", "MSH102": "Service", "MSH106": "Service",
           "MSH103": "DestinationRule", "MSH401": "Deployment", "MSH402": "Deployment", "MSH701": "Gateway",
           "MSH704": "Service", "MSH705": "Service"}

EDGES_SQL = {
    # Gateway -> VirtualService bound to it (mesh-only VirtualServices have no gateway edge)
    "binds": """SELECT gw.object_id, g.vs_id FROM vs_gateway g JOIN gateway gw ON gw.ref_key = g.gateway_key
                WHERE g.binds = 1""",
    # VirtualService -> the Services and ServiceEntries its destinations resolve to
    "routes": """SELECT DISTINCT d.vs_id, t.target_id FROM destination d
                 JOIN destination_target t ON t.destination_id = d.id
                 UNION
                 SELECT DISTINCT b.object_id, o.id FROM k8s_reference b
                 JOIN object o ON o.kind = 'Service' AND o.namespace = b.namespace AND o.name = b.name
                 WHERE b.role IN ('backend', 'mirror') AND b.grp = '' AND b.kind = 'Service'""",
    # Gateway API Gateway -> the routes attached to it
    "attaches": """SELECT DISTINCT k.object_id, p.route_id FROM k8s_parent_ref p
                   JOIN k8s_gateway k ON k.ref_key = p.gateway_key""",
    # Gateway -> the gateway workloads its selector picks
    "selects": """SELECT s.object_id, s.workload_id FROM selection s JOIN object o ON o.id = s.object_id
                  WHERE o.kind = 'Gateway'""",
}
SUBSETS_SQL = """
SELECT s.id, s.name, dr.object_id, r.object_id
FROM dr_subset s
JOIN destination_rule dr ON dr.object_id = s.dr_id
JOIN host_key k ON k.host = dr.host
JOIN registry r ON r.host = k.key
"""
# Subset -> workloads of its Service that carry every label of the subset.
SUBSET_WORKLOADS_SQL = """
SELECT s.id, sel.workload_id
FROM dr_subset s
JOIN destination_rule dr ON dr.object_id = s.dr_id
JOIN host_key k ON k.host = dr.host
JOIN registry r ON r.host = k.key
JOIN selection sel ON sel.object_id = r.object_id
WHERE NOT EXISTS (SELECT 1 FROM subset_label l WHERE l.subset_id = s.id AND NOT EXISTS (
    SELECT 1 FROM workload_label wl WHERE wl.workload_id = sel.workload_id AND wl.key = l.key AND wl.value = l.value))
"""
# Service -> the workloads it selects, for Services without subsets.
SERVICE_WORKLOADS_SQL = """
SELECT s.object_id, s.workload_id FROM selection s JOIN object o ON o.id = s.object_id WHERE o.kind = 'Service'
"""


def node_id(kind: str, namespace: str, name: str, group: str = "") -> str:
    """A node's id: the object's identity, the Gateway API Gateway told from Istio's by its group."""
    return object_identity(kind, group, namespace, name)


def _model_kind(party: Dict[str, Any]) -> str:
    if party["kind"] == "Gateway" and party.get("api_group") == GATEWAY_API_GROUP:
        return KUBERNETES_GATEWAY
    return party["kind"]


class _Builder:
    def __init__(self) -> None:
        self.nodes: Dict[str, Dict[str, Any]] = {}
        self.edges: Dict[Tuple[str, str, str], Dict[str, Any]] = {}

    def node(self, kind: str, namespace: str, name: str, group: str = "", **extra: Any) -> str:
        key = extra.pop("key", None) or node_id(kind, namespace, name, group)
        if key not in self.nodes:
            shown = DISPLAY_KINDS.get(kind, kind)
            self.nodes[key] = dict({"id": key, "kind": shown, "namespace": namespace, "name": name,
                                    "layer": LAYER.get(shown, 4), "findings": [], "severity": ""}, **extra)
            if kind == KUBERNETES_GATEWAY or group == GATEWAY_API_GROUP or kind in ROUTE_KINDS:
                self.nodes[key]["api_group"] = GATEWAY_API_GROUP
        return key

    def edge(self, source: str, target: str, kind: str, **extra: Any) -> Dict[str, Any]:
        key = (source, target, kind)
        if key not in self.edges:
            self.edges[key] = dict({"source": source, "target": target, "kind": kind, "broken": False, "codes": []},
                                   **extra)
        return self.edges[key]


def mesh_graph(model: MeshModel, violations: Iterable[Dict[str, Any]], scope: str = "all") -> Dict[str, Any]:
    """Nodes and edges of the mesh (``scope`` ``all``) or of its broken part (``broken``)."""
    graph = _Builder()
    db = model.db
    violations = list(violations)
    where = "kind IN (%s) AND source NOT LIKE '(assumed%%'" % ",".join("?" * len(GRAPH_KINDS))
    if scope == "broken":
        db.execute("CREATE TEMP TABLE IF NOT EXISTS graph_part (kind TEXT, namespace TEXT, name TEXT)")
        db.execute("DELETE FROM graph_part")
        db.executemany("INSERT INTO graph_part VALUES (?, ?, ?)", [
            (_model_kind(party), party["namespace"], party["name"])
            for violation in violations for party in [violation] + violation.get("related", [])])
        where += " AND (kind, namespace, name) IN (SELECT kind, namespace, name FROM graph_part)"
    objects = {row[0]: graph.node(row[1], row[2], row[3]) for row in db.execute(
        "SELECT id, kind, namespace, name FROM object WHERE " + where, GRAPH_KINDS)}
    for kind, sql in EDGES_SQL.items():
        for source, target in db.execute(sql):
            if source in objects and target in objects:
                graph.edge(objects[source], objects[target], kind)
    subsets: Dict[int, str] = {}
    with_subsets: Set[int] = set()
    for subset_id, name, rule_id, service_id in db.execute(SUBSETS_SQL):
        if rule_id in objects and service_id in objects:
            rule = graph.nodes[objects[rule_id]]
            subsets[subset_id] = graph.node("DestinationRule", rule["namespace"], "%s:%s" % (rule["name"], name),
                                            key="%s:%s" % (objects[rule_id], name), subset=name, rule=objects[rule_id])
            graph.edge(objects[service_id], subsets[subset_id], "subset")
            with_subsets.add(service_id)
    for subset_id, workload_id in db.execute(SUBSET_WORKLOADS_SQL):
        if subset_id in subsets and workload_id in objects:
            graph.edge(subsets[subset_id], objects[workload_id], "selects")
    for service_id, workload_id in db.execute(SERVICE_WORKLOADS_SQL):
        if service_id not in with_subsets and service_id in objects and workload_id in objects:
            graph.edge(objects[service_id], objects[workload_id], "selects")
    _add_findings(graph, violations)
    return {"scope": scope,
            "nodes": sorted(graph.nodes.values(), key=lambda n: (n["layer"], n["namespace"], n["name"])),
            "edges": sorted(graph.edges.values(), key=lambda e: (e["source"], e["target"], e["kind"]))}


_RANK = {"error": 3, "warning": 2, "info": 1, "": 0}


def _add_findings(graph: _Builder, violations: List[Dict[str, Any]]) -> None:
    for violation in violations:
        subject = graph.node(violation["kind"], violation["namespace"], violation["name"], violation.get("api_group", ""))
        node = graph.nodes[subject]
        node["findings"].append(violation["id"])
        if _RANK[violation["severity"]] > _RANK[node["severity"]]:
            node["severity"] = violation["severity"]
        missing_kind = MISSING.get(violation["code"])
        if missing_kind:
            placeholder = _placeholder(graph, violation, missing_kind)
            edge = graph.edge(subject, placeholder, "missing", broken=True)
            edge["codes"].append(violation["code"])
        # Conflicts (the MSH2xx family) link their parties; other findings link the object they name.
        link = "conflict" if violation["code"].startswith("MSH2") else "related"
        for party in violation.get("related", []):
            other = graph.node(party["kind"], party["namespace"], party["name"], party.get("api_group", ""))
            if other != subject and (other, subject, link) not in graph.edges:
                edge = graph.edge(subject, other, link)
                if violation["code"] not in edge["codes"]:
                    edge["codes"].append(violation["code"])


def _placeholder(graph: _Builder, violation: Dict[str, Any], kind: str) -> str:
    """A node for what a reference names and does not find, in the namespace the name points to."""
    target = str(violation.get("target") or "")
    namespace = violation["namespace"]
    if kind == "Gateway" and "/" in target:
        namespace, _slash, name = target.partition("/")
    elif kind == "Service" and ".svc." in target:
        name, namespace = target.split(".")[:2]
    elif kind == "DestinationRule":
        name = "subset %s of %s" % (violation.get("subset") or "?", target.split(".", maxsplit=1)[0] if ".svc." in target else target)
    elif kind == "Deployment":
        name = "workload for %s" % ("subset " + violation["subset"] if violation.get("subset") else violation["name"])
    else:
        name = target or violation["path"]
    return graph.node(kind, namespace, name, key="missing:%s/%s/%s" % (kind, namespace, name), missing=True)
