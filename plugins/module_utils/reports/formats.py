# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports for CI from the facts of istio_integrity_facts: SARIF 2.1.0, GitHub annotations, GitLab Code Quality.

Pure functions of the facts and the check catalogue, so they are the same
whether a filter plugin, a test or another tool calls them. Paths are the
findings' ``file`` (relative to the module's ``base_dir``, the repository root
in a pipeline); findings without a file (from a live cluster) keep their
logical location only.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import checks as catalogue
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.triage import FINGERPRINT_KEY
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.locations import without_location

TOOL_NAME = "meshops.istio_integrity"
TOOL_URI = "https://github.com/meshops/istio_integrity"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {catalogue.ERROR: "error", catalogue.WARNING: "warning", catalogue.INFO: "note"}
GITHUB_COMMAND = {catalogue.ERROR: "error", catalogue.WARNING: "warning", catalogue.INFO: "notice"}
GITLAB_SEVERITY = {catalogue.ERROR: "critical", catalogue.WARNING: "major", catalogue.INFO: "info"}
# GitHub code scanning's documented hard limits per run and per result.
MAX_SARIF_RESULTS = 25000
MAX_RELATED_LOCATIONS = 1000


def plain_message(finding: Dict[str, Any]) -> str:
    """The message without its leading file:line:col (formats that place findings carry it apart)."""
    return without_location(finding.get("message", ""))


def object_name(finding: Dict[str, Any]) -> str:
    return "%s %s/%s" % (finding["kind"], finding["namespace"], finding["name"]) if finding.get("namespace") else (
        "%s %s" % (finding["kind"], finding["name"]))


def start(finding: Dict[str, Any]) -> Optional[Dict[str, int]]:
    """1-based line and column of the finding's field (or its object), None without a file."""
    if not finding.get("file"):
        return None
    return {"line": finding.get("field_line") or finding["line"],
            "column": finding.get("field_column") or finding["column"]}


# -- SARIF ---------------------------------------------------------------------
def _rule(check: catalogue.Check) -> Dict[str, Any]:
    equivalents = ", ".join(code for code in (check.istio_code, check.kiali_code) if code) or "none"
    help_text = "%s. %s Equivalent istioctl analyze / Kiali codes: %s. Reads: %s." % (
        check.title, check.resolution or "", equivalents, ", ".join(check.reads))
    tags = ["istio", check.family or "mesh"] + [code for code in (check.istio_code, check.kiali_code) if code]
    return {
        "id": check.code,
        "name": "".join(word.capitalize() for word in re.findall(r"[A-Za-z0-9]+", check.title))[:120],
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": (check.title + ". " + check.resolution).strip() if check.resolution else check.title},
        "help": {"text": re.sub(r"\s+", " ", help_text).strip(),
                 "markdown": "**%s** (%s)\n\n%s\n\nistioctl analyze: %s; Kiali: %s. See docs/checks.md#%s." % (
                     check.title, check.code, check.resolution or "", check.istio_code or "-", check.kiali_code or "-",
                     check.code.lower())},
        "defaultConfiguration": {"level": SARIF_LEVEL[check.severity]},
        "properties": {"tags": tags[:20], "istio_code": check.istio_code, "kiali_code": check.kiali_code,
                       "precision": "very-high"},
    }


def _physical(finding: Dict[str, Any], field: bool = True) -> Optional[Dict[str, Any]]:
    if not finding.get("file"):
        return None
    line = (finding.get("field_line") if field else None) or finding["line"]
    column = (finding.get("field_column") if field else None) or finding["column"]
    return {"artifactLocation": {"uri": _uri(finding["file"])},
            "region": {"startLine": line, "startColumn": column}}


def _uri(path: str) -> str:
    """A relative URI reference: forward slashes, reserved characters escaped."""
    return re.sub(r"[^A-Za-z0-9._~/\-]", lambda m: "".join("%%%02X" % b for b in m.group(0).encode("utf-8")),
                  path.replace("\\", "/"))


def _logical(finding: Dict[str, Any]) -> Dict[str, Any]:
    return {"name": finding["name"], "fullyQualifiedName": object_name(finding), "kind": "resource"}


def _result(finding: Dict[str, Any], rule_index: Dict[str, int], baseline_state: Optional[str] = None) -> Dict[str, Any]:
    location: Dict[str, Any] = {"logicalLocations": [_logical(finding)]}
    physical = _physical(finding)
    if physical:
        location["physicalLocation"] = physical
    result: Dict[str, Any] = {
        "ruleId": finding["code"],
        "ruleIndex": rule_index[finding["code"]],
        "level": SARIF_LEVEL.get(finding["severity"], "warning"),
        "message": {"text": plain_message(finding)},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding["fingerprint"]},
        "properties": {"path": finding["path"], "istio_code": finding.get("istio_code", ""),
                       "kiali_code": finding.get("kiali_code", ""), "object": object_name(finding)},
    }
    related = []
    for index, party in enumerate(finding.get("related", [])[:MAX_RELATED_LOCATIONS]):
        entry: Dict[str, Any] = {"id": index + 1, "message": {"text": ("%s %s" % (object_name(party), party.get("path", ""))).strip()},
                                 "logicalLocations": [_logical(party)]}
        party_physical = _physical(party, field=False)
        if party_physical:
            entry["physicalLocation"] = party_physical
        related.append(entry)
    if related:
        result["relatedLocations"] = related
    if finding.get("suppressed_by"):
        kind = "inSource" if finding["suppressed_by"].startswith("annotation") else "external"
        result["suppressions"] = [{"kind": kind, "justification": finding["suppressed_by"]}]
    state = baseline_state or finding.get("baseline")
    if state:
        result["baselineState"] = state
    return result


def to_sarif(facts: Dict[str, Any]) -> Dict[str, Any]:
    """One SARIF 2.1.0 log with one run: every check that ran as a rule, every finding as a result.

    Suppressed findings are results with ``suppressions``; with a baseline, findings the baseline had and
    that are gone are results with ``baselineState: absent``.
    """
    ran = set(facts.get("summary", {}).get("checks_run") or catalogue.BY_CODE)
    findings = list(facts.get("violations", [])) + list(facts.get("suppressed", []))
    codes = ran | {finding["code"] for finding in findings}
    rules = [_rule(check) for check in catalogue.CATALOGUE if check.code in codes]
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    results = [_result(finding, rule_index) for finding in findings]
    for gone in facts.get("baseline_absent", []):
        if gone.get("code") in rule_index:
            results.append({"ruleId": gone["code"], "ruleIndex": rule_index[gone["code"]],
                            "level": SARIF_LEVEL.get(gone["severity"], "warning"),
                            "message": {"text": plain_message(gone)}, "baselineState": "absent",
                            "partialFingerprints": {FINGERPRINT_KEY: gone["fingerprint"]}})
    notifications = []
    if len(results) > MAX_SARIF_RESULTS:
        notifications.append({"level": "warning", "message": {"text": "%d results, over code scanning's limit of %d: "
                                                              "the first %d (errors first) are kept" % (
                                                                  len(results), MAX_SARIF_RESULTS, MAX_SARIF_RESULTS)}})
        results = results[:MAX_SARIF_RESULTS]
    summary = facts.get("summary", {})
    notifications += [{"level": "warning", "message": {"text": "not scanned: %s" % reason}}
                      for reason in summary.get("incomplete_reasons", [])]
    invocation: Dict[str, Any] = {"executionSuccessful": bool(summary.get("complete", True))}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL_NAME, "informationUri": TOOL_URI, "rules": rules}},
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


# -- GitHub Actions workflow commands -------------------------------------------
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github_annotations(facts: Dict[str, Any]) -> str:
    """One ``::error file=...,line=...,col=...,title=...::message`` line per reported finding."""
    lines = []
    for finding in facts.get("violations", []):
        properties = []
        where = start(finding)
        if where:
            properties += ["file=" + _escape_property(finding["file"]), "line=%d" % where["line"],
                           "col=%d" % where["column"]]
        properties.append("title=" + _escape_property("%s %s" % (finding["code"], finding.get("title", ""))).strip())
        lines.append("::%s %s::%s" % (GITHUB_COMMAND.get(finding["severity"], "warning"), ",".join(properties),
                                      _escape_data(plain_message(finding))))
    return "\n".join(lines) + ("\n" if lines else "")


# -- GitLab Code Quality ------------------------------------------------------------
def to_gitlab_codequality(facts: Dict[str, Any]) -> List[Dict[str, Any]]:
    """GitLab's Code Quality report: one issue per reported finding, fingerprints unique."""
    issues = []
    for finding in facts.get("violations", []):
        where = start(finding)
        issues.append({
            "type": "issue",
            "check_name": finding["code"],
            "description": plain_message(finding),
            "categories": ["Bug Risk"],
            "severity": GITLAB_SEVERITY.get(finding["severity"], "minor"),
            "fingerprint": finding["fingerprint"],
            "location": {"path": finding["file"] if where else object_name(finding),
                         "lines": {"begin": where["line"] if where else 1}},
        })
    return issues


def counts_line(facts: Dict[str, Any]) -> str:
    """``3 error(s), 1 warning(s), 0 info(s), 2 suppressed; by code MSH101=2 ...``: one line for job logs."""
    summary = facts.get("summary", {})
    text = "%d error(s), %d warning(s), %d info(s), %d suppressed" % (
        summary.get("errors", 0), summary.get("warnings", 0), summary.get("infos", 0), summary.get("suppressed", 0))
    if "new" in summary:
        text += ", new: %d error(s), %d warning(s), %d info(s)" % tuple(
            summary["new"].get(severity, 0) for severity in (catalogue.ERROR, catalogue.WARNING, catalogue.INFO))
    by_code = summary.get("by_code") or {}
    if by_code:
        text += "; by code " + " ".join("%s=%d" % item for item in sorted(by_code.items()))
    return text
