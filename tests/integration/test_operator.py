# -*- coding: utf-8 -*-
"""The real Ansible Operator (the pinned upstream binary, out of cluster) reconciling MeshServices that the
tests only ever `kubectl apply`: no playbook is run by the test. It runs operator/watches.yaml with the
collection installed from its tarball, as the ServiceAccount operator/rbac.yaml binds."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tools" / "operator"))

import localoperator  # noqa: E402  pylint: disable=wrong-import-position

NAMESPACE = "op-shop"
GATEWAY_NAMESPACE = "op-gw"
TEAM_NAMESPACE = "op-team"
OWNED_KINDS = ("services", "virtualservices.networking.istio.io", "destinationrules.networking.istio.io")
# The operator's per-resource reconcile period, so that the periodic re-check is seen within seconds.
PERIOD_ANNOTATION = "ansible.sdk.operatorframework.io/reconcile-period"
WAIT = 120


def pod(name: str, namespace: str, labels: Dict[str, str]) -> Dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]}}


def neighbours(names: List[str]) -> List[Dict[str, Any]]:
    """What MeshServices refer to but do not own: workloads of each subset, a shared ingress gateway."""
    items = [pod("%s-%s" % (name, version), NAMESPACE, {"app": name, "version": version})
             for name in names for version in ("v1", "v2")]
    return items + [
        pod("ingressgateway", GATEWAY_NAMESPACE, {"istio": "ingressgateway"}),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "audit", "namespace": NAMESPACE},
         "spec": {"selector": {"app": "audit"}, "ports": [{"name": "http", "port": 8080}]}},
        pod("audit", NAMESPACE, {"app": "audit"}),
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "public", "namespace": GATEWAY_NAMESPACE},
         "spec": {"selector": {"istio": "ingressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*/*"]}]}}]


def meshservice(name: str, weights=(90, 10), host: Optional[str] = None, mirror: str = "audit",
                period: Optional[str] = None) -> Dict[str, Any]:
    resource = {"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"serviceName": name, "hosts": [host or "%s.op.example.com" % name],
                         "ports": [{"port": 8080, "name": "http"}],
                         "gateway": {"name": "public", "namespace": GATEWAY_NAMESPACE},
                         "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                     {"name": "v2", "labels": {"version": "v2"}}],
                         "routes": [{"destinations": [{"subset": "v1", "weight": weights[0]},
                                                      {"subset": "v2", "weight": weights[1]}],
                                     "mirror": {"host": mirror}}]}}
    if period:
        resource["metadata"]["annotations"] = {PERIOD_ANNOTATION: period}
    return resource


def apply(plane, *objects: Dict[str, Any]) -> None:
    plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def get(plane, kind: str, name: str, namespace: str = NAMESPACE) -> Optional[Dict[str, Any]]:
    found = plane.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def wait_for(what: str, probe: Callable[[], Any], operator, timeout: float = WAIT) -> Any:
    """Poll until ``probe`` returns something truthy; fail naming ``what`` with the operator's last log lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail("%s: not within %ds; operator log:\n%s" % (what, timeout, operator.log_tail(40)), pytrace=False)


def reconciled(plane, name: str, ready: str = "True"):
    """The MeshService once its status describes its current generation with Ready=<ready>."""
    def probe():
        resource = get(plane, "meshservice", name)
        state = (resource or {}).get("status") or {}
        conditions = {c["type"]: c["status"] for c in state.get("conditions") or []}
        if state.get("observedGeneration") == resource["metadata"]["generation"] and conditions.get("Ready") == ready:
            return resource
        return None
    return probe


def weights(plane, name: str) -> List[int]:
    vs = get(plane, "virtualservices.networking.istio.io", name)
    return [route.get("weight") for route in vs["spec"]["http"][0]["route"]] if vs else []


def assert_no_reconciler_error(operator) -> None:
    text = operator.log_text()
    assert "Reconciler error" not in text and "did not receive playbook_on_stats" not in text, \
        "\n".join(line[:600] for line in text.splitlines() if "error" in line)[-6000:]


def reconcile_total(operator) -> float:
    total = 0.0
    for line in operator.metrics().splitlines():
        if line.startswith("controller_runtime_reconcile_total{") and 'controller="meshservice-controller"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def operator(control_plane, tmp_path_factory):
    for namespace in (NAMESPACE, GATEWAY_NAMESPACE, TEAM_NAMESPACE):
        control_plane.kubectl("create", "namespace", namespace)
    apply(control_plane, *neighbours(["cart", "orders", "same-a", "same-b"] + ["batch-%d" % i for i in range(8)]))
    running = localoperator.LocalOperator(control_plane.kubeconfig, tmp_path_factory.mktemp("operator"),
                                          max_concurrent_reconciles=2)
    try:
        running.start()
    except (localoperator.OperatorError, localoperator.localcluster.ControlPlaneError) as error:
        pytest.fail("the Ansible Operator could not be built or started: %s" % error, pytrace=False)
    yield running
    # Released by the operator itself, so that no finalizer outlives it.
    control_plane.kubectl("delete", "meshservices", "--all", "-n", NAMESPACE, "--wait=false")
    wait_for("every MeshService released", lambda: not json.loads(control_plane.kubectl(
        "get", "meshservices", "-n", NAMESPACE, "-o", "json").stdout)["items"], running)
    running.stop()


def test_lifecycle_under_the_operator(operator, control_plane):
    plane = control_plane
    started = time.monotonic()
    apply(plane, meshservice("cart"))
    resource = wait_for("cart reconciled", reconciled(plane, "cart"), operator)
    print("create -> Ready: %.1fs" % (time.monotonic() - started))
    assert resource["metadata"]["finalizers"] == ["meshops.io/meshservice-cleanup"]
    state = resource["status"]
    assert state["consistencyState"] == "Consistent" and state["violationCount"] == 0 and state["violations"] == [], state["violations"]
    assert {c["type"]: (c["status"], c["observedGeneration"]) for c in state["conditions"]} == {
        "Ready": ("True", 1), "Consistent": ("True", 1)}
    assert state["managedResources"] == ["DestinationRule/op-shop/cart", "Service/op-shop/cart",
                                         "VirtualService/op-shop/cart"]
    for kind in OWNED_KINDS:
        owned = get(plane, kind, "cart")
        assert owned["metadata"]["ownerReferences"][0]["uid"] == resource["metadata"]["uid"], kind
    assert weights(plane, "cart") == [90, 10]

    # A spec edit: the canary weight.
    plane.kubectl("patch", "meshservice", "cart", "-n", NAMESPACE, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/routes/0/destinations/0/weight", "value": 50},
        {"op": "replace", "path": "/spec/routes/0/destinations/1/weight", "value": 50}]))
    wait_for("the new weights rendered", lambda: weights(plane, "cart") == [50, 50], operator)
    wait_for("generation 2 observed", lambda: (reconciled(plane, "cart")() or {}).get("status", {}).get(
        "observedGeneration") == 2, operator)

    # A hand edit of an owned object: the watch on dependent resources takes it back.
    plane.kubectl("patch", "virtualservices.networking.istio.io", "cart", "-n", NAMESPACE, "--type=json", "-p",
                  json.dumps([{"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 0},
                              {"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 100}]))
    wait_for("the hand edit reverted", lambda: weights(plane, "cart") == [50, 50], operator)

    # A broken reference under enforce: reported in the status and in an Event; nothing broken is written.
    plane.kubectl("patch", "meshservice", "cart", "-n", NAMESPACE, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/routes/0/mirror/host", "value": "nowhere"}]))
    refused = wait_for("the refusal recorded", reconciled(plane, "cart", ready="False"), operator)
    assert refused["status"]["consistencyState"] == "RepairFailed"
    ready = refused["status"]["conditions"][0]
    assert ready["reason"] == "ApplyFailed" and "nowhere" in ready["message"], ready
    assert get(plane, "virtualservices.networking.istio.io", "cart")["spec"]["http"][0]["mirror"]["host"] == "audit"

    def warning_event():
        events = json.loads(plane.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                                          "involvedObject.kind=MeshService,involvedObject.name=cart",
                                          "-o", "json").stdout)["items"]
        return [e for e in events if e["type"] == "Warning" and e["reason"] == "ApplyFailed"]
    [event] = wait_for("a Warning Event about the refusal", warning_event, operator, timeout=30)
    assert "nowhere" in event["message"] and event["involvedObject"]["uid"] == resource["metadata"]["uid"]
    plane.kubectl("patch", "meshservice", "cart", "-n", NAMESPACE, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/routes/0/mirror/host", "value": "audit"}]))
    wait_for("cart Ready again", reconciled(plane, "cart"), operator)

    # Delete: what it owns is removed, the finalizer released, the neighbours stay.
    plane.kubectl("delete", "meshservice", "cart", "-n", NAMESPACE, "--wait=false")
    wait_for("cart gone", lambda: get(plane, "meshservice", "cart") is None, operator)
    for kind in OWNED_KINDS:
        assert get(plane, kind, "cart") is None, kind
    assert get(plane, "service", "audit") and get(plane, "gateway.networking.istio.io", "public", GATEWAY_NAMESPACE)
    assert_no_reconciler_error(operator)


def test_the_period_rechecks_what_other_teams_change_and_names_their_objects(operator, control_plane):
    plane = control_plane
    apply(plane, meshservice("orders", period="3s"))
    wait_for("orders reconciled", reconciled(plane, "orders"), operator)
    # Another team binds the same host to the same gateway: nothing the operator watches changes.
    apply(plane, {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                  "metadata": {"name": "legacy-orders", "namespace": TEAM_NAMESPACE},
                  "spec": {"hosts": ["orders.op.example.com"], "gateways": ["%s/public" % GATEWAY_NAMESPACE],
                           "http": [{"route": [{"destination": {"host": "audit.%s.svc.cluster.local" % NAMESPACE}}]}]}})

    def clash():
        state = get(plane, "meshservice", "orders")["status"]
        found = [v for v in state["violations"] if "VirtualService/op-team/legacy-orders" in v.get("related", [])]
        return found if state["consistencyState"] == "Inconsistent" else None
    [found] = wait_for("the clash found by a periodic reconcile", clash, operator)
    assert found["code"] == "MSH202" and found["resource"] == "VirtualService/op-shop/orders", found
    plane.kubectl("delete", "virtualservice.networking.istio.io", "legacy-orders", "-n", TEAM_NAMESPACE)
    wait_for("orders Consistent again", lambda: get(plane, "meshservice", "orders")["status"][
        "consistencyState"] == "Consistent", operator)
    plane.kubectl("delete", "meshservice", "orders", "-n", NAMESPACE, "--wait=false")
    assert_no_reconciler_error(operator)


def test_two_meshservices_claiming_one_host_do_not_flap(operator, control_plane):
    plane = control_plane
    apply(plane, meshservice("same-a", host="same.op.example.com", period="2s"))
    wait_for("same-a reconciled", reconciled(plane, "same-a"), operator)
    apply(plane, meshservice("same-b", host="same.op.example.com", period="2s"))
    refused = wait_for("same-b refused", reconciled(plane, "same-b", ready="False"), operator)
    assert "same.op.example.com" in refused["status"]["conditions"][0]["message"]
    assert get(plane, "virtualservices.networking.istio.io", "same-b") is None
    time.sleep(4)  # let the reconciles the status writes themselves triggered settle

    def versions():
        return {name: get(plane, "meshservice", name)["metadata"]["resourceVersion"] for name in ("same-a", "same-b")}
    before, reconciles = versions(), reconcile_total(operator)
    # Two periods of both MeshServices (each reconcile takes seconds on this machine, more under load), and none
    # of these reconciles wrote the MeshServices.
    wait_for("four periodic reconciles", lambda: reconcile_total(operator) - reconciles >= 4, operator, timeout=240)
    assert versions() == before
    assert get(plane, "meshservice", "same-b")["status"]["consistencyState"] == "RepairFailed"
    plane.kubectl("delete", "meshservice", "same-a", "same-b", "-n", NAMESPACE, "--wait=false")
    assert_no_reconciler_error(operator)


def test_a_restart_in_the_middle_of_a_batch_converges(operator, control_plane):
    plane = control_plane
    names = ["batch-%d" % i for i in range(8)]
    apply(plane, *[meshservice(name) for name in names])

    def some_done():
        return sum(1 for name in names if (get(plane, "meshservice", name) or {}).get("status")) >= 2
    wait_for("the first of the batch reconciled", some_done, operator)
    operator.kill()  # no graceful shutdown: runs are cut wherever they are
    operator.restart()
    for name in names:
        wait_for("%s reconciled after the restart" % name, reconciled(plane, name), operator, timeout=240)
    for kind in OWNED_KINDS:
        listed = json.loads(plane.kubectl("get", kind, "-n", NAMESPACE, "-l", "meshops.io/meshservice",
                                          "-o", "json").stdout)["items"]
        assert sorted(o["metadata"]["name"] for o in listed if o["metadata"]["name"].startswith("batch-")) == names
    for name in names:
        resource = get(plane, "meshservice", name)
        assert resource["metadata"]["finalizers"] == ["meshops.io/meshservice-cleanup"], name
        assert resource["status"]["consistencyState"] == "Consistent", resource["status"]
    plane.kubectl("delete", "meshservice", *names, "-n", NAMESPACE, "--wait=false")
    wait_for("the batch released", lambda: all(get(plane, "meshservice", name) is None for name in names), operator)
    assert_no_reconciler_error(operator)
