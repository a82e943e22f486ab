# -*- coding: utf-8 -*-
"""The execution environment definition builds a context with ansible-builder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ansible_builder_create_succeeds(tmp_path):
    builder = Path(sys.executable).parent / "ansible-builder"
    result = subprocess.run([str(builder), "create", "-f", str(REPO / "execution-environment.yml"),
                             "-c", str(tmp_path / "context"), "--output-filename", "Containerfile"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "ansible-core>=2.19,<2.20" in containerfile
    build = tmp_path / "context" / "_build"
    assert "kubernetes==" in (build / "requirements.txt").read_text()
    assert "fastyaml-rs==" in (build / "requirements.txt").read_text()
    assert "meshops.istio_integrity" in (build / "requirements.yml").read_text()
