# -*- coding: utf-8 -*-
"""The integrity_repair role on the sample mesh, on a control plane of its own (it changes the mesh)."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from conftest import EXAMPLES, run_playbook, start_plane

KINDS = ("gateways.networking.istio.io,virtualservices.networking.istio.io,destinationrules.networking.istio.io,"
         "referencegrants.gateway.networking.k8s.io")


@pytest.fixture(scope="module")
def mesh():
    plane = start_plane()
    plane.kubectl("apply", "-f", str(EXAMPLES / "00-namespaces.yaml"))
    plane.kubectl("apply", "-f", str(EXAMPLES))
    yield plane
    plane.stop()


def repair(plane, **variables: Any):
    task = {"name": "Repair", "ansible.builtin.include_role": {"name": "meshops.istio_integrity.integrity_repair"},
            "vars": dict({"integrity_repair_kubeconfig": str(plane.kubeconfig)}, **variables)}
    return run_playbook([task])


def state(plane) -> Dict[str, str]:
    items = json.loads(plane.kubectl("get", KINDS, "-A", "-o", "json").stdout)["items"]
    return {"%s/%s/%s" % (i["kind"], i["metadata"]["namespace"], i["metadata"]["name"]): i["metadata"]["resourceVersion"]
            for i in items}


def test_dry_run_by_default_then_safe_repairs_then_nothing_to_do(mesh):
    before = state(mesh)
    dry = repair(mesh)
    assert not dry.failed, dry.output
    assert "dry run" in dry.output and state(mesh) == before

    applied = repair(mesh, integrity_repair_apply=True)
    assert not applied.failed, applied.output
    after = state(mesh)
    assert "VirtualService/bookinfo/legacy" not in after                # orphaned, ours: deleted
    assert "DestinationRule/bookinfo/ratings-v0" not in after           # orphaned, ours: deleted
    assert "Gateway/bookinfo/details-gateway" in after                  # missing, ours: created
    assert "VirtualService/bookinfo/cart-proxy" in after                # orphaned, not ours: left alone
    assert "ReferenceGrant/bookinfo/meshops-httproute-shop-to-service" in after  # our route's missing grant
    assert not [v for v in applied.facts["violations"] if v["code"] == "MSH707"]
    hosts = json.loads(mesh.kubectl("get", "virtualservices.networking.istio.io", "reviews-canary", "-n", "bookinfo",
                                    "-o", "json").stdout)["spec"]["hosts"]
    assert hosts == ["reviews-canary.bookinfo.svc.cluster.local"]     # conflicting host removed from the newer one
    remaining = applied.facts["repair_plan"]
    assert remaining and not [a for a in remaining if a["safe"]], remaining
    assert {v["name"] for v in applied.facts["violations"] if v["code"] == "MSH108"} == {"cart-proxy"}

    again = repair(mesh, integrity_repair_apply=True)
    assert not again.failed, again.output
    assert state(mesh) == after
    # The only change reported is the test helper saving the result file, not a repair task.
    assert again.output.count("changed: [localhost]") == 1 and "TASK [Save the result]" in again.output


def test_unmanaged_orphan_only_when_opted_in(mesh):
    opted = repair(mesh, integrity_repair_apply=True, integrity_repair_unmanaged=True)
    assert not opted.failed, opted.output
    assert "VirtualService/bookinfo/cart-proxy" not in state(mesh)
