# -*- coding: utf-8 -*-
"""file:line:column of findings: asserted against the line where the text of the field really is."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, run_integrity
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import files, parallel

ROUTES = """# a comment before the object
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}    # exists (the Service below)
  - match:
    - uri: {prefix: /x}
    route:
    - destination:
        host: ghost                   # missing
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
"""

LISTED = """apiVersion: v1
kind: List
items:
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: first, namespace: shop}
    spec: {host: reviews}
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata:
      name: orphan
      namespace: shop
    spec:
      host: nowhere
--- {apiVersion: networking.istio.io/v1, kind: DestinationRule, metadata: {name: flow, namespace: shop}, spec: {host: elsewhere}}
"""

ANCHORED = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: &meta
  name: merged
  namespace: shop
  creationTimestamp: 2024-05-01T10:00:00Z   # a datetime: crosses the process boundary by pickle, not marshal
spec:
  <<: {host: merged-away}
  trafficPolicy: {}
"""


def findings(tmp_path, **options):
    result = run_integrity(IntegrityRequest(src=[str(tmp_path / "manifests")], base_dir=str(tmp_path), **options))
    return {(v["code"], v["name"], v["path"]): v for v in result["violations"]}, result


def position(text, needle, occurrence=1):
    """1-based (line, column) of the n-th occurrence of ``needle`` in ``text``."""
    index = -1
    for _count in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "manifests" / "nested").mkdir(parents=True)
    (tmp_path / "manifests" / "routes.yaml").write_text(ROUTES)
    (tmp_path / "manifests" / "nested" / "listed.yaml").write_text(LISTED)
    (tmp_path / "manifests" / "anchored.yml").write_text(ANCHORED)
    return tmp_path


def test_field_of_a_multi_document_file_is_the_list_item_that_offends(repo):
    found, _result = findings(repo)
    missing = found[("MSH102", "reviews", "spec.http[1].route[0].destination.host")]
    assert missing["file"] == "manifests/routes.yaml"
    assert (missing["line"], missing["column"]) == position(ROUTES, "apiVersion")
    assert (missing["field_line"], missing["field_column"]) == position(ROUTES, "host: ghost")
    assert missing["message"].startswith("manifests/routes.yaml:%d:%d: VirtualService shop/reviews" % position(
        ROUTES, "host: ghost"))


def test_items_of_a_list_and_flow_documents_are_located(repo):
    found, _result = findings(repo)
    orphan = found[("MSH106", "orphan", "spec.host")]
    assert orphan["file"] == "manifests/nested/listed.yaml"
    assert (orphan["line"], orphan["column"]) == position(LISTED, "apiVersion", 3)
    assert (orphan["field_line"], orphan["field_column"]) == position(LISTED, "host: nowhere")
    flow = found[("MSH106", "flow", "spec.host")]
    assert (flow["line"], flow["column"]) == position(LISTED, "{apiVersion")
    assert (flow["field_line"], flow["field_column"]) == position(LISTED, "host: elsewhere")


def test_a_merged_key_is_found_where_it_is_written(repo):
    found, _result = findings(repo)
    merged = found[("MSH106", "merged", "spec.host")]
    assert (merged["field_line"], merged["field_column"]) == position(ANCHORED, "host: merged-away")


def test_without_base_dir_paths_read_as_loaded_and_skips_name_the_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    result = run_integrity(IntegrityRequest(src=[str(tmp_path)]))
    assert result["skipped"][0]["source"] == str(tmp_path / "bad.yaml")
    relative = run_integrity(IntegrityRequest(src=[str(tmp_path)], base_dir=str(tmp_path)))
    assert relative["skipped"][0]["source"] == "bad.yaml"


def test_overlapping_paths_and_patterns_load_each_file_once(repo):
    paths = [str(repo / "manifests"), str(repo / "manifests" / "routes.yaml")]
    assert len(list(files.manifest_files(paths))) == 3
    _found, result = findings(repo)
    assert result["summary"]["complete"], result["summary"]["incomplete_reasons"]


def test_two_processes_give_what_one_gives(repo, monkeypatch):
    """The forked parse returns the same documents, in the same order, as a serial parse (datetimes included)."""
    paths = sorted((str(path) for path in (repo / "manifests").rglob("*.y*ml")), reverse=True)  # anchored.yml last
    serial = [files.parse_file(path, 1 << 20) for path in paths]
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WEIGHT", 0)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    assert list(files.parse_files(paths, 1 << 20)) == serial


def test_a_child_that_dies_leaves_the_parent_to_finish(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WEIGHT", 0)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    monkeypatch.setattr(parallel, "_work", lambda *args: __import__("os")._exit(3))
    assert list(parallel.ordered_map(lambda n: n * n, list(range(6)), [1] * 6, list, list)) == [0, 1, 4, 9, 16, 25]
