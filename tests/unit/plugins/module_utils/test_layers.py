# -*- coding: utf-8 -*-
"""Imports run down the layers: k8s/ knows nothing of Istio, the model, the sources or the meshservice; the
sources and the schema layer hand documents and verdicts up and never write into the model themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
HIGHER_THAN_K8S = ("sources", "schema", "integrity", "meshservice", "reports")
HIGHER_THAN_SOURCES = ("integrity", "meshservice", "reports")


def _imported_layers(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and ".module_utils." in node.module:
            yield node.module.split(".module_utils.", 1)[1].split(".")[0]


def test_k8s_imports_no_higher_layer():
    for path in sorted((MODULE_UTILS / "k8s").glob("*.py")):
        higher = sorted(set(_imported_layers(path)) & set(HIGHER_THAN_K8S))
        assert not higher, "%s imports %s" % (path.name, ", ".join(higher))


@pytest.mark.parametrize("layer", ["sources", "schema"])
def test_sources_and_schema_import_no_higher_layer(layer):
    for path in sorted((MODULE_UTILS / layer).glob("*.py")):
        higher = sorted(set(_imported_layers(path)) & set(HIGHER_THAN_SOURCES))
        assert not higher, "%s/%s imports %s" % (layer, path.name, ", ".join(higher))
