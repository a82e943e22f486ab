# -*- coding: utf-8 -*-
"""Suppressions stay visible, fingerprints survive moves, baselines tell new from known."""

from __future__ import annotations

import json

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import triage
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, RunError, run_integrity

GHOST_ROUTE = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: %(name)s
  namespace: shop
  annotations: {%(annotations)s}
spec:
  hosts: [%(name)s.example.com]
  http:
  - route:
    - destination: {host: ghost-%(name)s}
"""
UNNAMED_PORT = """apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: old}
spec: {ports: [{name: web, port: 80}]}
"""


def route(name, annotations=""):
    return GHOST_ROUTE % {"name": name, "annotations": annotations}


def check(tmp_path, documents, **options):
    (tmp_path / "m").mkdir(exist_ok=True)
    for name, text in documents.items():
        (tmp_path / "m" / name).write_text(text)
    return run_integrity(IntegrityRequest(src=[str(tmp_path / "m")], base_dir=str(tmp_path), include_objects=False,
                                          **options))


def codes(findings):
    return sorted((f["code"], f["name"]) for f in findings)


def test_istio_annotation_silences_only_findings_that_carry_its_ist_codes(tmp_path):
    result = check(tmp_path, {"a.yaml": route("a", "galley.istio.io/analyze-suppress: 'IST0101'")})
    assert codes(result["suppressed"]) == [("MSH102", "a")]  # MSH102 is IST0101
    assert codes(result["violations"]) == [("MSH108", "a")]  # no IST code: still reported
    assert result["suppressed"][0]["suppressed_by"] == "annotation galley.istio.io/analyze-suppress on the object"
    assert result["summary"]["suppressed"] == 1 and result["summary"]["violations"] == 1
    assert result["summary"]["errors"] == 1


def test_our_annotation_and_its_wildcard(tmp_path):
    result = check(tmp_path, {"a.yaml": route("a", "meshops.io/integrity-suppress: '*'"),
                              "b.yaml": route("b", "meshops.io/integrity-suppress: 'msh108, MSH999'")})
    assert codes(result["suppressed"]) == [("MSH102", "a"), ("MSH108", "a"), ("MSH108", "b")]
    assert codes(result["violations"]) == [("MSH102", "b")]
    assert not [action for action in result["repair_plan"] if action["name"] == "a"]


@pytest.mark.parametrize("rule, suppressed", [
    ("MSH502=Service legacy.old", [("MSH502", "legacy")]),
    ("MSH5*=Service *.old", [("MSH502", "legacy")]),
    ("IST0101=VirtualService *", [("MSH102", "a")]),  # by the istioctl code, on every namespace
    ("KIA1101", [("MSH102", "a")]),  # a Kiali code alone: every object
    ("MSH502=Service legacy.new", []),  # another namespace
    ("MSH502=VirtualService *", []),  # another kind
])
def test_suppress_rules_match_code_and_resource_as_istioctl_s_does(tmp_path, rule, suppressed):
    result = check(tmp_path, {"a.yaml": route("a"), "svc.yaml": UNNAMED_PORT}, suppress=[rule])
    assert codes(result["suppressed"]) == suppressed
    assert all(f["suppressed_by"] == "suppress rule '%s'" % rule for f in result["suppressed"])


@pytest.mark.parametrize("rule", ["", "=Service x", "MSH502=", "MSH 502=Service x"])
def test_a_malformed_rule_is_refused_with_the_form_expected(tmp_path, rule):
    with pytest.raises(RunError, match="CODE=Kind name.namespace|nothing after '='"):
        check(tmp_path, {"a.yaml": route("a")}, suppress=[rule])


def test_fingerprints_survive_moving_documents_between_files_and_line_shifts(tmp_path):
    before = check(tmp_path, {"one.yaml": route("a") + "---\n" + route("b")})
    (tmp_path / "m" / "one.yaml").unlink()
    after = check(tmp_path, {"two.yaml": "# header\n# more\n" + route("b"), "three.yaml": route("a")})
    prints = sorted(f["fingerprint"] for f in before["violations"])
    assert prints == sorted(f["fingerprint"] for f in after["violations"])
    assert len(set(prints)) == len(prints) == 4
    assert {f["file"] for f in after["violations"]} == {"m/two.yaml", "m/three.yaml"}


def test_findings_alike_but_for_their_position_get_distinct_fingerprints():
    base = {"code": "MSH303", "kind": "VirtualService", "namespace": "n", "name": "v", "object": "VirtualService/n/v"}
    findings = [dict(base, path="spec.http[2]"), dict(base, path="spec.http[3]")]
    triage.assign_fingerprints(findings)
    assert findings[0]["fingerprint"] != findings[1]["fingerprint"]
    assert findings[1]["fingerprint"] == findings[0]["fingerprint"] + ":1"


def test_baseline_from_the_json_report_marks_new_unchanged_updated_and_absent(tmp_path):
    first = check(tmp_path, {"a.yaml": route("a"), "svc.yaml": UNNAMED_PORT})
    (tmp_path / "integrity.json").write_text(json.dumps(first))
    (tmp_path / "m" / "svc.yaml").unlink()
    second = check(tmp_path, {"a.yaml": "# moved down\n" + route("a"), "c.yaml": route("c")},
                   baseline=str(tmp_path / "integrity.json"))
    state = {(f["code"], f["name"]): f["baseline"] for f in second["violations"]}
    assert state == {("MSH102", "a"): "unchanged", ("MSH108", "a"): "unchanged",
                     ("MSH102", "c"): "new", ("MSH108", "c"): "new"}
    assert [f["message"] for f in second["baseline_absent"]] == [
        f["message"] for f in first["violations"] if f["code"] == "MSH502"]
    assert second["summary"]["new"] == {"error": 2, "warning": 0, "info": 0}


def test_baseline_from_a_sarif_log_and_a_changed_message_is_updated(tmp_path):
    first = check(tmp_path, {"a.yaml": route("a")})
    sarif = {"version": "2.1.0", "runs": [{"results": [
        {"level": "error" if f["severity"] == "error" else "warning", "message": {"text": f["message"]},
         "partialFingerprints": {triage.FINGERPRINT_KEY: f["fingerprint"]}} for f in first["violations"]]}]}
    sarif["runs"][0]["results"][0]["message"]["text"] = "something else"
    (tmp_path / "base.sarif").write_text(json.dumps(sarif))
    second = check(tmp_path, {}, baseline=str(tmp_path / "base.sarif"))
    assert sorted(f["baseline"] for f in second["violations"]) == ["unchanged", "updated"]


@pytest.mark.parametrize("content, problem", [(None, "cannot read"), ("not json", "is not JSON"),
                                              ('{"a": 1}', "neither a SARIF log nor an integrity report")])
def test_an_unusable_baseline_is_a_clear_error(tmp_path, content, problem):
    if content is not None:
        (tmp_path / "base.json").write_text(content)
    with pytest.raises(RunError, match=problem):
        check(tmp_path, {"a.yaml": route("a")}, baseline=str(tmp_path / "base.json"))
