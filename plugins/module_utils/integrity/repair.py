# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repair plan: at most one action per object, each tied to the violations it fixes.

* ``delete``: an orphaned VirtualService (MSH108) or DestinationRule (MSH106);
* ``create``: a missing Gateway (MSH101) whose VirtualServices are not deleted,
  its servers built from the hosts of every VirtualService referencing it; a
  ReferenceGrant permitting the cross-namespace references of Gateway API
  routes and Gateways (MSH707), one per target namespace and referring kind;
* ``patch``: a JSON patch removing conflicting hosts from the newer object
  (MSH201, MSH202), guarded by ``test`` operations so it fails rather than
  removes the wrong entry if the object changed meanwhile;
* ``manual``: no safe automatic fix; the reason says why.

An action is ``safe`` only when every object it touches carries our
managed-by label. For a created Gateway, that is every VirtualService it is
created for: we do not expose traffic of objects somebody else owns.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.gatewayapi_model import GROUP
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import (
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, MeshModel)

DEFAULT_GATEWAY_SELECTOR = {"istio": "ingressgateway"}
ISTIO_API_VERSION = "networking.istio.io/v1"
REFERENCE_GRANT_API_VERSION = GROUP + "/v1beta1"

DELETE_CODES = {"MSH108": "VirtualService", "MSH106": "DestinationRule"}
PATCH_CODES = ("MSH201", "MSH202")  # host clashes: the newer parties give the host up
MANUAL_REASONS = {
    "MSH101": "the Gateway cannot be created for this reference",
    "MSH801": "correct the document: the API server refuses it",
    "MSH802": "correct the document: the API server refuses it",
    "MSH803": "correct the document: the API server refuses it",
    "MSH102": "the destination host must be corrected or its Service created by its owner",
    "MSH103": "the subset must be added to a DestinationRule or the route corrected",
    "MSH104": "the destination port must match a port of the service",
    "MSH105": "choose which port of the service the route targets",
    "MSH107": "add the host to the Gateway or bind the VirtualService to the right Gateway",
    "MSH109": "the TLS Secret must be created by whoever holds the certificate",
    "MSH110": "bind an HTTPRoute to the Gateway API Gateway or create an Istio Gateway",
    "MSH111": "route the gateway's traffic to a subset, or move the subset routing where it applies",
    "MSH112": "correct the egress host or create its Service",
    "MSH408": "correct the policy's selector or remove the policy",
    "MSH510": "set outboundTrafficPolicy.mode to the intended value",
    "MSH113": "write the gateway reference as namespace/name",
    "MSH114": "add the routes or delete the VirtualService",
    "MSH115": "rewrite the regular expression in RE2 syntax",
    "MSH203": "merge the DestinationRules or make their subsets distinct",
    "MSH204": "merge the ServiceEntries or remove the duplicate host",
    "MSH205": "rename or renumber the conflicting port",
    "MSH206": "narrow the workload selectors so one Sidecar applies to each workload",
    "MSH207": "merge the namespace-wide Sidecars into one",
    "MSH209": "use one protocol per port across the Services selecting the workload",
    "MSH210": "map each target port from one port across the Services selecting the workload",
    "MSH301": "decide the intended traffic split",
    "MSH302": "merge the repeated destinations",
    "MSH303": "reorder the rules or narrow the match-all rule",
    "MSH304": "remove the duplicate match or reorder the rules",
    "MSH401": "deploy the gateway workload or correct the selector",
    "MSH402": "correct the subset labels or deploy the workload version",
    "MSH403": "expose the port on the gateway Service",
    "MSH404": "correct the workload selector or deploy the workload",
    "MSH405": "remove the Sidecar or take the workloads out of ambient mode",
    "MSH406": "expose the container port or correct the Service's targetPort",
    "MSH407": "restart the Pod so that the injector adds the proxy",
    "MSH501": "delete the Gateway if it is no longer needed",
    "MSH502": "rename the port to <protocol>[-suffix] or set appProtocol",
    "MSH503": "give the subset labels that select one version",
    "MSH504": "name the port after its protocol (not tcp) or set appProtocol",
    "MSH507": "add addresses to the ServiceEntry or use a protocol that carries a host name",
    "MSH508": "drop the workload selector, or move the Sidecar out of the root namespace",
    "MSH509": "name the server port after its protocol",
    "MSH601": "set caCertificates (or a credentialName holding the CA) to verify the server",
    "MSH602": "set caCertificates (or a credentialName holding the CA) to verify the server",
    "MSH603": "replace the Secret's certificate and key",
    "MSH604": "give each Gateway its own certificate",
    "MSH605": "add tls mode ISTIO_MUTUAL to the traffic policy",
    "MSH606": "add a mesh-wide PeerAuthentication (STRICT or PERMISSIVE) or drop ISTIO_MUTUAL from the rule",
    "MSH607": "add a namespace PeerAuthentication (STRICT or PERMISSIVE) or drop ISTIO_MUTUAL from the rule",
    "MSH608": "make the PeerAuthentication PERMISSIVE or stop disabling mutual TLS",
    "MSH609": "make the mesh-wide PeerAuthentication PERMISSIVE or stop disabling mutual TLS",
    "MSH701": "create the Gateway or correct the parentRef",
    "MSH702": "let the listener's allowedRoutes admit the route's namespace and kind, or attach it elsewhere",
    "MSH703": "name an existing listener in sectionName/port",
    "MSH704": "correct the backend name or create its Service",
    "MSH705": "correct the parent Service or create it",
    "MSH706": "use a port of the Service",
    "MSH707": "a ReferenceGrant in the target namespace must permit the reference (its owner creates it)",
    "MSH708": "the certificate Secret must be created by whoever holds the certificate",
    "MSH709": "give each Gateway's listeners distinct hostnames, or merge the Gateways",
    "MSH710": "give each Gateway its own address",
    "MSH711": "merge or remove the repeated listener",
    "MSH712": "name an installed GatewayClass",
    "MSH713": "correct the namespace or remove the grant's entry",
    "MSH714": "add the hostname to a listener or correct the route's hostnames",
    "MSH715": "keep one of the route and the VirtualService for the host",
    "MSH716": "select the Gateway with targetRefs instead of a workload selector",
    "MSH717": "attach an HTTPRoute to the Gateway API Gateway, or bind the VirtualService to an Istio Gateway",
}


class _Planner:
    def __init__(self, model: MeshModel, violations: List[Dict[str, Any]],
                 gateway_selector: Optional[Dict[str, str]]) -> None:
        self.db = model.db
        self.violations = violations
        self.gateway_selector = dict(gateway_selector or DEFAULT_GATEWAY_SELECTOR)
        self.actions: List[Dict[str, Any]] = []
        self.planned: Dict[int, Dict[str, Any]] = {}  # object id -> its action

    def _add(self, action: str, subject: Dict[str, Any], safe: bool, reason: str,
             covered: List[Dict[str, Any]], **extra: Any) -> Dict[str, Any]:
        entry = {"id": "A%d" % (len(self.actions) + 1), "action": action, "kind": subject["kind"],
                 "namespace": subject["namespace"], "name": subject["name"], "safe": safe, "reason": reason,
                 "violations": [v["id"] for v in covered]}
        entry.update(extra)
        self.actions.append(entry)
        for violation in covered:
            violation["repair"] = entry["id"]
        return entry

    def _by_object(self, codes: Tuple[str, ...]) -> Dict[int, List[Dict[str, Any]]]:
        grouped: Dict[int, List[Dict[str, Any]]] = {}
        for violation in self.violations:
            if violation["code"] in codes and "repair" not in violation:
                # A document the schema layer kept out of the model has no id: it is grouped by its source.
                key = violation["object_id"] if violation["object_id"] is not None else violation["source"]
                grouped.setdefault(key, []).append(violation)
        return grouped

    def deletions(self) -> None:
        for object_id, found in self._by_object(tuple(DELETE_CODES)).items():
            owned = [v for v in self.violations if v["object_id"] == object_id]
            subject = found[0]
            reason = found[0]["title"]
            self.planned[object_id] = self._add("delete", subject, subject["managed"], reason, owned)

    def gateway_creations(self) -> None:
        missing: Dict[str, List[Dict[str, Any]]] = {}
        for violation in self.violations:
            if violation["code"] == "MSH101" and "repair" not in violation:
                missing.setdefault(violation["target"], []).append(violation)
        # A missing Gateway serves no host (MSH107): creating it with the hosts fixes that too.
        unserved = [v for v in self.violations if v["code"] == "MSH107" and v["target"] in missing]
        port = self._gateway_http_port()
        for key, found in sorted(missing.items()):
            namespace, _slash, name = key.partition("/")
            vs_ids = sorted({v["object_id"] for v in found})
            hosts = [row["scoped"] for row in self.db.execute(
                "SELECT DISTINCT o.namespace || '/' || h.raw AS scoped FROM vs_host h JOIN object o ON o.id = h.vs_id "
                "WHERE h.vs_id IN (%s) ORDER BY scoped" % ",".join("?" * len(vs_ids)), vs_ids)]
            subject = {"kind": "Gateway", "namespace": namespace, "name": name}
            if not hosts:
                self._add("manual", subject, False, "the VirtualServices referencing it declare no hosts", found)
                continue
            manifest = {
                "apiVersion": ISTIO_API_VERSION, "kind": "Gateway",
                "metadata": {"name": name, "namespace": namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}},
                "spec": {"selector": self.gateway_selector,
                         "servers": [{"port": {"number": port, "name": "http", "protocol": "HTTP"}, "hosts": hosts}]},
            }
            safe = all(v["managed"] for v in found)
            reason = "missing Gateway referenced by %d VirtualService(s)" % len(vs_ids)
            covered = found + [v for v in unserved if v["target"] == key and "repair" not in v]
            self._add("create", subject, safe, reason, covered, manifest=manifest)

    def reference_grants(self) -> None:
        """One ReferenceGrant per target namespace and referring kind and namespace, naming each target."""
        grants: Dict[Tuple[str, str, str, str, str], List[Tuple[Dict[str, Any], str]]] = {}
        for violation in self.violations:
            if violation["code"] != "MSH707" or "repair" in violation:
                continue
            row = self.db.execute("SELECT from_kind, from_namespace, grp, kind, namespace, name FROM k8s_reference "
                                  "WHERE object_id = ? AND path = ?", (violation["object_id"], violation["path"])
                                  ).fetchone()
            key = (row["namespace"], row["from_kind"], row["from_namespace"], row["grp"], row["kind"])
            grants.setdefault(key, []).append((violation, row["name"]))
        for (namespace, from_kind, from_namespace, group, kind), found in sorted(grants.items()):
            name = "meshops-%s-%s-to-%s" % (from_kind.lower(), from_namespace, kind.lower())
            manifest = {
                "apiVersion": REFERENCE_GRANT_API_VERSION, "kind": "ReferenceGrant",
                "metadata": {"name": name, "namespace": namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}},
                "spec": {"from": [{"group": GROUP, "kind": from_kind, "namespace": from_namespace}],
                         "to": [{"group": group, "kind": kind, "name": target}
                                for target in sorted({target for _violation, target in found})]},
            }
            covered = [violation for violation, _target in found]
            # Granting access to another team's namespace is only ours to do for references we made.
            safe = all(v["managed"] for v in covered)
            reason = "permit %ss of namespace %s to refer to %s(s) %s" % (
                from_kind, from_namespace, kind, ", ".join(rule["name"] for rule in manifest["spec"]["to"]))
            self._add("create", {"kind": "ReferenceGrant", "namespace": namespace, "name": name}, safe, reason,
                      covered, manifest=manifest)

    def _gateway_http_port(self) -> int:
        """The port a created Gateway listens on: the HTTP target port of the gateway workloads' Service, else 80."""
        labels = sorted(self.gateway_selector.items())
        matches = " AND ".join(["EXISTS (SELECT 1 FROM workload_label l WHERE l.workload_id = sel.workload_id"
                                " AND l.key = ? AND l.value = ?)"] * len(labels)) or "1"
        row = self.db.execute(
            "SELECT coalesce(CASE WHEN p.target_port GLOB '[0-9]*' THEN CAST(p.target_port AS INTEGER) END, p.number)"
            " AS port FROM selection sel JOIN service sv ON sv.object_id = sel.object_id"
            " JOIN port p ON p.object_id = sv.object_id AND p.name_protocol IN ('http', 'http2')"
            " WHERE " + matches + " ORDER BY p.number LIMIT 1", [part for pair in labels for part in pair]).fetchone()
        return row["port"] if row and row["port"] else 80

    def host_removals(self) -> None:
        """Patch the newer parties of each host clash; the oldest party keeps the host."""
        for object_id, found in self._by_object(PATCH_CODES).items():
            found = [v for v in found if v.get("repair_target", True)]
            if object_id in self.planned or not found:
                continue
            subject = found[0]
            ops, problem = (self._vs_patch if subject["kind"] == "VirtualService" else self._gateway_patch)(
                object_id, found)
            if problem:
                self._add("manual", subject, False, problem, found)
                continue
            others = sorted({"%s/%s" % (r["namespace"], r["name"]) for v in found for r in v["related"]})
            reason = ("remove the conflicting host(s) from this %s, newer than the other parties (%s): the oldest "
                      "party keeps them" % (subject["kind"], ", ".join(others)))
            self.planned[object_id] = self._add("patch", subject, subject["managed"], reason, found, patch=ops)

    def kept_hosts(self) -> None:
        """The oldest party of a clash is fixed by the patches of the others: its finding points to one of them."""
        by_object = {(a["kind"], a["namespace"], a["name"]): a for a in self.actions}
        for violation in self.violations:
            if violation["code"] not in PATCH_CODES or "repair" in violation:
                continue
            for other in violation["related"]:
                action = by_object.get((other["kind"], other["namespace"], other["name"]))
                if action is not None and action["action"] in ("patch", "manual"):
                    violation["repair"] = action["id"]
                    action["violations"].append(violation["id"])
                    break

    def _vs_patch(self, object_id: int, found: List[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], str]:
        rows = {row["idx"]: row["raw"] for row in self.db.execute(
            "SELECT idx, raw FROM vs_host WHERE vs_id = ?", (object_id,))}
        doomed = sorted({int(v["path"].split("[")[1].rstrip("]")) for v in found})
        if len(doomed) >= len(rows):
            return [], "removing the conflicting host(s) would leave the VirtualService without hosts"
        return _guarded_removals(["/spec/hosts/%d" % i for i in doomed], [rows[i] for i in doomed]), ""

    def _gateway_patch(self, object_id: int, found: List[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], str]:
        hosts: Dict[int, Dict[int, str]] = {}
        for row in self.db.execute(
                "SELECT s.idx AS server, h.idx AS host, h.raw FROM gateway_server s JOIN server_host h "
                "ON h.server_id = s.id WHERE s.gateway_id = ?", (object_id,)):
            hosts.setdefault(row["server"], {})[row["host"]] = row["raw"]
        doomed: Dict[int, List[int]] = {}
        for violation in found:
            server, host = [int(part.split("]")[0]) for part in violation["path"].split("[")[1:3]]
            doomed.setdefault(server, []).append(host)
        emptied = [server for server, gone in doomed.items() if len(set(gone)) >= len(hosts.get(server, {}))]
        if len(emptied) >= len(hosts):
            return [], "removing the conflicting host(s) would leave the Gateway without servers"
        paths, values = [], []
        for server, gone in sorted(doomed.items()):
            if server in emptied:
                continue
            for host in sorted(set(gone)):
                paths.append("/spec/servers/%d/hosts/%d" % (server, host))
                values.append(hosts[server][host])
        # Servers left without hosts go whole; their removal comes after host removals of earlier servers.
        ops = _guarded_removals(paths, values)
        ops += [{"op": "remove", "path": "/spec/servers/%d" % server} for server in sorted(emptied, reverse=True)]
        return ops, ""

    def manual(self) -> None:
        for object_id, found in self._by_object(tuple(MANUAL_REASONS) + PATCH_CODES).items():
            reasons = list(dict.fromkeys(MANUAL_REASONS.get(v["code"], "no automatic fix") for v in found))
            self._add("manual", found[0], False, "; ".join(reasons), found)


def _guarded_removals(paths: List[str], values: List[str]) -> List[Dict[str, Any]]:
    """``test`` every value first, then remove from the highest index down so indices stay valid."""
    tests = [{"op": "test", "path": path, "value": value} for path, value in zip(paths, values)]
    removals = [{"op": "remove", "path": path} for path in sorted(paths, key=_index_key, reverse=True)]
    return tests + removals


def _index_key(path: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in path.split("/") if part.isdigit())


def plan(model: MeshModel, violations: List[Dict[str, Any]],
         gateway_selector: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
    """Plan repairs in priority order: deletions cover everything else on the object."""
    planner = _Planner(model, violations, gateway_selector)
    planner.deletions()
    planner.gateway_creations()
    planner.reference_grants()
    planner.host_removals()
    planner.kept_hosts()
    planner.manual()
    return planner.actions
