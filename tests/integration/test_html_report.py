# -*- coding: utf-8 -*-
"""The HTML report of the demo mesh, opened in a real headless Chromium (Debian's package).

Chromium runs the page's own JavaScript; the test reads the DOM it leaves (--dump-dom)
and keeps a screenshot in tests/output/html-report/ as a CI artifact. Filters and the
selected node are set through the URL fragment, as a shared link would set them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO, run_collection_playbook

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "output" / "html-report"
# The codes whose findings are references to something missing: each must be a red edge to a placeholder.
MISSING_REFERENCE_CODES = {"MSH101", "MSH102", "MSH103", "MSH106", "MSH110", "MSH401", "MSH402", "MSH701"}


class Dom(HTMLParser):
    """The elements of the rendered page, as (tag, attributes)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def having(self, tag, css_class=None, **attrs):
        return [a for t, a in self.elements if t == tag and (css_class is None or css_class in a.get("class", "").split())
                and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM.exists(), "Chromium is missing: make integration installs Debian's chromium"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=%s" % profile, "--virtual-time-budget=5000"]
    return subprocess.run([str(CHROMIUM)] + flags + list(arguments), capture_output=True, text=True, timeout=120,
                          check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("html")
    run = run_collection_playbook("integrity_check", {
        "integrity_src": str(EXAMPLES), "integrity_fail_on": "never",
        "integrity_report_formats": ["json", "markdown", "html"]}, cwd=workdir)
    assert run.returncode == 0, run.stdout + run.stderr
    directory = workdir / "integrity-report"
    return directory, json.loads((directory / "integrity.json").read_text())


def open_page(report_dir: Path, fragment: str, tmp_path: Path) -> Dom:
    url = (report_dir / "integrity.html").as_uri() + fragment
    return Dom(chromium("--dump-dom", url, profile=tmp_path / ("profile" + str(abs(hash(fragment))))).stdout)


def test_the_graph_draws_every_planted_broken_reference_as_a_red_edge(report, tmp_path):
    report_dir, facts = report
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chromium("--window-size=1400,1800", "--screenshot=%s" % (ARTIFACTS / "integrity-report.png"),
             (report_dir / "integrity.html").as_uri(), profile=tmp_path / "shot")
    shutil.copy(report_dir / "integrity.html", ARTIFACTS / "integrity.html")
    assert (ARTIFACTS / "integrity-report.png").stat().st_size > 10000
    page = open_page(report_dir, "", tmp_path)
    assert page.having("body", data_ready="true"), "the page's script did not finish"
    drawn = {a["data-id"] for a in page.having("g", "node")}
    assert {"%s/%s/%s" % (v["kind"], v["namespace"], v["name"]) for v in facts["violations"]} <= drawn
    red = page.having("path", "broken")
    broken = [v for v in facts["violations"] if v["code"] in MISSING_REFERENCE_CODES]
    assert len(broken) >= 8  # the demo mesh plants each of these codes at least once
    for violation in broken:
        source = "%s/%s/%s" % (violation["kind"], violation["namespace"], violation["name"])
        targets = [a["data-target"] for a in red if a["data-source"] == source]
        assert any(target.startswith("missing:") and target in drawn for target in targets), violation["id"]
    assert len({(a["data-source"], a["data-target"]) for a in red}) == len(red)


def test_the_findings_table_filters_and_a_node_lists_its_findings(report, tmp_path):
    report_dir, facts = report
    every = open_page(report_dir, "", tmp_path)
    rows = [a for t, a in every.elements if t == "tr" and "data-code" in a]
    assert len(rows) == len(facts["violations"]) and not [a for a in rows if "hidden" in a]
    filtered = open_page(report_dir, "#severity=warning&namespace=bookinfo", tmp_path)
    shown = [a for t, a in filtered.elements if t == "tr" and "data-code" in a and "hidden" not in a]
    expected = [v for v in facts["violations"] if v["severity"] == "warning" and v["namespace"] == "bookinfo"]
    assert expected and len(shown) == len(expected)
    assert {a["data-severity"] for a in shown} == {"warning"} and {a["data-namespace"] for a in shown} == {"bookinfo"}
    chosen = next(v for v in facts["violations"] if v["code"] == "MSH101")
    node = "%s/%s/%s" % (chosen["kind"], chosen["namespace"], chosen["name"])
    selected = open_page(report_dir, "#node=" + node, tmp_path)
    assert [a["data-id"] for a in selected.having("g", "selected")] == [node]
    panel = chromium("--dump-dom", (report_dir / "integrity.html").as_uri() + "#node=" + node,
                     profile=tmp_path / "panel").stdout
    panel_text = re.search(r'<div id="panel">(.*?)</div>', panel, re.S).group(1)
    assert chosen["code"] in panel_text and chosen["path"] in panel_text


def test_the_markdown_summary_draws_the_broken_part_in_mermaid(report):
    report_dir, facts = report
    summary = (report_dir / "summary.md").read_text()
    diagram = summary[summary.index("```mermaid\n") + 11:summary.index("```", summary.index("```mermaid\n") + 11)]
    assert diagram.startswith("flowchart LR") and "linkStyle" in diagram
    assert len(re.findall(r"^    n\d+[\[(]", diagram, re.M)) <= 40
    assert not (report_dir / "integrity.json").read_text().count('"graph":')  # the whole graph stayed out of the facts
