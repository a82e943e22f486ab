# -*- coding: utf-8 -*-
"""The manifest loader's values are the API server's: edge-case YAML sent as-is to the real API server
(a dry-run create, Content-Type application/yaml, so the server itself decodes it) and read back."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import files as sources
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import yaml_loader

PROBE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "yamlprobes.probe.meshops.io"},
    "spec": {"group": "probe.meshops.io", "scope": "Namespaced",
             "names": {"plural": "yamlprobes", "singular": "yamlprobe", "kind": "YamlProbe"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object",
                                                           "x-kubernetes-preserve-unknown-fields": True}}}}}]}}
# Plain scalars where YAML 1.1 (PyYAML), YAML 1.2 parsers and go-yaml part, and some where they do not.
SCALARS = ["yes", "Yes", "YES", "no", "on", "On", "off", "OFF", "y", "Y", "n", "N", "true", "False", "~", "null",
           "", "80", "-3", "+12", "017", "0o17", "0x1F", "-0x10", "0b101", "1_000", "08", "09.5", "1e3", "1e2",
           "1.0", "-.5", ".5", "1.5", "1_0.5", "1.", "9223372036854775807", "9223372036854775808",
           "18446744073709551616", "1e400", "2024-01-01", "2001-12-14T21:59:43.10-05:00", "1:30", "=", "0x", ".",
           "1.2.3", "10s", "Yes please", "onion", "0b2", "+", "-0", "-0.0"]
KEYS = ["on", "off", "y", "80", "1.5", "1e3", "017", "true", "null-ish"]


@pytest.fixture(scope="module")
def probe(control_plane):
    control_plane.kubectl("apply", "-f", "-", stdin=json.dumps(PROBE_CRD))
    control_plane.kubectl("wait", "--for=condition=established", "--timeout=60s", "crd/yamlprobes.probe.meshops.io")
    context = ssl.create_default_context(cafile=str(control_plane.dir / "ca.crt"))
    context.load_cert_chain(str(control_plane.dir / "admin.crt"), str(control_plane.dir / "admin.key"))

    def send(text: str, path: str = "/apis/probe.meshops.io/v1/namespaces/default/yamlprobes"):
        """(status, decoded JSON answer) of a dry-run create of the YAML text."""
        request = urllib.request.Request(control_plane.server + path + "?dryRun=All", data=text.encode("utf-8"),
                                         method="POST", headers={"Content-Type": "application/yaml"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310 (loopback)
                return response.status, json.loads(response.read(), parse_int=_api_server_int)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
    return send


def _api_server_int(digits: str):
    """A JSON integer as the API server's decoder reads it: int64, or else float64."""
    number = int(digits)
    return number if yaml_loader.INT64[0] <= number <= yaml_loader.INT64[1] else float(digits)


def _probe(spec_lines: str, name: str = "p") -> str:
    return "apiVersion: probe.meshops.io/v1\nkind: YamlProbe\nmetadata:\n  name: %s\nspec:\n%s" % (name, spec_lines)


def _loaded(text: str, fast: bool = False):
    parsed = sources.parse_text("probe.yaml", text, fast=fast)
    assert parsed.problems == []
    return parsed.documents[0][1]


def test_plain_scalars_and_keys_decode_as_the_api_server_decodes_them(probe):
    lines = "".join("  v%d: %s\n" % (index, scalar) for index, scalar in enumerate(SCALARS))
    lines += "  keys:\n" + "".join("    %s: k%d\n" % (key, index) for index, key in enumerate(KEYS))
    lines += "  base: &b {a: 1, c: 1}\n  later: &l {a: 2}\n  mm: {a: 0, <<: *b}\n  nn: {<<: [*l, *b], c: 3}\n"
    lines += "  tagged: [!!str 017, !!float 1, !!int 0x10, !custom text]\n"
    text = _probe(lines)
    status, answer = probe(text)
    assert status == 201, answer
    ours = _loaded(text)
    assert ours["spec"] == answer["spec"]
    for index, scalar in enumerate(SCALARS):  # and each type too (True == 1 in Python)
        assert type(ours["spec"]["v%d" % index]) is type(answer["spec"]["v%d" % index]), scalar


def test_ordinary_manifests_read_the_same_on_the_fast_path(probe):
    text = _probe("  ports:\n  - port: 80\n    name: http\n  enabled: true\n  off: null\n  count: -3\n"
                  "  quoted: 'on'\n  version: \"1.10\"\n  words: [a, b c, TRUE, Null]\n".replace("  off: null\n", ""))
    parsed = sources.parse_text("probe.yaml", text)
    assert parsed.loader == yaml_loader.FAST_LOADER, parsed.fallback
    status, answer = probe(text)
    assert status == 201, answer
    assert parsed.documents[0][1]["spec"] == answer["spec"] == _loaded(text)["spec"]


@pytest.mark.parametrize("value", ["on", "1", "1.10", "no"])
def test_a_label_the_api_server_refuses_is_not_read_as_a_string(probe, value):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    version: %s\n" % value
    status, answer = probe(text, "/api/v1/namespaces/default/configmaps")
    assert status == 400 and "labels" in answer["message"], answer
    assert not isinstance(_loaded(text)["metadata"]["labels"]["version"], str)


@pytest.mark.parametrize("line", ["  v: .inf\n", "  v: .nan\n", "  ~: x\n"])
def test_what_the_api_server_cannot_decode_is_a_skipped_document(probe, line):
    text = _probe(line)
    status, _answer = probe(text)
    assert status >= 400
    parsed = sources.parse_text("probe.yaml", text)
    assert parsed.documents == [] and parsed.problems[0][0].startswith(sources.UNDECODABLE)
