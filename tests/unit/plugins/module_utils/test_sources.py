# -*- coding: utf-8 -*-
"""The manifest loader: bad input is reported with file and document, never raised."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import loading
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.engine import analyze
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import MeshModel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, RunError, run_integrity

VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %s, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: ghost}}]}]}
"""


def load_model(tmp_path, text, name="mesh.yaml", **kwargs):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    model = MeshModel()
    report = loading.load_paths(model, [str(tmp_path)], **kwargs)
    return model, report


def load(tmp_path, text, **kwargs):
    """The load report alone."""
    return load_model(tmp_path, text, **kwargs)[1]


def test_multi_document_list_and_json(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps({"kind": "List", "items": [yaml.safe_load(VS % "b")]}))
    model, report = load_model(tmp_path, VS % "a" + "---\n" + VS % "c")
    assert model.scanned == {"VirtualService": 3}
    assert report.skipped == []


def test_unknown_kinds_are_ignored_and_counted(tmp_path):
    report = load(tmp_path, "kind: ConfigMap\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: b}\n")
    assert report.ignored_kinds == {"ConfigMap": 2}
    assert report.skipped == []


@pytest.mark.parametrize("text, reason", [
    ("kind: VirtualService\nmetadata: {namespace: default}\nspec: {}\n", "metadata.name: is required"),
    ("metadata: {name: a}\n", "document has no kind"),
    ("- just\n- a list\n", "not a Kubernetes object"),
    ("kind: VirtualService\nmetadata: {name: a}\nspec: {hosts: notalist}\n", "spec.hosts: expected a list, got string"),
    ("kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: '80'}]}\n", "spec.ports[0].port: expected an integer"),
    ("kind: Gateway\nmetadata: {name: 1.10}\n", "metadata.name: expected a string, got float (the API server reads"),
    ("kind: DestinationRule\nmetadata: {name: a}\nspec: {subsets: [{name: v1}]}\n", "spec.host: is required"),
])
def test_invalid_documents_are_skipped_with_reason(tmp_path, text, reason):
    model, report = load_model(tmp_path, VS % "ok" + "---\n" + text)
    [skip] = report.skipped
    assert reason in skip["reason"]
    assert skip["document"] == 2 and skip["source"].startswith(str(tmp_path / "mesh.yaml"))
    assert model.scanned.get("VirtualService") == 1


def test_malformed_yaml_names_the_line_and_keeps_earlier_documents(tmp_path):
    model, report = load_model(tmp_path, VS % "ok" + "---\nkind: [unclosed\n")
    [skip] = report.skipped
    assert "invalid YAML" in skip["reason"] and "line" in skip["reason"]
    assert skip["document"] == 2
    assert model.scanned == {"VirtualService": 1}


def test_oversized_file_is_skipped(tmp_path):
    report = load(tmp_path, VS % "a" + "#" * 4096, max_file_size=1024)
    [skip] = report.skipped
    assert "over the max_file_size limit of 1024" in skip["reason"]


def test_fifty_megabyte_file_is_skipped_by_default_without_reading_it(tmp_path):
    big = tmp_path / "huge.yaml"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    result = run_integrity(IntegrityRequest(src=[str(tmp_path)]))
    [skip] = result["skipped"]
    assert skip["source"] == str(big) and "52428800 bytes, over the max_file_size limit" in skip["reason"]
    assert result["summary"]["complete"] is False


def test_duplicate_object_across_files_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text(VS % "same")
    model, report = load_model(tmp_path, VS % "same", name="b.yaml")
    [skip] = report.skipped
    assert "already defined by" in skip["reason"] and "a.yaml" in skip["reason"]
    assert model.scanned == {"VirtualService": 1}


def test_names_with_quotes_and_unicode_survive(tmp_path):
    text = VS % "\"o'brien-ü\"" + "---\n" + VS % "'x\"y'"
    model, report = load_model(tmp_path, text)
    assert report.skipped == []
    names = {v["name"] for v in analyze(model)["violations"]}
    assert names == {"o'brien-ü", 'x"y'}


def test_missing_source_path_is_a_clear_error(tmp_path):
    request = IntegrityRequest(src=[str(tmp_path / "nope")])
    with pytest.raises(RunError, match="does not exist"):
        run_integrity(request)


def test_skipped_document_makes_the_scan_incomplete(tmp_path):
    (tmp_path / "m.yaml").write_text("kind: VirtualService\nmetadata: {name: a}\nspec: {hosts: 1}\n")
    result = run_integrity(IntegrityRequest(src=[str(tmp_path)]))
    assert result["summary"]["complete"] is False
    assert result["summary"]["consistent"] is False
    assert result["summary"]["skipped_documents"] == 1


def test_unknown_check_code_is_rejected():
    with pytest.raises(RunError, match="unknown check code"):
        run_integrity(IntegrityRequest(src=["."], checks=["MSH999"]))


# Property-based: whatever YAML a file holds, loading never raises and accounts for every document.
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=12)
kinds = st.sampled_from(["Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "Service", "Pod",
                         "Deployment", "Secret", "ConfigMap", "List"])
documents = st.one_of(values, st.fixed_dictionaries({
    "kind": kinds,
    "metadata": st.one_of(values, st.fixed_dictionaries({"name": st.one_of(st.text(max_size=10), values)})),
    "spec": values,
    "items": values,
}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(documents, min_size=1, max_size=4))
def test_loader_never_raises_on_arbitrary_documents(tmp_path, docs):
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump_all(docs, allow_unicode=True), encoding="utf-8")
    model = MeshModel()
    report = loading.load_paths(model, [str(path)])
    modelled = sum(model.scanned.values())
    assert modelled + len(report.skipped) + sum(report.ignored_kinds.values()) <= report.documents
    analyze(model)  # whatever loaded must analyse


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_loader_never_raises_on_arbitrary_bytes(tmp_path, data):
    path = tmp_path / "noise.yaml"
    path.write_bytes(data)
    report = loading.load_paths(MeshModel(), [str(path)])
    assert all(skip["reason"] for skip in report.skipped)
