# -*- coding: utf-8 -*-
"""operator/: the image runs the pinned operator with the watches file the local runs use, and watches.yaml
and rbac.yaml agree with what the collection reads and writes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import owned, status
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import live

REPO = Path(__file__).resolve().parents[2]
OPERATOR = REPO / "operator"
WATCH = yaml.safe_load((OPERATOR / "watches.yaml").read_text())[0]
RULES = [rule for item in yaml.safe_load((OPERATOR / "rbac.yaml").read_text())["items"]
         if item["kind"] == "ClusterRole" for rule in item["rules"]]
GROUPS = {live.ISTIO: "networking.istio.io", live.GATEWAY_API: "gateway.networking.k8s.io"}


def group_of(base: str) -> str:
    if base in GROUPS:
        return GROUPS[base]
    return "" if base == "/api/v1" else base.split("/")[2]


def verbs(group: str, plural: str) -> set:
    return {verb for rule in RULES if group in rule["apiGroups"] and plural in rule["resources"]
            for verb in rule["verbs"]}


def pinned_version() -> str:
    text = (REPO / "tools" / "operator" / "versions.env").read_text()
    return re.search(r"^ANSIBLE_OPERATOR_VERSION=(\S+)$", text, re.M).group(1)


def test_the_image_runs_the_pinned_operator_with_the_watches_file():
    dockerfile = (OPERATOR / "Dockerfile").read_text()
    assert re.search(r"^FROM quay\.io/operator-framework/ansible-operator:(\S+)$", dockerfile, re.M).group(1) == \
        pinned_version()
    assert re.search(r"^COPY watches\.yaml \$\{HOME\}/watches\.yaml$", dockerfile, re.M)
    assert "ansible-galaxy collection install /tmp/meshops-istio_integrity-*.tar.gz" in dockerfile
    assert dockerfile.rstrip().splitlines()[-1].startswith("COPY watches.yaml")
    # The ansible-core the collection is tested with (meta/runtime.yml requires 2.19; the base has 2.18).
    image_core = re.search(r"^ansible-core==(\S+)$", (OPERATOR / "requirements.txt").read_text(), re.M).group(1)
    assert "ansible-core==%s" % image_core in (REPO / "requirements" / "dev.txt").read_text().splitlines()
    assert "requirements.txt" in dockerfile


def test_the_watch_runs_the_reconcile_role_also_for_deletion():
    role = WATCH["role"].split(".")
    assert role[:2] == ["meshops", "istio_integrity"] and (REPO / "roles" / role[2] / "tasks" / "main.yml").is_file()
    assert (WATCH["group"], WATCH["version"], WATCH["kind"]) == ("mesh.istio.operator", "v1alpha1", "MeshService")
    assert WATCH["finalizer"] == {"name": status.FINALIZER, "role": WATCH["role"]}
    assert WATCH["manageStatus"] is False and WATCH["watchDependentResources"] is True
    assert WATCH["vars"]["meshservice_reconcile_fail_on_error"] is False


def test_kinds_only_read_bypass_the_operator_cache_and_owned_kinds_are_watched():
    blacklisted = {(entry["group"], entry["kind"]) for entry in WATCH["blacklist"]}
    owned_kinds = set(owned.KINDS)
    for kind, (base, plural, _accept) in live.LIVE_KINDS.items():
        group = group_of(base)
        if kind in owned_kinds:
            # Read through the proxy's cache, which watches them: also how a hand edit triggers a reconcile.
            assert {"list", "watch", "patch", "delete"} <= verbs(group, plural), kind
            assert (group, kind) not in blacklisted, kind
        else:
            assert (group, kind) in blacklisted, kind
            assert "list" in verbs(group, plural), kind


def test_the_operator_may_write_status_and_events():
    assert {"get", "patch"} <= verbs("mesh.istio.operator", "meshservices/status")
    assert {"get", "list", "watch", "patch", "update"} <= verbs("mesh.istio.operator", "meshservices")
    assert "create" in verbs("", "events")


def test_what_is_read_by_name_or_only_created_bypasses_the_cache():
    # An informer for them would need list and watch, which the operator is not granted.
    blacklisted = {(entry["group"], entry["kind"]) for entry in WATCH["blacklist"]}
    assert {("", "Event"), ("", "ConfigMap")} <= blacklisted
    assert verbs("", "events") == {"create"}
    (mesh_config,) = [rule for rule in RULES if "configmaps" in rule["resources"]]
    assert mesh_config["verbs"] == ["get"] and mesh_config["resourceNames"] == ["istio"]


def facts_tasks(node):
    """Every istio_integrity_facts task's options in a parsed task file (blocks included)."""
    if isinstance(node, list):
        for item in node:
            yield from facts_tasks(item)
    elif isinstance(node, dict):
        if "meshops.istio_integrity.istio_integrity_facts" in node:
            yield node["meshops.istio_integrity.istio_integrity_facts"]
        for key in ("block", "rescue", "always", "tasks"):
            yield from facts_tasks(node.get(key))


def test_the_reconcile_checks_no_files_so_needs_no_rights_on_crds():
    # The cluster's CRDs are read only to validate files or content checked against it (schema.cluster).
    files = list((REPO / "roles" / "meshservice_reconcile").rglob("*.yml")) + [
        REPO / "playbooks" / "reconcile_meshservices.yml"]
    tasks = [options for path in files for options in facts_tasks(yaml.safe_load(path.read_text()))]
    assert tasks and all(options.get("live") and not {"src", "content"} & set(options) for options in tasks)
    assert not verbs("apiextensions.k8s.io", "customresourcedefinitions")
