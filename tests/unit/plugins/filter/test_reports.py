# -*- coding: utf-8 -*-
"""CI report formats: SARIF validated against the OASIS schema, GitHub and GitLab shapes as documented."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from ansible_collections.meshops.istio_integrity.plugins.filter.integrity_reports import FilterModule
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, run_integrity
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.triage import FINGERPRINT_KEY
from ansible_collections.meshops.istio_integrity.plugins.module_utils.reports import formats

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tools"))
import sarif_schema as sarif_schema_tool  # noqa: E402  pylint: disable=wrong-import-position

FILTERS = FilterModule().filters()

MESH = {
    "routes.yaml": """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/missing]
  http:
  - route:
    - destination: {host: cart}
""",
    "dup-a.yaml": """apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: web}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
""",
    "dup-b.yaml": """# the other party of the conflict
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: web, annotations: {meshops.io/integrity-suppress: "MSH204"}}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
""",
}


@pytest.fixture(scope="module")
def sarif_schema():
    return sarif_schema_tool.load()


@pytest.fixture
def facts(tmp_path):
    (tmp_path / "manifests").mkdir()
    for name, text in MESH.items():
        (tmp_path / "manifests" / name).write_text(text)
    return run_integrity(IntegrityRequest(src=[str(tmp_path / "manifests")], base_dir=str(tmp_path)))


def test_sarif_is_valid_against_the_oasis_schema_and_within_code_scanning_limits(facts, sarif_schema):
    log = FILTERS["to_sarif"](facts)
    errors = sorted(Draft4Validator(sarif_schema).iter_errors(log), key=str)
    assert not errors, [error.message for error in errors[:5]]
    run = log["runs"][0]
    assert len(log["runs"]) <= 20 and len(run["results"]) <= 25000
    assert all(len(rule["properties"]["tags"]) <= 20 for rule in run["tool"]["driver"]["rules"])
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"] for loc in r["locations"]]
    assert uris and all(not uri.startswith(("/", "file:")) and uri.startswith("manifests/") for uri in uris)


def test_sarif_rules_results_locations_fingerprints_and_suppressions(facts):
    run = FILTERS["to_sarif"](facts)["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["MSH101"]["properties"]["istio_code"] == "IST0101"
    assert "IST0101" in rules["MSH101"]["properties"]["tags"]
    assert rules["MSH101"]["defaultConfiguration"]["level"] == "error" and rules["MSH101"]["help"]["text"]
    by_rule = {}
    for result in run["results"]:
        by_rule.setdefault(result["ruleId"], []).append(result)
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"][FINGERPRINT_KEY]
        assert not re.match(r"^\S+:\d+:\d+: ", result["message"]["text"])
    gateway = by_rule["MSH101"][0]
    region = gateway["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (6, 14)  # the list item 'istio-system/missing'
    assert gateway["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "VirtualService web/shop"
    duplicates = {r["locations"][0]["logicalLocations"][0]["name"]: r for r in by_rule["MSH204"]}
    assert duplicates["b"]["suppressions"] == [{"kind": "inSource", "justification":
                                                "annotation meshops.io/integrity-suppress on the object"}]
    assert "suppressions" not in duplicates["a"]
    related = duplicates["a"]["relatedLocations"][0]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "manifests/dup-b.yaml"
    assert related["physicalLocation"]["region"]["startLine"] == 2


def test_baseline_state_of_every_result_including_absent_ones(facts, tmp_path):
    (tmp_path / "base.sarif").write_text(json.dumps(FILTERS["to_sarif"](facts)))
    (tmp_path / "manifests" / "routes.yaml").unlink()
    (tmp_path / "manifests" / "more.yaml").write_text(MESH["routes.yaml"].replace("name: shop", "name: shop2"))
    again = run_integrity(IntegrityRequest(src=[str(tmp_path / "manifests")], base_dir=str(tmp_path),
                                           baseline=str(tmp_path / "base.sarif")))
    states = {(r["ruleId"], r["baselineState"]) for r in FILTERS["to_sarif"](again)["runs"][0]["results"]}
    assert ("MSH101", "new") in states and ("MSH101", "absent") in states and ("MSH204", "unchanged") in states


def test_github_annotations_follow_the_workflow_command_syntax(facts):
    lines = FILTERS["to_github_annotations"](facts).splitlines()
    assert len(lines) == len(facts["violations"])
    command = re.compile(r"^::(error|warning|notice) file=([^,:]+),line=(\d+),col=(\d+),title=([^:]+)::(.+)$")
    parsed = [command.match(line) for line in lines]
    assert all(parsed), lines
    gateway = next(m for m in parsed if m.group(5).startswith("MSH101"))
    assert gateway.group(1, 2, 3, 4) == ("error", "manifests/routes.yaml", "6", "14")
    assert "%0A" not in gateway.group(6) and "\n" not in gateway.group(6)


def test_github_annotations_escape_what_the_syntax_reserves():
    finding = {"code": "MSH1", "title": "a, b: c", "severity": "info", "message": "50% done\nnext",
               "kind": "Service", "namespace": "n", "name": "s"}
    assert FILTERS["to_github_annotations"]({"violations": [finding]}) == (
        "::notice title=MSH1 a%2C b%3A c::50%25 done%0Anext\n")


def test_gitlab_code_quality_issues_have_the_documented_fields(facts):
    issues = FILTERS["to_gitlab_codequality"](facts)
    assert len(issues) == len(facts["violations"])
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)
    for issue in issues:
        assert set(issue) >= {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert issue["location"]["path"].startswith("manifests/") and issue["location"]["lines"]["begin"] >= 1


def test_counts_line_has_severities_suppressed_and_codes(facts):
    line = FILTERS["integrity_counts"](facts)
    assert line.startswith("%d error(s), %d warning(s), %d info(s), 1 suppressed; by code " % (
        facts["summary"]["errors"], facts["summary"]["warnings"], facts["summary"]["infos"]))
    assert "MSH101=1" in line


def test_findings_without_a_file_keep_a_logical_location():
    finding = {"code": "MSH101", "severity": "error", "message": "VirtualService a/b: x", "kind": "VirtualService",
               "namespace": "a", "name": "b", "path": "spec.gateways[0]", "fingerprint": "f", "related": []}
    result = formats.to_sarif({"violations": [finding]})["runs"][0]["results"][0]
    assert "physicalLocation" not in result["locations"][0]
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "VirtualService a/b"
