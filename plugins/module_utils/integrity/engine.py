# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the check catalogue over a loaded model and shapes the result."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import checks as catalogue
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import repair, triage
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import (
    DEFAULT_ISTIO_NAMESPACE, DEFAULT_SYSTEM_NAMESPACES, WORKLOAD_KINDS, MeshModel, api_group)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.kinds import DISPLAY_KINDS

_SERVICE_FQDN = re.compile(r"^[^.]+\.([^.]+)\.svc\.")
SCHEMA_CODES = frozenset(check.code for check in catalogue.CATALOGUE if not check.sql)


def _within(path: str, refused: str) -> bool:
    """Whether a finding's field is the refused one or lies under it."""
    return bool(refused) and (path == refused or path.startswith((refused + ".", refused + "[")))


def target_namespace(check: catalogue.Check, target: Optional[str]) -> Optional[str]:
    """The namespace a missing target would live in, when the target says so."""
    if not target:
        return None
    if check.target_kind in ("gateway", "object"):  # namespace/name
        return target.partition("/")[0]
    if check.target_kind == "host":
        match = _SERVICE_FQDN.match(target)
        return match.group(1) if match else None
    return None


def select_checks(codes: Optional[Iterable[str]] = None,
                  skip: Optional[Iterable[str]] = None) -> List[catalogue.Check]:
    """The checks to run: all, or those named, less those skipped. Unknown codes are an error."""
    wanted = [code.upper() for code in (codes or [])]
    skipped = [code.upper() for code in (skip or [])]
    unknown = sorted(set(wanted + skipped) - set(catalogue.BY_CODE))
    if unknown:
        raise ValueError("unknown check code(s): %s (known: %s)" % (", ".join(unknown), ", ".join(catalogue.BY_CODE)))
    return [check for check in catalogue.CATALOGUE
            if (not wanted or check.code in wanted) and check.code not in skipped]


class Analysis:
    """The violations of one model, with what was and was not verified."""

    def __init__(self, model: MeshModel, checks: Sequence[catalogue.Check],
                 scanned_namespaces: Optional[Iterable[str]] = None,
                 system_namespaces: Iterable[str] = DEFAULT_SYSTEM_NAMESPACES,
                 istio_namespace: str = DEFAULT_ISTIO_NAMESPACE,
                 suppress: Sequence[triage.SuppressionRule] = (), live: bool = False,
                 rejections: Sequence[Any] = ()) -> None:
        self.model = model.finish()
        mesh = model.mesh(istio_namespace)
        self.mesh_config = {"source": mesh.source, "enable_auto_mtls": mesh.enable_auto_mtls,
                            "root_namespace": mesh.root_namespace or istio_namespace}
        # ``live``: the Services were listed from a cluster, so a Service missing from them does not exist.
        self.live = live
        self.parameters = {"domain": model.domain, "root_namespace": self.mesh_config["root_namespace"],
                           "auto_mtls": int(mesh.enable_auto_mtls),
                           "namespaces_scanned": int("Namespace" in model.scanned), "live": int(live)}
        self.checks = checks
        self.scanned_namespaces = None if scanned_namespaces is None else set(scanned_namespaces)
        self.system_namespaces = set(system_namespaces) | {istio_namespace}
        # Objects by id, read as findings name them: a large mesh has few objects with findings.
        self._objects: Dict[int, Dict[str, Any]] = {}
        self.checks_run: List[str] = []
        self.checks_skipped: Dict[str, str] = {}
        self.unverifiable = 0
        self.violations: List[Dict[str, Any]] = []
        self._ids: set = set()
        for check in checks:
            self._run(check)
        self._schema_violations(rejections, {check.code for check in checks})
        self._drop_findings_on_refused_values(rejections)
        self.violations.sort(key=lambda v: (catalogue.SEVERITY_ORDER[v["severity"]], v["code"],
                                            v["namespace"], v["name"], v["path"]))
        triage.assign_fingerprints(self.violations)
        self.violations, self.suppressed = triage.split_suppressed(self.violations, self._annotations(), list(suppress))

    def _annotations(self) -> Dict[int, Dict[str, set]]:
        """Object id -> suppression annotation -> codes."""
        annotations: Dict[int, Dict[str, set]] = {}
        for object_id, annotation, code in self.model.db.execute("SELECT object_id, annotation, code FROM suppression"):
            annotations.setdefault(object_id, {}).setdefault(annotation, set()).add(code)
        return annotations

    def _run(self, check: catalogue.Check) -> None:
        requires = check.requires if self.live or check.offline_requires is None else check.offline_requires
        missing = [kind for kind in requires if not self._scanned(kind)]
        if missing:
            self.checks_skipped[check.code] = "needs %s, which the scan did not include" % ", ".join(missing)
            return
        self.checks_run.append(check.code)
        if not check.sql:
            return  # a schema check: its findings come from the load (_schema_violations)
        for row in self.model.db.execute(check.sql, self.parameters):
            row = dict(row)
            subject = self._object(row["object_id"])
            if not subject["in_scope"]:
                continue
            if check.skips_system_namespaces and subject["namespace"] in self.system_namespaces:
                continue
            if row.get("unverifiable"):
                self.unverifiable += 1
                continue
            namespace = target_namespace(check, row.get("target"))
            if self.scanned_namespaces is not None and namespace and namespace not in self.scanned_namespaces:
                self.unverifiable += 1
                continue
            violation = self._violation(check, subject, row)
            if violation["id"] not in self._ids:  # one finding per object and field
                self._ids.add(violation["id"])
                self.violations.append(violation)

    def _schema_violations(self, rejections: Sequence[Any], codes: set) -> None:
        """What the API server would refuse (schema.admission rejections), as findings of the MSH8xx codes."""
        by_source = {row["source"]: row for row in self._objects_where(
            "source IN (SELECT value FROM json_each(?))", (json.dumps([r.source for r in rejections]),))}
        for rejection in rejections:
            check = catalogue.BY_CODE.get(rejection.code)
            if check is None or check.code not in codes:
                continue
            subject = by_source.get(rejection.source)
            if subject is not None and not subject["in_scope"]:
                continue
            kind = DISPLAY_KINDS.get(rejection.kind, rejection.kind)
            where = "%s %s/%s" % (kind, rejection.namespace, rejection.name)
            violation = {
                "id": "%s:%s/%s/%s:%s" % (check.code, kind, rejection.namespace, rejection.name, rejection.path),
                "code": check.code, "istio_code": "", "kiali_code": "", "severity": check.severity,
                "title": check.title, "kind": kind, "api_group": rejection.api_group,
                "namespace": rejection.namespace, "name": rejection.name, "path": rejection.path,
                "object": "%s/%s/%s" % (kind, rejection.namespace, rejection.name),
                "message": "%s: %s: %s" % (where, rejection.path or "(document)", rejection.reason),
                "target": "", "related": [], "managed": bool(subject and subject["managed"]),
                "source": rejection.source, "object_id": subject["id"] if subject else None,
            }
            if violation["id"] not in self._ids:
                self._ids.add(violation["id"])
                self.violations.append(violation)

    def _drop_findings_on_refused_values(self, rejections: Sequence[Any]) -> None:
        """No finding of another check stands on a value the API server refuses (the schema finding says it)."""
        refused: Dict[str, List[str]] = {}
        for rejection in rejections:
            refused.setdefault(rejection.source, []).append(rejection.path)
        if not refused:
            return
        self.violations = [violation for violation in self.violations
                           if violation["code"] in SCHEMA_CODES
                           or not any(_within(violation["path"], path) for path in refused.get(violation["source"], ()))]

    def _scanned(self, kind: str) -> bool:
        if kind == catalogue.WORKLOADS:
            return any(workload in self.model.scanned for workload in WORKLOAD_KINDS)
        return kind in self.model.scanned

    def _related(self, row: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The other parties a row names in ``related_ids`` (comma-separated)."""
        ids = [int(i) for i in str(row.get("related_ids") or "").split(",") if i]
        related = []
        for object_id in dict.fromkeys(ids):
            other = self._object(object_id)
            related.append({"kind": other["kind"], "api_group": api_group(other["model_kind"]),
                            "namespace": other["namespace"], "name": other["name"],
                            "path": row.get("related_path") or "", "managed": bool(other["managed"]),
                            "source": other["source"]})
        return sorted(related, key=lambda r: (r["kind"], r["namespace"], r["name"]))

    def _violation(self, check: catalogue.Check, subject: Dict[str, Any], row: Dict[str, Any]) -> Dict[str, Any]:
        related = self._related(row)
        message = check.message.format(**row) + (row.get("hint") or "")
        if related:
            message += " (%s)" % ", ".join(
                ("%s %s/%s %s" % (r["kind"], r["namespace"], r["name"], r["path"])).rstrip() for r in related)
        violation = {
            "id": "%s:%s/%s/%s:%s" % (check.code, subject["kind"], subject["namespace"], subject["name"], row["path"]),
            "code": check.code,
            "istio_code": check.istio_code if row.get("istio_code") is None else row["istio_code"],
            "kiali_code": check.kiali_code if row.get("kiali_code") is None else row["kiali_code"],
            "severity": row.get("severity") or check.severity,
            "title": check.title,
            "kind": subject["kind"],
            "api_group": api_group(subject["model_kind"]),
            "namespace": subject["namespace"],
            "name": subject["name"],
            "path": row["path"],
            "object": "%s/%s/%s" % (subject["kind"], subject["namespace"], subject["name"]),
            "message": "%s %s/%s: %s" % (subject["kind"], subject["namespace"], subject["name"], message),
            "target": row.get("target") or "",
            "related": related,
            "managed": bool(subject["managed"]),
            "source": subject["source"],
            "object_id": subject["id"],
        }
        if row.get("subset"):
            violation["subset"] = row["subset"]  # a missing or empty subset: the graph names its placeholder
        if "repair_target" in row:
            # Of a conflict's parties, the repair changes the newer ones only.
            violation["repair_target"] = bool(row["repair_target"])
        return violation

    def _objects_where(self, condition: str, parameters: Sequence[Any]) -> List[Dict[str, Any]]:
        return [dict(row, kind=DISPLAY_KINDS.get(row["kind"], row["kind"]), model_kind=row["kind"])
                for row in self.model.db.execute("SELECT id, kind, namespace, name, managed, in_scope, created, source "
                                                 "FROM object WHERE " + condition, parameters)]

    def _object(self, object_id: int) -> Dict[str, Any]:
        found = self._objects.get(object_id)
        if found is None:
            (found,) = self._objects_where("id = ?", (object_id,))
            self._objects[object_id] = found
        return found

    def in_scope_objects(self) -> List[Dict[str, str]]:
        return [{"kind": o["kind"], "namespace": o["namespace"], "name": o["name"]}
                for o in sorted(self._objects_where("in_scope", ()), key=lambda o: (o["kind"], o["namespace"], o["name"]))]


def summarize(analysis: Analysis, incomplete_reasons: Sequence[str], skipped_documents: int,
              ignored_kinds: Dict[str, int]) -> Dict[str, Any]:
    """Counts by severity and code; ``consistent`` only for a complete scan with no error or warning."""
    by_severity = {catalogue.ERROR: 0, catalogue.WARNING: 0, catalogue.INFO: 0}
    by_code: Dict[str, int] = {}
    for violation in analysis.violations:
        by_severity[violation["severity"]] += 1
        by_code[violation["code"]] = by_code.get(violation["code"], 0) + 1
    complete = not incomplete_reasons
    suppressed_by_code: Dict[str, int] = {}
    for violation in analysis.suppressed:
        suppressed_by_code[violation["code"]] = suppressed_by_code.get(violation["code"], 0) + 1
    return {
        "consistent": complete and by_severity[catalogue.ERROR] == 0 and by_severity[catalogue.WARNING] == 0,
        "complete": complete,
        "incomplete_reasons": list(incomplete_reasons),
        "violations": len(analysis.violations),
        "errors": by_severity[catalogue.ERROR],
        "warnings": by_severity[catalogue.WARNING],
        "infos": by_severity[catalogue.INFO],
        "by_severity": by_severity,
        "by_code": dict(sorted(by_code.items())),
        "suppressed": len(analysis.suppressed),
        "suppressed_by_code": dict(sorted(suppressed_by_code.items())),
        "scanned": dict(sorted(analysis.model.scanned.items())),
        "ignored_kinds": dict(sorted(ignored_kinds.items())),
        "skipped_documents": skipped_documents,
        "checks_run": analysis.checks_run,
        "checks_skipped": analysis.checks_skipped,
        "unverifiable_references": analysis.unverifiable,
        "mesh_config": analysis.mesh_config,
    }


def analyze(model: MeshModel, codes: Optional[Iterable[str]] = None, skip: Optional[Iterable[str]] = None,
            scanned_namespaces: Optional[Iterable[str]] = None, incomplete_reasons: Sequence[str] = (),
            skipped_documents: int = 0, ignored_kinds: Optional[Dict[str, int]] = None,
            gateway_selector: Optional[Dict[str, str]] = None, include_objects: bool = True,
            system_namespaces: Iterable[str] = DEFAULT_SYSTEM_NAMESPACES,
            istio_namespace: str = DEFAULT_ISTIO_NAMESPACE,
            suppress: Sequence[triage.SuppressionRule] = (), live: bool = False,
            rejections: Sequence[Any] = ()) -> Dict[str, Any]:
    """The whole result the facts module returns: summary, violations, suppressed findings, repair plan.

    Suppressed findings get no repair action: they are known exceptions. ``live``: the model was read from a cluster.
    """
    analysis = Analysis(model, select_checks(codes, skip), scanned_namespaces, system_namespaces, istio_namespace,
                        suppress, live, rejections)
    plan = repair.plan(analysis.model, analysis.violations, gateway_selector)
    for violation in analysis.violations + analysis.suppressed:
        del violation["object_id"]
    result = {
        "summary": summarize(analysis, incomplete_reasons, skipped_documents, ignored_kinds or {}),
        "violations": analysis.violations,
        "suppressed": analysis.suppressed,
        "repair_plan": plan,
    }
    if include_objects:
        # Documents the schema layer kept out of the model are checked objects too (reports list them).
        refused = {(v["kind"], v["namespace"], v["name"]) for v in analysis.violations + analysis.suppressed
                   if v["code"] in SCHEMA_CODES}
        objects = analysis.in_scope_objects()
        refused -= {(o["kind"], o["namespace"], o["name"]) for o in objects}
        result["objects"] = sorted(objects + [{"kind": kind, "namespace": namespace, "name": name}
                                              for kind, namespace, name in refused],
                                   key=lambda o: (o["kind"], o["namespace"], o["name"]))
    return result
