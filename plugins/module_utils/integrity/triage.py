# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What happens to findings after the checks: suppressions, fingerprints, baselines.

Suppressed findings are never dropped: they move to a list of their own with
the reason, so reports can count them. A fingerprint names a finding by what
it is about (code, object, field without list positions, target), not by where
it is written, so it survives moving documents between files and line shifts.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import SUPPRESS_ANNOTATIONS
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.locations import without_location

ISTIO_ANNOTATION, OWN_ANNOTATION = SUPPRESS_ANNOTATIONS
FINGERPRINT_KEY = "meshopsFingerprint/v1"
_LIST_POSITION = re.compile(r"\[\d+\]")
_SARIF_SEVERITY = {"error": "error", "warning": "warning", "note": "info", "none": "info"}
_CODE = re.compile(r"^[A-Za-z0-9*?\[\]]+$")


class SuppressionRule(NamedTuple):
    """``CODE`` or ``CODE=Kind name.namespace`` as ``istioctl analyze -S`` takes it; globs in both parts."""

    text: str
    code: str
    resource: str


def parse_rule(text: str) -> SuppressionRule:
    """One suppression rule; ValueError names what is wrong with it."""
    code, _equals, resource = (part.strip() for part in str(text).partition("="))
    if not code or not _CODE.match(code):
        raise ValueError("suppression %r: expected CODE or CODE=Kind name.namespace (for example "
                         "'IST0101=VirtualService reviews.bookinfo' or 'MSH502=Service *.legacy')" % text)
    if _equals and not resource:
        raise ValueError("suppression %r: nothing after '=' (give a resource such as 'Service *.legacy', or '*')" % text)
    return SuppressionRule(str(text), code.upper(), resource or "*")


def resource_name(violation: Dict[str, Any]) -> str:
    """The resource as istioctl names it in -S: ``Kind name.namespace`` (``Kind name`` when cluster-scoped)."""
    name = violation["name"] + ("." + violation["namespace"] if violation["namespace"] else "")
    return "%s %s" % (violation["kind"], name)


def _rule_matches(rule: SuppressionRule, violation: Dict[str, Any]) -> bool:
    codes = [violation["code"], violation.get("istio_code"), violation.get("kiali_code")]
    return (any(code and fnmatch.fnmatchcase(code, rule.code) for code in codes)
            and fnmatch.fnmatchcase(resource_name(violation), rule.resource))


def suppression_reason(violation: Dict[str, Any], annotations: Dict[str, Set[str]],
                       rules: Iterable[SuppressionRule]) -> Optional[str]:
    """Why the finding is suppressed, or None. ``annotations``: annotation -> codes on the finding's object."""
    istio_codes = annotations.get(ISTIO_ANNOTATION, set())
    if violation.get("istio_code") and (violation["istio_code"] in istio_codes or "*" in istio_codes):
        return "annotation %s on the object" % ISTIO_ANNOTATION
    own_codes = annotations.get(OWN_ANNOTATION, set())
    if violation["code"] in own_codes or "*" in own_codes:
        return "annotation %s on the object" % OWN_ANNOTATION
    for rule in rules:
        if _rule_matches(rule, violation):
            return "suppress rule '%s'" % rule.text
    return None


def split_suppressed(violations: List[Dict[str, Any]], annotations: Dict[int, Dict[str, Set[str]]],
                     rules: List[SuppressionRule]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(reported, suppressed) findings; each suppressed one carries ``suppressed_by``."""
    reported, suppressed = [], []
    for violation in violations:
        reason = suppression_reason(violation, annotations.get(violation["object_id"], {}), rules)
        if reason is None:
            reported.append(violation)
        else:
            violation["suppressed_by"] = reason
            suppressed.append(violation)
    return reported, suppressed


def assign_fingerprints(violations: List[Dict[str, Any]]) -> None:
    """A stable ``fingerprint`` per finding; findings alike but for list positions are numbered in path order."""
    seen: Dict[str, int] = {}
    for violation in sorted(violations, key=lambda v: (v["code"], v["object"], v["path"])):
        basis = "|".join((violation["code"], violation["kind"], violation["namespace"], violation["name"],
                          _LIST_POSITION.sub("[]", violation["path"]), str(violation.get("target") or "")))
        digest = hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]
        ordinal = seen.get(digest, 0)
        seen[digest] = ordinal + 1
        violation["fingerprint"] = digest if ordinal == 0 else "%s:%d" % (digest, ordinal)


def read_baseline(text: str, name: str) -> Dict[str, Dict[str, str]]:
    """Fingerprint -> {severity, message} from an earlier JSON report (the facts) or SARIF log."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValueError("baseline %s is not JSON: %s" % (name, error)) from None
    findings: Dict[str, Dict[str, str]] = {}
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        for run in data["runs"]:
            for result in (run or {}).get("results") or []:
                fingerprint = (result.get("partialFingerprints") or {}).get(FINGERPRINT_KEY)
                if fingerprint and result.get("baselineState") != "absent":
                    findings[fingerprint] = {"severity": _SARIF_SEVERITY.get(result.get("level", "warning"), "warning"),
                                             "message": (result.get("message") or {}).get("text", ""),
                                             "code": result.get("ruleId", "")}
        return findings
    facts = data.get("istio_integrity", data) if isinstance(data, dict) else None
    if not isinstance(facts, dict) or not isinstance(facts.get("violations"), list):
        raise ValueError("baseline %s is neither a SARIF log nor an integrity report (no 'runs' or 'violations')" % name)
    for violation in facts["violations"] + (facts.get("suppressed") or []):
        if isinstance(violation, dict) and violation.get("fingerprint"):
            findings[violation["fingerprint"]] = {"severity": violation.get("severity", ""),
                                                  "message": violation.get("message", ""),
                                                  "code": violation.get("code", "")}
    return findings


def compare_to_baseline(violations: List[Dict[str, Any]], baseline: Dict[str, Dict[str, str]]) -> List[Dict[str, str]]:
    """Sets ``baseline`` on each finding (new, unchanged, updated); returns the baseline's findings now absent."""
    for violation in violations:
        known = baseline.get(violation["fingerprint"])
        if known is None:
            violation["baseline"] = "new"
        elif (known["severity"] == violation["severity"]
              and without_location(known["message"]) == without_location(violation["message"])):
            violation["baseline"] = "unchanged"
        else:
            violation["baseline"] = "updated"
    present = {violation["fingerprint"] for violation in violations}
    return [dict(known, fingerprint=fingerprint) for fingerprint, known in sorted(baseline.items())
            if fingerprint not in present]
