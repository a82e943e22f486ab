# -*- coding: utf-8 -*-
"""The manifest loader gives the values the API server decodes, on the fast path and on the PyYAML path alike.

What the API server itself makes of these scalars is checked against the real one in
tests/integration/test_yaml_semantics.py; here: the rules, PyYAML where it agrees, and the two paths.
"""

from __future__ import annotations


import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import files as sources
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import yaml_loader
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, run_integrity

# plain scalar -> what sigs.k8s.io/yaml (go-yaml v2, then JSON) makes of it
GO_YAML = {
    "yes": True, "Yes": True, "on": True, "ON": True, "y": True, "true": True, "TRUE": True,
    "no": False, "Off": False, "N": False, "false": False,
    "~": None, "null": None, "NULL": None, "": None,
    "80": 80, "-3": -3, "+12": 12, "017": 15, "0o17": 15, "0x1F": 31, "-0x10": -16, "0b101": 5, "1_000": 1000,
    "08": 8, "1e3": 1000, "1e2": 100, "1.0": 1, "-.5": -0.5, ".5": 0.5, "1.5": 1.5, "1_0.5": 10.5,
    "9223372036854775807": 9223372036854775807, "9223372036854775808": 9.223372036854776e18,
    "2024-01-01": "2024-01-01", "2001-12-14T21:59:43.10-05:00": "2001-12-14T21:59:43.10-05:00",
    "1:30": "1:30", "=": "=", "0x": "0x", "1e400": "1e400", "1.2.3": "1.2.3", "10s": "10s", ".": ".",
    "Yes please": "Yes please", "onion": "onion", "0b2": "0b2",
}


@pytest.mark.parametrize("text,expected", sorted(GO_YAML.items()))
def test_plain_scalars_decode_as_the_api_server_decodes_them(text, expected):
    value = yaml_loader.plain_value(text)
    assert value == expected and type(value) is type(expected)


def test_quoted_scalars_stay_strings_and_keys_become_json_strings():
    text = "a: 'on'\nb: \"017\"\nc: !!str yes\non: 1\n80: http\n1.5: x\nno: y\n"
    assert yaml.load(text, Loader=yaml_loader.KubeLoader) == {
        "a": "on", "b": "017", "c": "yes", "true": 1, "80": "http", "1.5": "x", "false": True}


def test_merge_keys_merge_in_go_yaml_order():
    text = "base: &b {a: 1, c: 1}\nlater: &l {a: 2}\nmm: {a: 0, <<: *b}\nnn: {<<: [*l, *b], c: 3}\n"
    loaded = yaml.load(text, Loader=yaml_loader.KubeLoader)
    assert loaded["mm"] == {"a": 1, "c": 1}  # go-yaml: the merge overwrites what precedes it
    assert loaded["nn"] == {"a": 2, "c": 3}  # of a list the earlier mapping wins; keys after the merge win


@pytest.mark.parametrize("text,problem", [
    ("a: .inf\n", "cannot be represented in JSON"),
    ("~: x\n", "map key of type null"),
    ("a: !!int yes\n", "cannot decode"),
])
def test_documents_the_api_server_cannot_decode_are_skipped_naming_the_document(text, problem):
    parsed = sources.parse_text("m.yaml", "kind: A\n---\n" + text + "---\nkind: B\n")
    assert [number for number, *_rest in parsed.documents] == [1, 3]
    assert len(parsed.problems) == 1 and problem in parsed.problems[0][0] and parsed.problems[0][1] == 2


def test_alias_bomb_stays_linear_and_deep_nesting_is_a_problem_not_a_crash():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        "%s: &%s [%s]\n" % (chr(98 + i), chr(98 + i), ", ".join(["*" + chr(97 + i)] * 10)) for i in range(9))
    parsed = sources.parse_text("bomb.yaml", bomb)
    assert parsed.problems == [] and parsed.documents[0][1]["j"][0] is parsed.documents[0][1]["j"][1]
    deep = sources.parse_text("deep.yaml", "[" * 5000 + "]" * 5000)
    assert deep.documents == [] and "nests too deeply" in deep.problems[0][0]


def _json_normal(value):
    """PyYAML's value as the API server would keep it after JSON, for the scalars where the two rules agree."""
    if isinstance(value, dict):
        return {yaml_loader.json_key(key): _json_normal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_normal(item) for item in value]
    return yaml_loader.json_value(value)


# Strings without digits, signs or dots: PyYAML's dumper quotes exactly those its YAML 1.1 resolver would not
# read back as strings, and for these go-yaml agrees (numbers in strings are where the rules part).
# (y, Y, n and N too: PyYAML writes them unquoted, and go-yaml reads them as booleans.)
words = st.text(alphabet=st.characters(categories=["L", "Zs"]), max_size=8).filter(lambda w: w not in "yYnN")
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), words)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(words, inner, max_size=3)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(values, min_size=1, max_size=3), st.booleans())
def test_kube_loader_agrees_with_pyyaml_where_the_rules_agree(docs, share):
    if share:  # the same object twice: the dumper writes an anchor and an alias
        docs = docs + [{"first": docs[0], "again": docs[0]}]
    text = yaml.safe_dump_all(docs, allow_unicode=True)
    assert list(yaml.load_all(text, Loader=yaml_loader.KubeLoader)) == _json_normal(list(yaml.safe_load_all(text)))


manifests = st.fixed_dictionaries({
    "apiVersion": st.just("v1"), "kind": st.sampled_from(["Service", "ConfigMap", "VirtualService"]),
    "metadata": st.fixed_dictionaries({"name": words,
                                       "labels": st.dictionaries(words, st.one_of(words, scalars), max_size=3)}),
    "spec": values})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(manifests, min_size=1, max_size=4), st.sampled_from(["", "# head\n---\n"]),
       st.sampled_from(["block", "flow"]))
def test_fast_and_pyyaml_paths_give_the_same_documents_and_places(docs, head, style):
    text = head + yaml.safe_dump_all(docs, allow_unicode=True, default_flow_style=(style == "flow"),
                                     explicit_start=False)
    fast, slow = sources.parse_text("m.yaml", text), sources.parse_text("m.yaml", text, fast=False)
    assert fast.problems == slow.problems == []
    assert [(n, obj) for n, obj, _place, _items in fast.documents] == [(n, obj) for n, obj, _place, _items in slow.documents]
    if fast.loader != slow.loader:  # the fast parser read it: each object starts where PyYAML says
        assert [place[:5] for _n, _obj, place, _items in fast.documents] == \
            [place[:5] for _n, _obj, place, _items in slow.documents]


@pytest.mark.parametrize("text", [
    "metadata:\n  labels:\n    version: on\n", "a: [1, 0o17]\n", "a: 1e3\n", "80: http\n", "a: &x on\nb: *x\n", "- &x 017\n",
    "a: !!str 1\n", "<<: {a: 1}\n", "a: 017\n", "a:\n- yes\n", "{a: 1.5}\n", "a: 12345678901234567890\n",
    "kind: List\nitems: []\n", "a: 1\r\nb: 2\r\n", "--- {a: 1}\n", "a: 1\n...\n", "a: 1\n---\n",
])
def test_the_fast_path_refuses_what_it_could_read_differently(text):
    parsed = sources.parse_text("m.yaml", text)
    assert parsed.loader == yaml_loader.PYYAML_LOADER and parsed.fallback


def test_the_fast_path_reads_anchors_and_aliases_as_copies_of_the_same_values():
    text = "a: &labels {app: x, version: v1}\nb: {matchLabels: *labels}\nc: &n 80\nd: *n\n"
    parsed = sources.parse_text("m.yaml", text)
    assert parsed.loader == yaml_loader.FAST_LOADER
    assert parsed.documents[0][1] == sources.parse_text("m.yaml", text, fast=False).documents[0][1]


def test_the_fast_path_reads_ordinary_manifests():
    text = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: a  # the name\n  labels: {app: a, ready: 'on'}\n"
            "spec:\n  ports:\n  - port: 80\n    targetPort: -1\n  flag: true\n  none: null\n---\nkind: B\n")
    parsed = sources.parse_text("m.yaml", text)
    assert parsed.loader == yaml_loader.FAST_LOADER and parsed.fallback is None
    assert parsed.documents[0][1]["spec"]["ports"] == [{"port": 80, "targetPort": -1}]
    assert [place.line for _n, _obj, place, _items in parsed.documents] == [0, 12]


def test_a_boolean_label_is_reported_with_its_line(tmp_path):
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: x\n"
                                       "  labels:\n    version: on\nspec: {ports: [{port: 80}]}\n")
    # Validated as the API server would: a refused value, at its line.
    result = run_integrity(IntegrityRequest(src=[str(tmp_path)], include_objects=False))
    (refused,) = [v for v in result["violations"] if v["code"].startswith("MSH80")]
    assert refused["code"] == "MSH801" and refused["path"] == "metadata.labels.version"
    assert (refused["field_line"], refused["field_column"]) == (7, 5) and "svc.yaml:7:5:" in refused["message"]
    assert "cannot unmarshal bool" in refused["message"] and "quote it" in refused["message"]
    # Without the schema layer the model still cannot take it: a skipped document, at its line.
    result = run_integrity(IntegrityRequest(src=[str(tmp_path)], include_objects=False, schema_validation=False))
    assert result["summary"]["complete"] is False
    (skip,) = result["skipped"]
    assert "svc.yaml:7:5: Service: metadata.labels.version: expected a string, got boolean" in skip["reason"]
    assert "quote it" in skip["reason"]


def test_the_summary_names_the_loader_and_both_paths_find_the_same(tmp_path):
    (tmp_path / "vs.yaml").write_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                                      "metadata: {name: a, namespace: x}\nspec:\n  hosts: [a]\n  http:\n"
                                      "  - route:\n    - destination: {host: ghost, port: {number: 80}}\n")
    fast = run_integrity(IntegrityRequest(src=[str(tmp_path)], include_objects=False))
    slow = run_integrity(IntegrityRequest(src=[str(tmp_path)], include_objects=False, yaml_loader="pyyaml"))
    assert fast["summary"]["loader"]["files"] == {yaml_loader.FAST_LOADER: 1}
    assert slow["summary"]["loader"]["files"] == {yaml_loader.PYYAML_LOADER: 1}
    assert fast["violations"] == slow["violations"] and fast["violations"]


def test_the_benchmark_mesh_gives_the_same_findings_and_locations_on_both_paths(tmp_path):
    import importlib.util  # pylint: disable=import-outside-toplevel
    from pathlib import Path  # pylint: disable=import-outside-toplevel
    spec = importlib.util.spec_from_file_location("bench_engine", Path(__file__).resolve().parents[4] / "bench" / "bench_engine.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.generate(tmp_path / "mesh", 200)
    runs = [run_integrity(IntegrityRequest(src=[str(tmp_path / "mesh")], base_dir=str(tmp_path), yaml_loader=loader))
            for loader in ("auto", "pyyaml")]
    assert runs[0]["summary"]["loader"]["files"] == {yaml_loader.FAST_LOADER: 52}
    assert runs[0]["summary"]["by_code"] == bench.PLANTED
    assert runs[0]["violations"] == runs[1]["violations"] and runs[0]["skipped"] == runs[1]["skipped"] == []
    assert all(violation.get("field_line") for violation in runs[0]["violations"] if violation["path"])
