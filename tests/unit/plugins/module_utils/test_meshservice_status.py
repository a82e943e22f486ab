# -*- coding: utf-8 -*-
"""MeshService status from an apply result and integrity facts: pure functions only."""

from __future__ import annotations

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import status

OWNED = {"Service/shop/cart", "VirtualService/shop/cart", "DestinationRule/shop/cart"}
T1, T2 = "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z"


def violation(code, kind, namespace, name, severity="error", repair=None, related=()):
    found = {"id": "%s:%s/%s/%s:spec" % (code, kind, namespace, name), "code": code, "severity": severity,
             "kind": kind, "namespace": namespace, "name": name, "message": "%s %s/%s: broken" % (kind, namespace, name),
             "related": [{"kind": k, "namespace": ns, "name": n, "path": "", "managed": True} for k, ns, n in related]}
    if repair:
        found["repair"] = repair
    return found


MISSING_GATEWAY = violation("MSH101", "VirtualService", "shop", "cart", repair="A1")
CREATE_GATEWAY = {"id": "A1", "action": "create", "kind": "Gateway", "namespace": "istio-system", "name": "public",
                  "safe": True, "reason": "create the missing gateway", "violations": [MISSING_GATEWAY["id"]]}


def build(applied=None, violations=(), plan=(), previous=None, now=T1):
    return status.build_status(3, applied or {"changed": False}, list(violations), list(plan), OWNED, previous or {},
                               now)


def test_no_violations_is_consistent_and_ready():
    result = build()
    assert result["consistencyState"] == "Consistent" and result["violationCount"] == 0
    assert result["observedGeneration"] == 3 and result["managedResources"] == sorted(OWNED)
    assert [(c["type"], c["status"], c["observedGeneration"]) for c in result["conditions"]] == [
        ("Ready", "True", 3), ("Consistent", "True", 3)]


def test_only_errors_and_warnings_on_owned_objects_count():
    elsewhere = violation("MSH102", "VirtualService", "shop", "checkout")
    advice = violation("MSH401", "DestinationRule", "shop", "cart", severity="info")
    result = build(violations=[elsewhere, advice])
    assert result["consistencyState"] == "Consistent" and result["violations"] == []


def test_a_clash_reported_on_another_object_counts_for_ours():
    clash = violation("MSH201", "VirtualService", "shop", "legacy-cart", related=[("VirtualService", "shop", "cart")])
    result = build(violations=[clash])
    assert result["consistencyState"] == "Inconsistent"
    assert result["violations"] == [{"code": "MSH201", "severity": "error", "resource": "VirtualService/shop/legacy-cart",
                                     "message": clash["message"], "related": ["VirtualService/shop/cart"]}]


def test_a_finding_on_our_object_names_the_other_teams_objects_it_involves():
    clash = violation("MSH201", "VirtualService", "shop", "cart", related=[
        ("VirtualService", "payments", "legacy-cart"), ("Gateway", "istio-system", "public"),
        ("VirtualService", "payments", "legacy-cart")])
    [listed] = build(violations=[clash])["violations"]
    assert listed["resource"] == "VirtualService/shop/cart"
    assert listed["related"] == ["Gateway/istio-system/public", "VirtualService/payments/legacy-cart"]
    alone = build(violations=[violation("MSH102", "VirtualService", "shop", "cart")])["violations"][0]
    assert "related" not in alone


def test_a_warning_event_once_per_condition_that_turns_false_or_changes_why():
    broken = build(violations=[violation("MSH102", "VirtualService", "shop", "cart")])
    [event] = status.warning_events({}, broken)
    assert event["reason"] == "ViolationsFound" and "VirtualService shop/cart: broken" in event["message"]
    assert status.warning_events(broken, build(violations=[violation("MSH102", "VirtualService", "shop", "cart")],
                                               previous=broken, now=T2)) == []
    refused = build(applied={"failed": True, "msg": "refused: no such gateway"}, previous=broken, now=T2)
    assert [e["reason"] for e in status.warning_events(broken, refused)] == ["ApplyFailed"]
    assert status.warning_events(broken, build(previous=broken, now=T2)) == []


def test_the_event_is_about_the_meshservice():
    owner = {"metadata": {"name": "cart", "namespace": "shop", "uid": "u-1", "resourceVersion": "7"}}
    event = status.event_object(owner, "ApplyFailed", "x" * 2000, T1)
    assert event["involvedObject"] == {"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
                                       "namespace": "shop", "name": "cart", "uid": "u-1", "resourceVersion": "7"}
    assert (event["type"], event["reason"], event["metadata"]["namespace"]) == ("Warning", "ApplyFailed", "shop")
    assert len(event["message"]) == 1024 and event["metadata"]["generateName"] == "cart."


def test_violations_with_safe_repairs_are_repair_pending():
    result = build(violations=[MISSING_GATEWAY], plan=[CREATE_GATEWAY])
    assert result["consistencyState"] == "RepairPending" and result["violationCount"] == 1
    assert result["repairActions"] == [{"action": "create", "resource": "Gateway/istio-system/public", "safe": True,
                                        "reason": "create the missing gateway"}]
    consistent = result["conditions"][1]
    assert consistent["status"] == "False" and consistent["reason"] == "ViolationsFound"
    assert MISSING_GATEWAY["message"] in consistent["message"]


def test_an_unsafe_repair_leaves_it_inconsistent():
    result = build(violations=[MISSING_GATEWAY], plan=[dict(CREATE_GATEWAY, safe=False)])
    assert result["consistencyState"] == "Inconsistent"


def test_a_refused_apply_is_repair_failed_with_the_reason_and_the_refused_violations():
    refused = violation("MSH102", "VirtualService", "shop", "cart")
    result = build(applied={"failed": True, "msg": "integrity: the change would introduce 1 error(s)",
                            "integrity": {"mode": "enforce", "new_violations": [refused]}})
    assert result["consistencyState"] == "RepairFailed"
    ready, consistent = result["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", "ApplyFailed") and "introduce 1 error" in ready["message"]
    assert consistent["status"] == "False" and [v["code"] for v in result["violations"]] == ["MSH102"]


def test_an_apply_the_server_rejected_is_repair_failed():
    result = build(applied={"failed": True, "msg": "rejected by the API server: spec.http[0].timeout"})
    assert result["consistencyState"] == "RepairFailed" and result["violationCount"] == 0


def test_transition_times_move_only_when_a_condition_changes():
    first = build(now=T1)
    again = build(previous=first, now=T2)
    assert [c["lastTransitionTime"] for c in again["conditions"]] == [T1, T1]
    assert status.same_status(first, again)  # only lastChecked differs: nothing to write
    broken = build(violations=[MISSING_GATEWAY], previous=first, now=T2)
    assert [c["lastTransitionTime"] for c in broken["conditions"]] == [T1, T2]
    assert not status.same_status(first, broken)


def test_the_listed_violations_are_capped_but_counted():
    many = [violation("MSH102", "VirtualService", "shop", "cart") for _index in range(status.MAX_LISTED + 5)]
    for index, found in enumerate(many):
        found["id"] += str(index)
    result = build(violations=many)
    assert result["violationCount"] == status.MAX_LISTED + 5 and len(result["violations"]) == status.MAX_LISTED


def test_malformed_facts_are_named():
    assert status.malformed_facts({}, [MISSING_GATEWAY], [CREATE_GATEWAY]) == []
    assert status.malformed_facts({}, [{"code": "MSH101"}], [])[:2] == ["violations[0].id", "violations[0].severity"]
    assert "repair_plan[0].action" in status.malformed_facts({}, [], [{"id": "A1"}])
    refused = {"failed": True, "integrity": {"new_violations": [{"id": "x"}]}}
    assert "apply_result.integrity.new_violations[0].code" in status.malformed_facts(refused, [], [])


def test_each_meshservice_gets_its_part_of_a_loop_result():
    def item(name, failed):
        return {"item": {"metadata": {"namespace": "shop", "name": name}}, "failed": failed, "msg": name + " refused"}
    loop = {"results": [item("cart", False), item("checkout", True)], "failed": True}
    assert status.apply_failure(status.apply_result_for(loop, "shop", "cart")) is None
    assert status.apply_failure(status.apply_result_for(loop, "shop", "checkout")) == "checkout refused"
    batch = {"changed": True, "resources": []}
    assert status.apply_result_for(batch, "shop", "cart") is batch  # one task applied them all
