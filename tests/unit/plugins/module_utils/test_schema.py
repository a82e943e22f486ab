# -*- coding: utf-8 -*-
"""The schema layer: each rule type with a refused and an accepted example, the pinned catalogue's
currency, and how a refused document reaches the findings (location, field path, other checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import (
    IntegrityRequest, run_integrity)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.reports import formats
from ansible_collections.meshops.istio_integrity.plugins.module_utils.reports.html import to_html
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import loading
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import MeshModel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.admission import SchemaGate
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import files, parallel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.structural import Validator

REPO = Path(__file__).resolve().parents[4]


def errors(schema, value):
    return [(e.path, e.reason) for e in Validator(schema, None).validate({"spec": value})[1]]


def spec_schema(**spec):
    return {"type": "object", "properties": {"spec": dict(spec)}}


@pytest.mark.parametrize("schema, refused, accepted, wording", [
    ({"type": "object", "properties": {"a": {"type": "string"}}}, {"b": "x"}, {"a": "x"}, 'unknown field "spec.b"'),
    ({"type": "integer"}, "5", 5, "must be of type integer"),
    ({"x-kubernetes-int-or-string": True}, 1.5, "http", "must be of type integer,string"),
    ({"type": "string", "enum": ["A", "B"]}, "C", "A", 'Unsupported value: "C": supported values: "A", "B"'),
    ({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}, {}, {"a": ""}, "Required value"),
    ({"type": "string", "pattern": "^/"}, "x", "/x", "should match '^/'"),
    ({"type": "integer", "minimum": 1, "maximum": 65535}, 0, 1, "greater than or equal to 1"),
    ({"type": "integer", "maximum": 65535}, 65536, 65535, "less than or equal to 65535"),
    ({"type": "string", "maxLength": 3}, "abcd", "abc", "Too long"),
    ({"type": "string", "minLength": 1}, "", "a", "at least 1 chars long"),
    ({"type": "array", "maxItems": 1, "items": {"type": "string"}}, ["a", "b"], ["a"], "Too many: 2"),
    ({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}, ["a", "a"], ["a", "b"],
     "Duplicate value"),
    ({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
      "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
     [{"name": "a"}, {"name": "a"}], [{"name": "a"}, {"name": "b"}], "Duplicate value"),
    ({"type": "string", "format": "ipv4"}, "1.2.3", "1.2.3.4", "must be of type ipv4"),
    ({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
      "oneOf": [{"not": {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}}, {"required": ["a"]}, {"required": ["b"]}]},
     {"a": "x", "b": "y"}, {"a": "x"}, "one and only one schema"),
])
def test_each_structural_rule_refuses_and_accepts(schema, refused, accepted, wording):
    found = errors(spec_schema(**schema), refused)
    assert found and any(wording in reason for _path, reason in found), found
    assert not errors(spec_schema(**schema), accepted)


def test_preserve_unknown_fields_and_nulls_are_honoured():
    assert not errors(spec_schema(type="object", **{"x-kubernetes-preserve-unknown-fields": True}), {"any": {"x": 1}})
    assert not errors(spec_schema(type="object", properties={"a": {"type": "string"}}), {"a": None})


def test_defaults_are_set_before_the_rules_run():
    validator = Validator(spec_schema(type="object", properties={"kind": {"type": "string", "default": "Service"}}))
    stored, found = validator.validate({"spec": {}})
    assert stored["spec"] == {"kind": "Service"} and not found


GATE_CASES = [
    # (document, refused field, wording) as the API server refuses them (pinned CRDs).
    ("""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec: {hosts: [r], http: [{timeout: 5, route: [{destination: {host: r}}]}]}""",
     "spec.http[0].timeout", "must be of type string"),
    ("""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec: {hosts: [r], http: [{timeout: 5x, route: [{destination: {host: r}}]}]}""",
     "spec.http[0].timeout", "must be a valid duration"),
    ("""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec: {rules: [{backendRefs: [{name: svc}]}]}""", "spec.rules[0].backendRefs[0]", "Must have port for Service reference"),
    ("""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g}
spec: {gatewayClassName: istio, listeners: [{name: t, port: 80, protocol: TCP, hostname: a.example.com}]}""",
     "spec.listeners", "hostname must not be specified"),
    ("""apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: s, labels: {"bad key!": x}}
spec: {hosts: [a.example.com], ports: [{number: 80, name: http}]}""", "metadata.labels", "name part must consist"),
    ("""apiVersion: networking.istio.io/v1alpha9
kind: Gateway
metadata: {name: g}
spec: {}""", "apiVersion", 'no matches for kind "Gateway"'),
    ("""apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: a}}
  template: {metadata: {labels: {app: b}}, spec: {containers: [{name: c, image: i}]}}""",
     "spec.template.metadata.labels", "`selector` does not match template `labels`"),
]


@pytest.mark.parametrize("text, path, wording", GATE_CASES)
def test_the_gate_refuses_as_the_api_server_does(text, path, wording):
    gate = SchemaGate()
    gate.admit(yaml.safe_load(text), "t#1")
    assert any(r.path == path and wording in r.reason for r in gate.rejections), gate.rejections


def test_a_refused_value_is_a_located_error_and_no_other_check_reads_it():
    text = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subst: v1}
      weight: 100
"""
    result = run_integrity(IntegrityRequest(content=text))
    schema = [v for v in result["violations"] if v["code"] == "MSH801"]
    assert [(v["path"], v["field_line"], v["field_column"]) for v in schema] == [
        ("spec.http[0].route[0].destination.subst", 8, 36)]
    assert schema[0]["message"].startswith("stdin:8:36: VirtualService default/reviews: ")
    assert 'unknown field "spec.http[0].route[0].destination.subst"' in schema[0]["message"]
    assert schema[0]["severity"] == "error"
    # The VirtualService is still analysed: its missing Service is found.
    assert any(v["code"] == "MSH102" for v in result["violations"])


def test_schema_findings_are_suppressed_like_any_other():
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\nspec: {ports: [{port: 0}]}\n"
    result = run_integrity(IntegrityRequest(content=text, suppress=["MSH803=Service a.default"]))
    assert not [v for v in result["violations"] if v["code"] == "MSH803"]
    assert [v["code"] for v in result["suppressed"]] == ["MSH803"]


def test_what_is_not_validated_is_listed():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    result = run_integrity(IntegrityRequest(content=text))
    assert any("ConfigMap: no schema known" in reason for reason in result["summary"]["not_validated"])


TCP_ROUTE = """apiVersion: gateway.networking.k8s.io/%s
kind: TCPRoute
metadata: {name: tcp-echo, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: tcp-31400}]
  rules: [{backendRefs: [{name: tcp-echo, port: 9000%s}]}]
"""


def test_a_version_only_the_experimental_gateway_api_channel_serves_is_validated_against_it():
    # Istio's tcp-echo sample uses TCPRoute v1alpha2, which the standard channel no longer serves.
    gate = SchemaGate()
    assert gate.admit(yaml.safe_load(TCP_ROUTE % ("v1alpha2", "")), "t#1") is not None and not gate.rejections
    assert any("TCPRoute gateway.networking.k8s.io/v1alpha2: served by the Gateway API's experimental channel only"
               in reason for reason in gate.summary())
    gate.admit(yaml.safe_load(TCP_ROUTE % ("v1alpha2", ", weigth: 1")), "t#2")
    assert [r.path for r in gate.rejections] == ["spec.rules[0].backendRefs[0].weigth"]
    # The standard channel's own version is validated as before, without the note.
    gate = SchemaGate()
    gate.admit(yaml.safe_load(TCP_ROUTE % ("v1", "")), "t#1")
    assert not gate.rejections and not any("experimental" in reason for reason in gate.summary())
    gate.admit(yaml.safe_load(TCP_ROUTE % ("v9", "")), "t#2")
    assert [r.path for r in gate.rejections] == ["apiVersion"]


def test_the_shipped_catalogue_is_generated_from_the_pinned_modules():
    completed = subprocess.run([sys.executable, str(REPO / "tools" / "gen_schemas.py"), "--check"],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_a_refused_document_is_in_every_report_format():
    # The version is not served: the document stays out of the model, yet every format shows its finding.
    text = ("apiVersion: networking.istio.io/v1alpha9\nkind: Gateway\nmetadata: {name: g, namespace: default}\n"
            "spec: {selector: {istio: ingressgateway}}\n")
    facts = run_integrity(IntegrityRequest(content=text))
    assert [v["code"] for v in facts["violations"]] == ["MSH801"]
    sarif = formats.to_sarif(facts)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["MSH801"]
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert "MSH801" in formats.to_github_annotations(facts) and "line=1" in formats.to_github_annotations(facts)
    assert [entry["check_name"] for entry in formats.to_gitlab_codequality(facts)] == ["MSH801"]
    assert "MSH801" in to_html(facts)
    junit = jinja2.Environment(loader=jinja2.FileSystemLoader(str(REPO / "roles" / "integrity_report" / "templates")))
    page = junit.get_template("junit.xml.j2").render(integrity_report_facts=facts, integrity_report_title="t")
    assert '<failure type="MSH801"' in page and "Gateway/default/g" in page


def test_verdicts_reached_where_files_are_parsed_equal_the_loading_processs(tmp_path, monkeypatch):
    """Files parsed by two processes are validated there: rejections, gaps and what the model reads are those
    of validating each object as it is loaded (a List's items, an unknown kind and a refused field included)."""
    refused = ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr%d}\n"
               "spec: {host: reviews, subst: [], trafficPolicy: {loadBalancer: {simple: ROUND_ROBINN}}}\n")
    listed = ("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s%d, labels: "
              "{version: true}}, spec: {ports: [{port: 80}]}}\n- {apiVersion: example.com/v1, kind: Widget, "
              "metadata: {name: w%d}}\n")
    for index in range(6):
        (tmp_path / ("%d.yaml" % index)).write_text((refused if index % 2 else listed).replace("%d", str(index)))
    reviewed_here = []
    review = SchemaGate.review
    monkeypatch.setattr(SchemaGate, "review", lambda gate, obj, source: reviewed_here.append(source) or review(
        gate, obj, source))
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)

    def load(parallel_parse: bool):
        monkeypatch.setattr(parallel, "MIN_PARALLEL_WEIGHT", 0 if parallel_parse else 1 << 60)
        model, report = MeshModel(), files.LoadReport()
        report.schema = SchemaGate()
        if parallel_parse:
            loading.load_paths(model, [str(tmp_path)], report=report)
        else:  # each object validated as it is loaded, in one process
            for path in files.manifest_files([str(tmp_path)]):
                loading.add_parsed(model, report, files.parse_file(path, 1 << 20))
        rows = model.finish().db.execute("SELECT kind, name FROM object ORDER BY id").fetchall()
        return report.schema.rejections, report.schema.summary(), [tuple(row) for row in rows], report.reviews
    rejections, gaps, objects, left = load(True)
    in_parent = len(reviewed_here)
    assert (rejections, gaps, objects) == load(False)[:3]
    assert 0 < in_parent < len(reviewed_here) - in_parent == 9  # the child validated the other files' objects
    assert left == {}  # every verdict reached in a parsing process was used
    assert {rejection.path for rejection in rejections} >= {"spec.subst", "spec.trafficPolicy.loadBalancer.simple",
                                                            "metadata.labels.version"}
    assert any("Widget" in gap for gap in gaps) and ("Service", "s0") in objects


def test_the_cel_runtime_is_loaded_without_its_command_line_repl():
    """A module run starts without importing the CEL package's REPL (typer, prompt_toolkit, rich), and CEL rules
    still evaluate."""
    script = ("import sys\n"
              "from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import cel_rules\n"
              "assert cel_rules.CEL_IMPORT_ERROR is None\n"
              "print(sorted(name for name in ('prompt_toolkit', 'typer', 'rich', 'cel.cli') if name in sys.modules))\n")
    shown = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert shown.strip() == "[]"
    errors = SchemaGate().review(yaml.safe_load(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\n"
        "spec: {hosts: [a], http: [{timeout: 5x, route: [{destination: {host: a}}]}]}"), "x")[1]
    assert [rejection[-1] for rejection in errors] == ["MSH802"]
