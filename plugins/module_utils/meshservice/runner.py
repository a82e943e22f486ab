# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying meshservices: everything is validated before the first write.

Order of work, all or nothing up to the writes:
1. every entry validated and rendered (a bad entry names itself and its field);
2. the live state read: current copies and what we own but no longer render (prune);
3. every object server-side applied as a dry run: the API server checks Istio's schemas
   and field-manager conflicts for all of them;
4. the integrity engine on the live namespaces plus the rendered objects, against the
   live state alone: new error-level violations fail the task under ``integrity: enforce``;
5. only then the writes (or nothing in check mode).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import spec
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import render, render_gatewayapi
from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import (
    ClusterError, Conflict, Forbidden, Invalid, KubernetesAPI)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.resources import comparable
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.owned import (
    GATEWAY_API_OWNED_KINDS, KINDS, OwnedResources, resource_kind)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.hosts import resolve_host
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, RunError, run_integrity

# Checks that can block a write: references and conflicts. Workload and Secret checks cannot,
# since configuration is routinely applied before the workloads or certificates it names.
WRITE_TIME_CHECKS = ["MSH101", "MSH102", "MSH103", "MSH104", "MSH105", "MSH106", "MSH107", "MSH108",
                     "MSH201", "MSH202", "MSH203", "MSH204", "MSH205", "MSH301", "MSH302", "MSH303",
                     "MSH701", "MSH702", "MSH703", "MSH704", "MSH705", "MSH706", "MSH707", "MSH709", "MSH711",
                     "MSH712", "MSH714", "MSH715", "MSH717"]
PARALLEL_REQUESTS = 8
# What claims hosts across namespaces: the guard reads these everywhere, so a clash with any namespace is seen.
MESH_WIDE_CLAIMS = ["VirtualService", "Gateway", "ServiceEntry", "DestinationRule", "KubernetesGateway", "HTTPRoute",
                    "GRPCRoute", "TLSRoute"]


class IntegrityRefused(RunError):
    """The write-time check refused the change; ``violations`` are the ones it would have introduced."""

    def __init__(self, message: str, violations: List[Dict[str, Any]]) -> None:
        super().__init__(message)
        self.violations = violations


class PartialApply(RunError):
    """A real apply stopped part-way: ``written`` and ``not_written`` name the objects (kind/namespace/name)."""

    def __init__(self, message: str, written: List[str], not_written: List[str]) -> None:
        super().__init__(message)
        self.written = written
        self.not_written = not_written


@dataclass
class Options:
    state: str = "present"
    prune: bool = True
    apply: bool = True
    dest: Optional[str] = None
    integrity: str = "enforce"
    # Under enforce, write even when the guard cannot read a namespace the write references.
    accept_unverifiable: bool = False
    force_conflicts: bool = False
    # Namespaces this task owns entirely: meshservices found there but not in the task are removed.
    exclusive_namespaces: List[str] = field(default_factory=list)
    check_mode: bool = False
    diff: bool = False
    connection: Dict[str, Any] = field(default_factory=dict)


def validate_all(entries: Sequence[Tuple[str, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """Validate every entry; one error message listing every bad entry."""
    params, problems = [], []
    for where, options in entries:
        try:
            params.append(spec.validate(options, where))
        except spec.SpecError as error:
            problems.append(str(error))
    if problems:
        raise RunError("invalid meshservice(s), nothing was applied: " + " | ".join(problems))
    seen: Dict[Tuple[str, str], str] = {}
    for (where, _options), item in zip(entries, params):
        key = (item["namespace"], item["name"])
        if key in seen:
            raise RunError("%s: meshservice %s/%s is also defined by %s" % (where, key[0], key[1], seen[key]))
        seen[key] = where
    return params


def render_all(params: List[Dict[str, Any]], entries: Sequence[Tuple[str, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """Render every meshservice; two of them rendering the same object is an error."""
    objects: List[Dict[str, Any]] = []
    owner: Dict[str, str] = {}
    for (where, _options), item in zip(entries, params):
        renderer = render_gatewayapi.render_objects if item["api"] == "gateway-api" else render.render
        for obj in renderer(item):
            key = render.identity(obj)
            if key in owner:
                raise RunError("%s renders %s, which %s renders too" % (where, key, owner[key]))
            owner[key] = where
            objects.append(obj)
    return objects


def write_manifests(dest: str, params: List[Dict[str, Any]], objects: List[Dict[str, Any]], check_mode: bool) -> bool:
    """One multi-document YAML file per meshservice, for GitOps; returns whether any changed."""
    import yaml  # pylint: disable=import-outside-toplevel
    changed = False
    for item in params:
        mine = [o for o in objects if o["metadata"]["labels"].get(render.MESHSERVICE_LABEL) == item["name"]
                and o["metadata"]["labels"].get(render.MESHSERVICE_NAMESPACE_LABEL) == item["namespace"]]
        text = yaml.safe_dump_all(mine, sort_keys=False, explicit_start=True)
        path = os.path.join(dest, "%s-%s.yaml" % (item["namespace"], item["name"]))
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if current != text:
            changed = True
            if not check_mode:
                os.makedirs(dest, exist_ok=True)
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
    return changed


def referenced_namespaces(objects: Sequence[Dict[str, Any]]) -> Set[str]:
    """Namespaces rendered objects point into: Gateways as ``namespace/name``, Service FQDN hosts, exportTo."""
    found: Set[str] = set()
    for obj in objects:
        spec_ = obj.get("spec") or {}
        found |= {namespace for namespace in spec_.get("exportTo") or [] if namespace not in (".", "*")}
        found |= {ref.split("/", 1)[0] for ref in spec_.get("gateways") or [] if "/" in ref}
        references = list(spec_.get("parentRefs") or [])
        for rule in spec_.get("rules") or []:
            references += rule.get("backendRefs") or []
            references += [(f.get("requestMirror") or {}).get("backendRef") or {} for f in rule.get("filters") or []]
        found |= {ref["namespace"] for ref in references if ref.get("namespace")}
        hosts = [spec_.get("host")] if obj["kind"] == "DestinationRule" else []
        for protocol in ("http", "tcp", "tls"):
            for rule in spec_.get(protocol) or []:
                hosts += [(destination.get("destination") or {}).get("host") for destination in rule.get("route") or []]
                hosts += [(mirror.get("destination") or {}).get("host") for mirror in rule.get("mirrors") or []]
                hosts.append((rule.get("mirror") or {}).get("host"))
        for host in filter(None, hosts):
            labels = resolve_host(host, obj["metadata"]["namespace"]).split(".")
            if len(labels) > 3 and labels[2] == "svc":
                found.add(labels[1])
    return found


def _blamed_on_the_write(new: List[Dict[str, Any]], written: Set[str]) -> List[Dict[str, Any]]:
    """A conflict between what is written and what exists is the written object's finding (the existing one is
    its related party): the existing party's copy of the same conflict is dropped."""
    def identity(finding: Dict[str, Any]) -> str:
        return render.object_identity(finding["kind"], finding.get("api_group", ""), finding["namespace"],
                                      finding["name"])
    on_written = {(v["code"], identity(v)) for v in new if identity(v) in written}
    return [v for v in new if identity(v) in written or not any(
        (v["code"], identity(party)) in on_written for party in v.get("related", []))]


def dropped_fields(sent: Any, returned: Any, path: str = "") -> List[str]:
    """Paths of fields in ``sent`` that ``returned`` (the server's copy) does not have."""
    if isinstance(sent, dict) and isinstance(returned, dict):
        found = []
        for key, value in sent.items():
            child = "%s.%s" % (path, key) if path else key
            if key not in returned and value not in (None, {}, []):  # an empty value may be left out
                found.append(child)
            elif key in returned:
                found += dropped_fields(value, returned[key], child)
        return found
    if isinstance(sent, list) and isinstance(returned, list) and len(sent) == len(returned):
        return [found for index, (a, b) in enumerate(zip(sent, returned))
                for found in dropped_fields(a, b, "%s[%d]" % (path, index))]
    return []


def _parallel(function: Callable, items: Sequence[Any]) -> List[Any]:
    if len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
        return list(pool.map(function, items))


class MeshServiceApplier:
    def __init__(self, options: Options, params: List[Dict[str, Any]], desired: List[Dict[str, Any]]) -> None:
        self.options = options
        self.params = params
        self.desired = desired
        self.resources = OwnedResources(KubernetesAPI(options.connection))
        self.warnings: List[str] = []
        self.integrity: Dict[str, Any] = {"mode": options.integrity, "new_violations": []}

    def owned(self) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
        """Live objects we own: those of these meshservices, and those of other meshservices
        in the exclusive namespaces (which are removed)."""
        keys = {(item["namespace"], item["name"]) for item in self.params}
        exclusive = set(self.options.exclusive_namespaces)
        mine: List[Dict[str, Any]] = []
        others: List[Dict[str, Any]] = []
        for kind in KINDS:
            for obj in self._owned(kind):
                owner = render.meshservice_of(obj)
                if owner in keys:
                    mine.append(obj)
                elif owner[0] in exclusive:
                    others.append(obj)
        return mine, others

    def _owned(self, kind: str) -> List[Dict[str, Any]]:
        """Ours of a kind in every namespace or, for a user who may not list the whole cluster, in the namespaces
        this task writes to or owns."""
        try:
            return list(self.resources.owned(kind))
        except Forbidden:
            namespaces = sorted({item["namespace"] for item in self.params}
                                | {obj["metadata"]["namespace"] for obj in self.desired}
                                | set(self.options.exclusive_namespaces))
        found: List[Dict[str, Any]] = []
        for namespace in namespaces:
            try:
                found += self.resources.owned(kind, namespace=namespace)
            except Forbidden as error:
                if kind in GATEWAY_API_OWNED_KINDS and not any(resource_kind(obj) == kind for obj in self.desired):
                    self.warnings.append("cannot list %ss (forbidden): ones an earlier api: gateway-api run left "
                                         "are not pruned" % kind)
                    return found
                raise RunError("cannot list %ss in namespace %s to find what this task owns (forbidden): %s"
                               % (kind, namespace, error)) from None
        return found

    def run(self) -> Dict[str, Any]:
        mine, others = self.owned()
        if self.options.state == "absent":
            return self._delete(mine, "deleted")
        wanted = {render.identity(obj) for obj in self.desired}
        stale = [obj for obj in mine if render.identity(obj) not in wanted] if self.options.prune else []
        stale += others
        before = dict(zip(map(render.identity, self.desired), _parallel(self.resources.get, self.desired)))
        self._refuse_taking_over(before, {render.meshservice_of(obj) for obj in others})
        dry = self._apply_all(self.desired, dry_run=True)
        self._refuse_dropped_fields(dry)
        self._check_integrity(stale)
        # The dry run says what each write would change: objects it leaves as they are are not written.
        results, writes = [], []
        for obj, result in zip(self.desired, dry):
            old, new = comparable(before[render.identity(obj)]), comparable(result)
            action = "created" if old is None else ("unchanged" if old == new else "updated")
            results.append(self._entry(obj, action, old, new))
            if action != "unchanged":
                writes.append(obj)
        if not self.options.check_mode:
            self._apply_all(writes, dry_run=False)
        pruned = self._delete(stale, "pruned")
        results += pruned["resources"]
        return {"changed": any(r["action"] != "unchanged" for r in results), "resources": results,
                "integrity": self.integrity, "warnings": self.warnings}

    def _refuse_taking_over(self, live: Dict[str, Optional[Dict[str, Any]]], leaving: Set[Tuple[str, str]]) -> None:
        """An object another meshservice owns is never taken over (it would change hands on every run)."""
        clashes = []
        for obj in self.desired:
            current = live.get(render.identity(obj))
            owner = render.meshservice_of(current) if current else ("", "")
            if owner[1] and owner != render.meshservice_of(obj) and owner not in leaving:
                clashes.append("%s belongs to meshservice %s/%s, and meshservice %s/%s renders it too"
                               % ((render.identity(obj),) + owner + render.meshservice_of(obj)))
        if clashes:
            raise RunError("nothing was applied: %s; give one of them other object names, or delete the other "
                           "meshservice first" % " | ".join(clashes))

    def _refuse_dropped_fields(self, dry: List[Dict[str, Any]]) -> None:
        """A field the served CRD does not have is pruned without an error: refuse rather than lose it."""
        dropped = ["%s: %s" % (render.identity(obj), ", ".join(paths))
                   for obj, result in zip(self.desired, dry) for paths in [dropped_fields(obj, result)] if paths]
        if dropped:
            raise RunError("nothing was applied: the API server's schema drops field(s) the task sets (the CRD "
                           "installed in the cluster does not have them): %s" % " | ".join(dropped))

    def _apply_all(self, objects: List[Dict[str, Any]], dry_run: bool) -> List[Dict[str, Any]]:
        def apply(obj: Dict[str, Any]):
            try:
                return self.resources.apply(obj, dry_run=dry_run, force=self.options.force_conflicts)
            except Conflict as error:
                return RunError("%s: conflict with another field manager (%s); set force_conflicts: true to take "
                                "the fields over" % (render.identity(obj), error))
            except Invalid as error:
                return RunError("%s: rejected by the API server: %s" % (render.identity(obj), error))
            except ClusterError as error:  # the server went away mid-batch: say what was written
                return RunError("%s: %s" % (render.identity(obj), error))
        results = _parallel(apply, objects)
        errors = [str(result) for result in results if isinstance(result, RunError)]
        if errors and dry_run:
            raise RunError("nothing was applied: " + " | ".join(dict.fromkeys(errors)))
        if errors:
            written = [render.identity(obj) for obj, result in zip(objects, results) if not isinstance(result, RunError)]
            failed = [render.identity(obj) for obj, result in zip(objects, results) if isinstance(result, RunError)]
            raise PartialApply("apply failed part-way: %d of %d object(s) written, not written: %s; run the task again "
                               "to complete it (%s)" % (len(written), len(objects), ", ".join(failed), errors[0]),
                               written, failed)
        return results

    def _check_integrity(self, stale: List[Dict[str, Any]]) -> None:
        if self.options.integrity == "off":
            return
        # What the write touches: its own namespaces and every namespace its objects reference.
        namespaces = sorted({obj["metadata"]["namespace"] for obj in self.desired + stale}
                            | referenced_namespaces(self.desired))
        common = dict(live=True, namespaces=namespaces, checks=WRITE_TIME_CHECKS, include_objects=False,
                      connection=self.options.connection, mesh_wide_kinds=MESH_WIDE_CLAIMS)
        baseline = run_integrity(IntegrityRequest(**common))
        hidden = [(resource_kind(o), o["metadata"]["namespace"], o["metadata"]["name"]) for o in stale]
        proposed = run_integrity(IntegrityRequest(objects=self.desired, hidden=hidden, **common))
        unread = proposed["summary"]["incomplete_reasons"]
        if unread and self.options.integrity == "enforce" and not self.options.accept_unverifiable:
            raise IntegrityRefused("integrity: cannot verify the change, nothing was applied (set accept_unverifiable: "
                                   "true to write anyway): %s" % " | ".join(unread), [])
        known = {v["id"] for v in baseline["violations"]}
        new = _blamed_on_the_write([v for v in proposed["violations"] if v["severity"] == "error" and v["id"] not in known],
                                   {render.identity(obj) for obj in self.desired})
        self.integrity["new_violations"] = new
        if not new:
            return
        messages = [v["message"] for v in new]
        if self.options.integrity == "enforce":
            raise IntegrityRefused("integrity: the change would introduce %d error(s), nothing was applied: %s"
                                   % (len(new), " | ".join(messages)), new)
        self.warnings += ["integrity: %s" % message for message in messages]

    def _delete(self, objects: List[Dict[str, Any]], action: str) -> Dict[str, Any]:
        # Only what carries our labels ever reaches here: owned() selects on them.
        def delete(obj: Dict[str, Any]) -> None:
            self.resources.delete(obj, self.options.check_mode)
        _parallel(delete, objects)
        results = [self._entry(obj, action, comparable(obj), None) for obj in objects]
        return {"changed": bool(results), "resources": results, "integrity": self.integrity,
                "warnings": self.warnings}

    def _entry(self, obj: Dict[str, Any], action: str, old: Optional[Dict[str, Any]],
               new: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        metadata = obj["metadata"]
        entry: Dict[str, Any] = {"kind": obj["kind"], "namespace": metadata["namespace"], "name": metadata["name"],
                                 "action": action}
        if self.options.diff and action != "unchanged":
            entry["diff"] = {"before": old or {}, "after": new or {},
                             "before_header": render.identity(obj), "after_header": render.identity(obj)}
        return entry


def run_meshservices(entries: Sequence[Tuple[str, Dict[str, Any]]], options: Options) -> Dict[str, Any]:
    """Validate, render, and (unless ``apply`` is false) apply or delete; the module's whole job."""
    params = validate_all(entries)
    desired = render_all(params, entries) if options.state == "present" else []
    result: Dict[str, Any] = {"changed": False, "rendered": desired, "resources": [], "warnings": []}
    if options.dest and options.state == "present":
        result["changed"] = write_manifests(options.dest, params, desired, options.check_mode)
    if not options.apply:
        return result
    try:
        applied = MeshServiceApplier(options, params, desired).run()
    except ClusterError as error:
        raise RunError(str(error)) from None
    applied["changed"] = applied["changed"] or result["changed"]
    result.update(applied)
    return result
