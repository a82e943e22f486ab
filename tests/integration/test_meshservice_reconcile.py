# -*- coding: utf-8 -*-
"""MeshService resources reconciled on the real API server: the playbook, and the role as an operator runs it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from conftest import REPO, install_meshservice_crd, run_collection_playbook, run_playbook

sys.path.insert(0, str(REPO / "tools" / "operator"))

import localoperator  # noqa: E402  pylint: disable=wrong-import-position

NAMESPACE = "reconcile"
GATEWAY_NAMESPACE = "reconcile-gw"
OWNED_KINDS = ("services", "virtualservices.networking.istio.io", "destinationrules.networking.istio.io")


def pod(name: str, namespace: str, labels: Dict[str, str]) -> Dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]}}


def neighbours() -> List[Dict[str, Any]]:
    """What the MeshService refers to but does not own: a shared gateway and an audit service, with workloads."""
    return [
        pod("cart-v1", NAMESPACE, {"app": "cart", "version": "v1"}),
        pod("checkout-v1", NAMESPACE, {"app": "checkout", "version": "v1"}),
        pod("wishlist-v1", NAMESPACE, {"app": "wishlist", "version": "v1"}),
        pod("audit", NAMESPACE, {"app": "audit"}),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "audit", "namespace": NAMESPACE},
         "spec": {"selector": {"app": "audit"}, "ports": [{"name": "http", "port": 8080}]}},
        pod("ingressgateway", GATEWAY_NAMESPACE, {"istio": "ingressgateway"}),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "istio-ingressgateway", "namespace": GATEWAY_NAMESPACE},
         "spec": {"selector": {"istio": "ingressgateway"}, "ports": [{"name": "http", "port": 80}]}},
        gateway(),
    ]


def gateway() -> Dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": "public", "namespace": GATEWAY_NAMESPACE},
            "spec": {"selector": {"istio": "ingressgateway"},
                     "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}}


def meshservice(name: str = "cart", mirror: str = "audit") -> Dict[str, Any]:
    return {"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"serviceName": name, "hosts": ["%s.reconcile.example.com" % name],
                     "ports": [{"port": 8080, "name": "http"}],
                     "gateway": {"name": "public", "namespace": GATEWAY_NAMESPACE},
                     "subsets": [{"name": "v1", "labels": {"version": "v1"}, "weight": 100}],
                     "routes": [{"destinations": [{"subset": "v1"}], "mirror": {"host": mirror}}]}}


def get(plane, kind: str, name: str, namespace: str = NAMESPACE, check: bool = True):
    found = plane.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=check)
    return json.loads(found.stdout) if found.returncode == 0 else None


def versions(plane) -> Dict[str, str]:
    """resourceVersion of the MeshService and of every object it owns."""
    objects = [get(plane, "meshservice", "cart")] + [get(plane, kind, "cart") for kind in OWNED_KINDS]
    return {"%s/%s" % (o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"] for o in objects}


def reconcile(plane) -> Any:
    return run_collection_playbook("reconcile_meshservices", {"reconcile_kubeconfig": str(plane.kubeconfig),
                                                              "reconcile_namespaces": [NAMESPACE]})


def status(plane, name: str = "cart") -> Dict[str, Any]:
    return get(plane, "meshservice", name)["status"]


@pytest.fixture(scope="module")
def mesh(control_plane):
    installed = install_meshservice_crd(control_plane)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    for namespace in (NAMESPACE, GATEWAY_NAMESPACE):
        control_plane.kubectl("create", "namespace", namespace)
    control_plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": neighbours()}))
    return control_plane


def test_reconcile_lifecycle(mesh):
    mesh.kubectl("apply", "-f", "-", stdin=json.dumps(meshservice()))
    first = reconcile(mesh)
    assert first.returncode == 0, first.stdout + first.stderr

    resource = get(mesh, "meshservice", "cart")
    assert resource["metadata"]["finalizers"] == ["meshops.io/meshservice-cleanup"]
    for kind in OWNED_KINDS:
        owned = get(mesh, kind, "cart")
        assert owned["metadata"]["ownerReferences"][0]["uid"] == resource["metadata"]["uid"], kind
        assert owned["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "meshops.istio_integrity"
    vs = get(mesh, "virtualservices.networking.istio.io", "cart")
    assert vs["spec"]["gateways"] == ["reconcile-gw/public"] and vs["spec"]["http"][0]["mirror"]["host"] == "audit"
    state = resource["status"]
    assert state["consistencyState"] == "Consistent", state
    assert state["observedGeneration"] == resource["metadata"]["generation"] and state["violationCount"] == 0
    assert {c["type"]: c["status"] for c in state["conditions"]} == {"Ready": "True", "Consistent": "True"}
    assert state["managedResources"] == ["DestinationRule/reconcile/cart", "Service/reconcile/cart",
                                         "VirtualService/reconcile/cart"]
    table = mesh.kubectl("get", "meshservices", "-n", NAMESPACE).stdout.splitlines()
    assert table[1].split()[:6] == ["cart", "cart", '["cart.reconcile.example.com"]', "public", "Consistent", "0"]

    # An unchanged set, reconciled again: not one write.
    before = versions(mesh)
    again = reconcile(mesh)
    assert again.returncode == 0, again.stdout + again.stderr
    assert versions(mesh) == before
    assert "changed=0" in again.stdout

    # A reference breaks (the mirror's service is deleted): Inconsistent, with the violation.
    mesh.kubectl("delete", "service", "audit", "-n", NAMESPACE)
    broken = reconcile(mesh)
    assert broken.returncode == 0, broken.stdout + broken.stderr
    state = status(mesh)
    assert state["consistencyState"] == "Inconsistent" and state["violationCount"] == 1, state
    [found] = state["violations"]
    assert (found["code"], found["severity"], found["resource"]) == ("MSH102", "error", "VirtualService/reconcile/cart")
    assert "audit" in found["message"]
    assert {c["type"]: c["status"] for c in state["conditions"]} == {"Ready": "True", "Consistent": "False"}
    assert mesh.kubectl("get", "meshservices", "-n", NAMESPACE).stdout.splitlines()[1].split()[4:6] == ["Inconsistent", "1"]

    # The service comes back and the shared gateway goes: a safe repair exists, so RepairPending.
    mesh.kubectl("apply", "-f", "-", stdin=json.dumps(neighbours()[4]))
    mesh.kubectl("delete", "gateway.networking.istio.io", "public", "-n", GATEWAY_NAMESPACE)
    assert reconcile(mesh).returncode == 0
    state = status(mesh)
    assert state["consistencyState"] == "RepairPending", state
    # The missing Gateway, and so no Gateway serving the hosts: creating it fixes both.
    assert [f["code"] for f in state["violations"]] == ["MSH101", "MSH107"]
    assert state["repairActions"][0]["action"] == "create" and state["repairActions"][0]["resource"] == \
        "Gateway/reconcile-gw/public"
    mesh.kubectl("apply", "-f", "-", stdin=json.dumps(gateway()))
    assert reconcile(mesh).returncode == 0
    assert status(mesh)["consistencyState"] == "Consistent"

    # A spec change the write-time check refuses, next to a new valid MeshService: the valid one is applied,
    # the refused one is RepairFailed at its new generation with nothing applied, and the job fails naming it.
    mesh.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        meshservice(mirror="nowhere"), meshservice("wishlist")]}))
    refused = reconcile(mesh)
    assert refused.returncode != 0 and "nowhere" in refused.stdout and '"name": "cart"' in refused.stdout, refused.stdout[-3000:]
    assert status(mesh, "wishlist")["consistencyState"] == "Consistent"
    assert get(mesh, "virtualservices.networking.istio.io", "wishlist")
    resource = get(mesh, "meshservice", "cart")
    state = resource["status"]
    assert state["consistencyState"] == "RepairFailed" and state["observedGeneration"] == resource["metadata"]["generation"]
    ready = state["conditions"][0]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "ApplyFailed") and "nowhere" in ready["message"]
    assert get(mesh, "virtualservices.networking.istio.io", "cart")["spec"]["http"][0]["mirror"]["host"] == "audit"
    mesh.kubectl("apply", "-f", "-", stdin=json.dumps(meshservice()))
    assert reconcile(mesh).returncode == 0
    assert status(mesh)["consistencyState"] == "Consistent"

    # Deleted: the finalizer holds them until the reconcile has removed what they own; neighbours stay.
    mesh.kubectl("delete", "meshservice", "cart", "wishlist", "-n", NAMESPACE, "--wait=false")
    assert get(mesh, "meshservice", "cart")["metadata"]["deletionTimestamp"]
    deleted = reconcile(mesh)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    for name in ("cart", "wishlist"):
        assert get(mesh, "meshservice", name, check=False) is None
        for kind in OWNED_KINDS:
            assert get(mesh, kind, name, check=False) is None, (kind, name)
    assert get(mesh, "service", "audit") and get(mesh, "gateway.networking.istio.io", "public", GATEWAY_NAMESPACE)


def operator_variables(resource: Dict[str, Any]) -> Dict[str, Any]:
    """The extra variables the Operator SDK's Ansible operator passes for a watched resource."""
    spec = resource["spec"]
    variables = {"service_name": spec["serviceName"], "hosts": spec["hosts"], "ports": spec["ports"],
                 "gateway": spec["gateway"], "subsets": spec["subsets"], "routes": spec["routes"]}
    variables.update({"ansible_operator_meta": {"name": resource["metadata"]["name"],
                                                "namespace": resource["metadata"]["namespace"]},
                      "_mesh_istio_operator_meshservice": resource, "_mesh_istio_operator_meshservice_spec": spec})
    return variables


def operator_run(kubeconfig: Path, resource: Dict[str, Any], workdir: Path):
    """The role as watches.yaml names it, with the watch's vars and the operator's extra variables."""
    watch = yaml.safe_load((REPO / "operator" / "watches.yaml").read_text())[0]
    extra = workdir / "extra.json"
    extra.write_text(json.dumps(operator_variables(resource)))
    tasks = [{"name": "Reconcile", "ansible.builtin.include_role": {"name": watch["role"]},
              "vars": dict(watch["vars"], meshservice_reconcile_kubeconfig=str(kubeconfig))}]
    return run_playbook(tasks, result_var="meshservice_reconcile_results", extra_args=["-e", "@%s" % extra])


def test_role_runs_as_the_ansible_operator_runs_it(mesh, tmp_path):
    kubeconfig = localoperator.service_account_kubeconfig(mesh.kubeconfig, tmp_path / "operator.kubeconfig")
    mesh.kubectl("apply", "-f", "-", stdin=json.dumps(meshservice("checkout")))
    resource = get(mesh, "meshservice", "checkout")

    first = operator_run(kubeconfig, resource, tmp_path)
    assert not first.failed, first.output
    assert first.facts == [{"namespace": NAMESPACE, "name": "checkout", "state": "Consistent", "violation_count": 0,
                            "error": ""}], status(mesh, "checkout")
    assert status(mesh, "checkout")["managedResources"] == ["DestinationRule/reconcile/checkout",
                                                            "Service/reconcile/checkout",
                                                            "VirtualService/reconcile/checkout"]

    # The next event for the unchanged resource: the operator's service account writes nothing.
    resource = get(mesh, "meshservice", "checkout")
    before = {kind: get(mesh, kind, "checkout")["metadata"]["resourceVersion"] for kind in OWNED_KINDS}
    second = operator_run(kubeconfig, resource, tmp_path)
    assert not second.failed, second.output
    assert get(mesh, "meshservice", "checkout")["metadata"]["resourceVersion"] == resource["metadata"]["resourceVersion"]
    assert {kind: get(mesh, kind, "checkout")["metadata"]["resourceVersion"] for kind in OWNED_KINDS} == before

    # The deletion event: the object the operator passes carries the deletion timestamp.
    mesh.kubectl("delete", "meshservice", "checkout", "-n", NAMESPACE, "--wait=false")
    deleting = get(mesh, "meshservice", "checkout")
    gone = operator_run(kubeconfig, deleting, tmp_path)
    assert not gone.failed, gone.output
    assert gone.facts[0]["state"] == "Deleted"
    assert get(mesh, "meshservice", "checkout", check=False) is None
    for kind in OWNED_KINDS:
        assert get(mesh, kind, "checkout", check=False) is None, kind


def test_role_without_the_operator_variables_is_a_clear_error(mesh):
    run = run_playbook([{"name": "Reconcile", "ansible.builtin.include_role": {
        "name": "meshops.istio_integrity.meshservice_reconcile"}}], result_var="meshservice_reconcile_results")
    assert run.failed
    assert "meshservice_reconcile_resources" in run.output and "_mesh_istio_operator_meshservice" in run.output
    assert "Traceback" not in run.output


def test_two_meshservices_rendering_one_gateway_do_not_flap(mesh):
    """The batch is refused and the one-by-one fallback refuses the second every run: the Gateway never changes
    hands (it used to go to whichever ran last)."""
    def promo(name):
        resource = meshservice(name)
        # Its own selector: not the shared ingress pods, whose Gateway claims every host on port 80.
        resource["spec"]["gateway"] = {"name": "promo", "create": True, "selector": {"app": "promo-gateway"}}
        resource["spec"]["routes"] = [{"destinations": [{"subset": "v1"}]}]
        return resource
    mesh.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                       "items": [promo("promo-a"), promo("promo-b")]}))
    try:
        owners, versions_seen = set(), set()
        for _run in range(2):
            run = reconcile(mesh)
            assert run.returncode != 0
            assert "belongs to meshservice" in run.stdout and "fail_msg" not in run.stdout, run.stdout[-4000:]
            gateway_now = get(mesh, "gateway.networking.istio.io", "promo")
            owners.add(gateway_now["metadata"]["labels"]["meshops.io/meshservice"])
            versions_seen.add(gateway_now["metadata"]["resourceVersion"])
            refused = [name for name in ("promo-a", "promo-b") if status(mesh, name)["consistencyState"] == "RepairFailed"]
            assert len(refused) == 1, run.stdout[-3000:]
            message = status(mesh, refused[0])["conditions"][0]["message"]
            assert "belongs to meshservice %s/%s" % (NAMESPACE, owners.copy().pop()) in message, message
        assert len(owners) == 1 and len(versions_seen) == 1
    finally:
        mesh.kubectl("delete", "meshservice", "promo-a", "promo-b", "-n", NAMESPACE, "--wait=false")
        reconcile(mesh)
