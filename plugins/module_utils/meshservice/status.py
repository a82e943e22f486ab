# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a reconcile records on a MeshService resource: its status and our finalizer.

A reconcile applies the resource's spec (``istio_meshservice``), checks the mesh
(``istio_integrity_facts``) and hands both results here. The status is computed
purely (``build_status``) and written through the status subresource only when it
differs from the stored one in more than ``lastChecked``, so that reconciling an
unchanged set writes nothing.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import render
from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import (
    Conflict, Forbidden, KubernetesAPI, NotFound, namespaced_path)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.spec import MESHSERVICE_API_VERSION
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.owned import (
    GATEWAY_API_OWNED_KINDS, KINDS, OwnedResources)

FINALIZER = "meshops.io/meshservice-cleanup"
MERGE_PATCH = "application/merge-patch+json"
CONSISTENT, INCONSISTENT, REPAIR_PENDING, REPAIR_FAILED = "Consistent", "Inconsistent", "RepairPending", "RepairFailed"
# Info-level findings are advice; they do not make a MeshService inconsistent.
COUNTED_SEVERITIES = ("error", "warning")
# Keeps the resource small (etcd stores it whole); violationCount always has the full number.
MAX_LISTED = 50
FINALIZER_ATTEMPTS = 3
EVENT_SOURCE = "meshops.istio_integrity"
# What this module reads of the facts it is given.
VIOLATION_FIELDS = ("id", "code", "severity", "kind", "namespace", "name", "message")
ACTION_FIELDS = ("id", "action", "kind", "namespace", "name", "safe", "reason")


def apply_failure(applied: Dict[str, Any]) -> Optional[str]:
    """Why the registered istio_meshservice result failed, or None."""
    return (applied.get("msg") or "the apply failed") if applied.get("failed") else None


def refused_violations(applied: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The violations a failed apply was refused for (istio_meshservice returns them with integrity: enforce)."""
    if not applied.get("failed"):
        return []
    return list((applied.get("integrity") or {}).get("new_violations") or [])


def malformed_facts(applied: Dict[str, Any], violations: List[Dict[str, Any]],
                    plan: List[Dict[str, Any]]) -> List[str]:
    """Where the given results lack a field this module reads (they should be registered from
    istio_meshservice and istio_integrity_facts)."""
    problems = ["violations[%d].%s" % (index, key) for index, violation in enumerate(violations)
                for key in VIOLATION_FIELDS if key not in violation]
    problems += ["apply_result.integrity.new_violations[%d].%s" % (index, key)
                 for index, violation in enumerate(refused_violations(applied))
                 for key in VIOLATION_FIELDS if key not in violation]
    problems += ["repair_plan[%d].%s" % (index, key) for index, action in enumerate(plan)
                 for key in ACTION_FIELDS if key not in action]
    return problems


def resource(kind: str, namespace: str, name: str) -> str:
    return "%s/%s/%s" % (kind, namespace, name)


def relevant_violations(violations: List[Dict[str, Any]], owned: Set[str],
                        refused: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Violations on the owned objects, or naming one of them as the other party (a host clash), and
    those the write-time check refused to introduce (their objects may not exist yet)."""
    def touches(violation: Dict[str, Any]) -> bool:
        parties = [violation] + list(violation.get("related") or [])
        return any(render.object_identity(p["kind"], p.get("api_group", ""), p["namespace"], p["name"]) in owned
                   for p in parties)
    found = {v["id"]: v for v in violations if v["severity"] in COUNTED_SEVERITIES and touches(v)}
    found.update((v["id"], v) for v in refused)
    return sorted(found.values(), key=lambda v: v["id"])


def relevant_actions(plan: List[Dict[str, Any]], violations: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Repair-plan actions fixing those violations; plan ids are left out, they shift between runs."""
    ids = {v["id"] for v in violations}
    actions = [{"action": a["action"], "resource": resource(a["kind"], a["namespace"], a["name"]), "safe": a["safe"],
                "reason": a["reason"]} for a in plan if ids.intersection(a.get("violations") or [])]
    return sorted(actions, key=lambda a: (a["resource"], a["action"], a["reason"]))


def consistency_state(apply_error: Optional[str], violations: List[Dict[str, Any]],
                      plan: List[Dict[str, Any]]) -> str:
    """RepairFailed: the spec could not be applied. RepairPending: every violation has a safe repair
    (the integrity_repair role would fix it). Inconsistent: some violation needs a person."""
    if apply_error is not None:
        return REPAIR_FAILED
    if not violations:
        return CONSISTENT
    safe = {a["id"] for a in plan if a["safe"]}
    if all(v.get("repair") in safe for v in violations):
        return REPAIR_PENDING
    return INCONSISTENT


def _condition(kind: str, ok: bool, reason: str, message: str, generation: int,
               previous: List[Dict[str, Any]], now: str) -> Dict[str, Any]:
    status = "True" if ok else "False"
    old = next((c for c in previous if c.get("type") == kind), {})
    # The transition time moves only when the condition's status does.
    since = old.get("lastTransitionTime") if old.get("status") == status and old.get("lastTransitionTime") else now
    return {"type": kind, "status": status, "reason": reason, "message": message, "observedGeneration": generation,
            "lastTransitionTime": since}


def listed_violation(violation: Dict[str, Any]) -> Dict[str, Any]:
    """A violation as the status lists it; ``related`` names the other objects the finding involves
    (another team's VirtualService claiming the same host, the Service a route points to)."""
    listed = {"code": violation["code"], "severity": violation["severity"],
              "resource": resource(violation["kind"], violation["namespace"], violation["name"]),
              "message": violation["message"]}
    related = sorted({resource(r["kind"], r["namespace"], r["name"]) for r in violation.get("related") or []})
    if related:
        listed["related"] = related
    return listed


def warning_events(old: Dict[str, Any], new: Dict[str, Any]) -> List[Dict[str, str]]:
    """(reason, message) of each condition that is False in the new status and was not False for the same
    reason and message before: what a reconcile reports as a Kubernetes Event, once per change."""
    before = {c.get("type"): c for c in old.get("conditions") or []}
    events = []
    for condition in new["conditions"]:
        previous = before.get(condition["type"]) or {}
        if condition["status"] == "False" and (previous.get("status"), previous.get("reason"),
                                               previous.get("message")) != ("False", condition["reason"],
                                                                            condition["message"]):
            events.append({"reason": condition["reason"], "message": condition["message"]})
    return events


def event_object(owner: Dict[str, Any], reason: str, message: str, now: str) -> Dict[str, Any]:
    """A core/v1 Warning Event about a MeshService, as ``kubectl describe`` and ``kubectl get events`` show it."""
    metadata = owner["metadata"]
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": metadata["name"] + ".", "namespace": metadata["namespace"],
                         "labels": {render.MANAGED_BY_LABEL: render.MANAGED_BY_VALUE}},
            "involvedObject": {"apiVersion": MESHSERVICE_API_VERSION, "kind": "MeshService",
                               "namespace": metadata["namespace"], "name": metadata["name"],
                               "uid": metadata.get("uid", ""), "resourceVersion": metadata.get("resourceVersion", "")},
            "reason": reason, "message": message[:1024], "type": "Warning", "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": EVENT_SOURCE},
            "reportingComponent": EVENT_SOURCE, "reportingInstance": EVENT_SOURCE}


def build_status(generation: int, applied: Dict[str, Any], violations: List[Dict[str, Any]],
                 plan: List[Dict[str, Any]], owned: Set[str], previous: Dict[str, Any], now: str) -> Dict[str, Any]:
    """The status of one MeshService, from the apply result and the integrity facts."""
    apply_error = apply_failure(applied)
    mine = relevant_violations(violations, owned, refused_violations(applied))
    old_conditions = previous.get("conditions") or []
    if apply_error is None:
        ready = _condition("Ready", True, "Applied", "%d object(s) applied as specified" % len(owned), generation,
                           old_conditions, now)
    else:
        ready = _condition("Ready", False, "ApplyFailed", apply_error, generation, old_conditions, now)
    if mine:
        consistent = _condition("Consistent", False, "ViolationsFound", "%d violation(s); first: %s"
                                % (len(mine), mine[0]["message"]), generation, old_conditions, now)
    else:
        consistent = _condition("Consistent", True, "NoViolations", "no error or warning on the owned objects",
                                generation, old_conditions, now)
    return {
        "consistencyState": consistency_state(apply_error, mine, plan),
        "observedGeneration": generation,
        "lastChecked": now,
        "violationCount": len(mine),
        "conditions": [ready, consistent],
        "violations": [listed_violation(v) for v in mine[:MAX_LISTED]],
        "repairActions": relevant_actions(plan, mine)[:MAX_LISTED],
        "managedResources": sorted(owned),
    }


def apply_result_for(applied: Dict[str, Any], namespace: str, name: str) -> Dict[str, Any]:
    """This MeshService's part of a registered istio_meshservice result: a loop's result for its item,
    or the whole result of a task that applied it (alone or in a batch)."""
    for result in applied.get("results") or []:
        metadata = (result.get("item") or {}).get("metadata") or {}
        if (metadata.get("namespace"), metadata.get("name")) == (namespace, name):
            return result
    return applied


def owned_index(api: KubernetesAPI) -> Dict[Tuple[str, str], Set[str]]:
    """(namespace, name) of each meshservice -> the objects rendered from it, found by the labels every
    rendered object carries (one list call per kind, whatever the number of MeshServices)."""
    client = OwnedResources(api)
    index: Dict[Tuple[str, str], Set[str]] = {}
    for kind in KINDS:
        try:
            for obj in client.owned(kind):
                index.setdefault(render.meshservice_of(obj), set()).add(render.identity(obj))
        except Forbidden:
            if kind not in GATEWAY_API_OWNED_KINDS:
                raise
            # An account granted only the Istio kinds (the RBAC of an earlier release): it renders none of these.
    return index


def same_status(old: Optional[Dict[str, Any]], new: Dict[str, Any]) -> bool:
    """Equal apart from lastChecked, which alone never justifies a write."""
    def strip(status: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        return {k: v for k, v in (status or {}).items() if k != "lastChecked"}
    return strip(old) == strip(new)


class MeshServiceResource:
    """One MeshService custom resource: read it, write its status, add or remove our finalizer."""

    def __init__(self, api: KubernetesAPI, namespace: str, name: str) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.path = namespaced_path("/apis/" + MESHSERVICE_API_VERSION, namespace, "meshservices") + "/" + name

    def get(self) -> Optional[Dict[str, Any]]:
        try:
            return self.api.request("GET", self.path)
        except NotFound:
            return None

    def write_status(self, old: Optional[Dict[str, Any]], new: Dict[str, Any]) -> None:
        # A merge patch keeps keys it does not name: keys gone from the new status are nulled explicitly.
        body = dict({key: None for key in (old or {}) if key not in new}, **new)
        self.api.request("PATCH", self.path + "/status", body={"status": body}, content_type=MERGE_PATCH)

    def post_event(self, event: Dict[str, Any]) -> None:
        self.api.request("POST", namespaced_path("/api/v1", self.namespace, "events"), body=event)

    def set_finalizer(self, present: bool, current: Dict[str, Any], check_mode: bool) -> bool:
        """Add or remove our finalizer; the resourceVersion guards other controllers' finalizers."""
        for _attempt in range(FINALIZER_ATTEMPTS):
            metadata = current["metadata"]
            finalizers = list(metadata.get("finalizers") or [])
            if (FINALIZER in finalizers) == present:
                return False
            if check_mode:
                return True
            wanted = finalizers + [FINALIZER] if present else [f for f in finalizers if f != FINALIZER]
            patch = {"metadata": {"finalizers": wanted, "resourceVersion": metadata["resourceVersion"]}}
            try:
                self.api.request("PATCH", self.path, body=patch, content_type=MERGE_PATCH)
                return True
            except Conflict:
                current = self.get()
                if current is None:
                    return False
            except NotFound:
                return False
        raise Conflict("%s/%s: the MeshService kept changing while its finalizers were updated (%d attempts)"
                       % (self.namespace, self.name, FINALIZER_ATTEMPTS))
