# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A picture of the mesh: one self-contained HTML file, and a Mermaid diagram for Markdown.

The HTML carries its data as JSON and draws it with a few hundred lines of
plain JavaScript and SVG: no library, no network at view time. The graph is
laid out in columns along the path of a request (Gateway, VirtualService,
Service, subset, workload), in one band per namespace. By default only the
namespaces with findings are drawn (or, past a size a browser draws
comfortably, only the broken objects and their neighbours); a button draws
everything. Filters and "show all" live in the URL fragment, so a link opens
the same view.
"""

from __future__ import annotations

import html
import json
from typing import Any, Dict, List, Optional

from ansible_collections.meshops.istio_integrity.plugins.module_utils.reports.formats import plain_message

MERMAID_NODE_LIMIT = 40
_SHORT_KIND = {"VirtualService": "VS", "DestinationRule": "DR", "ServiceEntry": "SE", "Gateway": "GW"}


def _findings(facts: Dict[str, Any]) -> List[Dict[str, Any]]:
    actions = {action["id"]: action for action in facts.get("repair_plan", [])}
    rows = []
    for violation in facts.get("violations", []):
        action = actions.get(violation.get("repair", ""))
        rows.append({
            "id": violation["id"], "severity": violation["severity"], "code": violation["code"],
            "istio": violation.get("istio_code", ""), "kiali": violation.get("kiali_code", ""),
            "kind": violation["kind"], "namespace": violation["namespace"], "name": violation["name"],
            "path": violation["path"], "message": plain_message(violation),
            "location": "%s:%d" % (violation["file"], violation.get("field_line") or violation["line"])
            if violation.get("file") else "",
            "repair": "%s %s" % (action["id"], action["action"]) if action else "",
            "new": violation.get("baseline") == "new",
        })
    return rows


def _embed(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def to_html(facts: Dict[str, Any], graph: Optional[Dict[str, Any]] = None, title: str = "Istio mesh integrity") -> str:
    """The HTML report of the facts, with the graph of the facts (or the one given, e.g. read from graph_file)."""
    summary = facts.get("summary", {})
    data = {"summary": {key: summary.get(key) for key in (
        "errors", "warnings", "infos", "suppressed", "complete", "consistent", "scanned", "new", "incomplete_reasons")},
        "findings": _findings(facts), "graph": graph or facts.get("graph") or {"nodes": [], "edges": []}}
    return _PAGE.replace("@TITLE@", html.escape(title)).replace("@DATA@", _embed(data))


def _mermaid_label(node: Dict[str, Any]) -> str:
    text = "%s %s/%s" % (_SHORT_KIND.get(node["kind"], node["kind"]), node["namespace"], node["name"])
    if node.get("missing"):
        text = "missing " + text
    return text.replace('"', "#quot;")


def to_mermaid(graph: Optional[Dict[str, Any]], limit: int = MERMAID_NODE_LIMIT) -> str:
    """A Mermaid flowchart of the broken part (missing references first, then errors), at most ``limit`` nodes."""
    if not graph or not graph.get("nodes"):
        return ""
    rank = {"error": 0, "warning": 1, "info": 2}
    broken_ends = {end for edge in graph["edges"] if edge["broken"] or edge["kind"] in ("conflict", "related")
                   for end in (edge["source"], edge["target"])}
    candidates = [n for n in graph["nodes"] if n["findings"] or n.get("missing") or n["id"] in broken_ends]
    candidates.sort(key=lambda n: (not n.get("missing"), rank.get(n["severity"], 3), n["id"]))
    chosen = {node["id"]: node for node in candidates[:limit]}
    names = {node_id: "n%d" % index for index, node_id in enumerate(sorted(chosen))}
    lines = ["flowchart LR"]
    for namespace in sorted({node["namespace"] for node in chosen.values()}):
        anchor = "ns_" + "".join(c if c.isalnum() else "_" for c in namespace)
        lines.append('  subgraph %s ["%s"]' % (anchor, namespace or "cluster"))
        for node_id, node in sorted(chosen.items()):
            if node["namespace"] == namespace:
                shape = '%s["%s"]' if not node.get("missing") else '%s(["%s"])'
                lines.append("    " + shape % (names[node_id], _mermaid_label(node)))
        lines.append("  end")
    red, index = [], 0
    for edge in graph["edges"]:
        if edge["source"] in chosen and edge["target"] in chosen:
            label = "|%s|" % ",".join(edge["codes"]) if edge["codes"] else ""
            arrow = "-.->" if edge["kind"] in ("conflict", "related", "missing") else "-->"
            lines.append("  %s %s%s %s" % (names[edge["source"]], arrow, label, names[edge["target"]]))
            if edge["broken"]:
                red.append(str(index))
            index += 1
    lines.append("  classDef missing fill:#fde8e8,stroke:#c00,stroke-dasharray:4 3")
    missing = [names[node_id] for node_id, node in chosen.items() if node.get("missing")]
    if missing:
        lines.append("  class %s missing" % ",".join(missing))
    if red:
        lines.append("  linkStyle %s stroke:#c00,stroke-width:2px" % ",".join(red))
    left = len(candidates) - len(chosen)
    if left > 0:
        lines.append("  more[\"... %d more object(s) with findings: see the reports\"]" % left)
    return "\n".join(lines) + "\n"


_PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title>
<style>
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; }
header { padding: 12px 20px; background: #f6f8fa; border-bottom: 1px solid #d0d7de; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 16px 20px 8px; }
.counts span { margin-right: 14px; }
.error { color: #b42318; } .warning { color: #9a6700; } .info { color: #0969da; }
#graph-wrap { position: relative; margin: 0 20px; border: 1px solid #d0d7de; overflow: auto; max-height: 70vh; }
#graph-tools { margin: 0 20px 6px; }
svg text { font-size: 11px; pointer-events: none; }
.band { fill: #f6f8fa; stroke: #d0d7de; }
.band-label { font-weight: 600; fill: #57606a; font-size: 12px; }
.node rect { fill: #fff; stroke: #8c959f; rx: 4; cursor: pointer; }
.node.sev-error rect { stroke: #b42318; stroke-width: 2; }
.node.sev-warning rect { stroke: #bf8700; stroke-width: 2; }
.node.sev-info rect { stroke: #0969da; }
.node.missing rect { fill: #fde8e8; stroke: #c00; stroke-dasharray: 4 3; }
.node.selected rect { fill: #ddf4ff; }
.edge { fill: none; stroke: #afb8c1; stroke-width: 1.2; }
.edge.broken { stroke: #d00; stroke-width: 2.2; }
.edge.conflict { stroke: #e16f24; stroke-dasharray: 5 3; stroke-width: 1.8; }
.edge.related { stroke: #8250df; stroke-dasharray: 2 3; }
#panel { margin: 8px 20px; padding: 8px 12px; border-left: 4px solid #0969da; background: #f6f8fa; min-height: 1em; }
#filters { margin: 0 20px 8px; }
#filters label { margin-right: 12px; }
table { border-collapse: collapse; margin: 0 20px 20px; width: calc(100% - 40px); }
th, td { border: 1px solid #d0d7de; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " \25B2"; } th.sorted-desc::after { content: " \25BC"; }
td code { font-size: 12px; }
.legend span { margin-right: 14px; }
</style>
</head>
<body>
<header>
<h1>@TITLE@</h1>
<div class="counts" id="counts"></div>
</header>
<h2>Traffic graph</h2>
<div id="graph-tools">
<button id="toggle-all" type="button"></button>
<span id="graph-note"></span>
<span class="legend"><span style="color:#d00">&#9473; broken reference</span>
<span style="color:#e16f24">&#9476; conflict</span><span style="color:#8250df">&#9476; related</span></span>
</div>
<div id="graph-wrap"><svg id="graph" xmlns="http://www.w3.org/2000/svg"></svg></div>
<div id="panel">Click a node to list its findings.</div>
<h2>Findings</h2>
<div id="filters">
<label>Severity <select id="f-severity"></select></label>
<label>Code <select id="f-code"></select></label>
<label>Namespace <select id="f-namespace"></select></label>
<span id="shown"></span>
</div>
<table id="findings"><thead><tr>
<th data-key="severity">severity</th><th data-key="code">code</th><th data-key="istio">istio</th><th data-key="kiali">kiali</th>
<th data-key="object">object</th><th data-key="path">field</th><th data-key="location">file:line</th>
<th data-key="message">message</th><th data-key="repair">repair</th>
</tr></thead><tbody></tbody></table>
<script type="application/json" id="report-data">@DATA@</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var graph = data.graph, findings = data.findings;
  var byId = {};
  findings.forEach(function (f) { f.object = f.kind + " " + f.namespace + "/" + f.name; byId[f.id] = f; });
  var NS = "http://www.w3.org/2000/svg", LIMIT = 1500;
  var COL = 230, ROW = 30, NODE_W = 200, NODE_H = 22, PAD = 26;
  var state = { severity: "", code: "", namespace: "", node: "", all: false, sort: "", desc: false };

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function text(s) { return document.createTextNode(s == null ? "" : String(s)); }

  function readHash() {
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var kv = part.split("="), key = decodeURIComponent(kv[0] || ""), value = decodeURIComponent(kv[1] || "");
      if (key === "all") { state.all = value === "1"; } else if (key in state) { state[key] = value; }
    });
  }
  function writeHash() {
    var parts = [];
    ["severity", "code", "namespace", "node"].forEach(function (key) {
      if (state[key]) { parts.push(key + "=" + encodeURIComponent(state[key])); }
    });
    if (state.all) { parts.push("all=1"); }
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
  }

  function summary() {
    var s = data.summary, counts = document.getElementById("counts");
    var items = [["error", s.errors + " error(s)"], ["warning", s.warnings + " warning(s)"], ["info", s.infos + " info(s)"],
                 ["", (s.suppressed || 0) + " suppressed"],
                 ["", s.complete ? "complete scan" : "incomplete scan: " + (s.incomplete_reasons || []).length + " reason(s)"]];
    if (s.new) { items.push(["", "new: " + s.new.error + " error(s), " + s.new.warning + " warning(s)"]); }
    items.forEach(function (item) {
      var span = document.createElement("span");
      span.className = item[0];
      span.appendChild(text(item[1]));
      counts.appendChild(span);
    });
  }

  // -- graph -----------------------------------------------------------------
  function neighbours() {
    var near = {};
    graph.edges.forEach(function (e) {
      (near[e.source] = near[e.source] || []).push(e.target);
      (near[e.target] = near[e.target] || []).push(e.source);
    });
    return near;
  }
  function visibleNodes() {
    if (state.all) { return { nodes: graph.nodes, note: "all " + graph.nodes.length + " objects" }; }
    var near = neighbours(), keep = {}, troubled = {}, core = [];
    graph.nodes.forEach(function (n) {
      if (n.findings.length || n.missing) { troubled[n.namespace] = true; core.push(n.id); }
    });
    graph.edges.forEach(function (e) { if (e.kind === "conflict" || e.kind === "related") { core.push(e.source, e.target); } });
    core.forEach(function (id) { keep[id] = true; (near[id] || []).forEach(function (other) { keep[other] = true; }); });
    var inNamespaces = graph.nodes.filter(function (n) { return troubled[n.namespace] || keep[n.id]; });
    if (inNamespaces.length <= LIMIT) {
      return { nodes: inNamespaces, note: "namespaces with findings: " + inNamespaces.length + " of " + graph.nodes.length + " objects" };
    }
    var broken = graph.nodes.filter(function (n) { return keep[n.id]; });
    return { nodes: broken, note: "objects with findings and their neighbours: " + broken.length + " of " + graph.nodes.length };
  }
  function drawGraph() {
    var svg = document.getElementById("graph");
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var view = visibleNodes();
    document.getElementById("toggle-all").textContent = state.all ? "Show namespaces with findings" : "Show all";
    document.getElementById("graph-note").textContent = "Drawn: " + view.note + ".";
    var namespaces = {};
    view.nodes.forEach(function (n) { (namespaces[n.namespace] = namespaces[n.namespace] || []).push(n); });
    var order = Object.keys(namespaces).sort(function (a, b) {
      var fa = namespaces[a].some(function (n) { return n.findings.length || n.missing; });
      var fb = namespaces[b].some(function (n) { return n.findings.length || n.missing; });
      return fa === fb ? (a < b ? -1 : a > b ? 1 : 0) : (fa ? -1 : 1);
    });
    var bands = el("g", {}, svg), edgesLayer = el("g", {}, svg), nodesLayer = el("g", {}, svg);
    var pos = {}, y = 10, width = 5 * COL + 40;
    order.forEach(function (ns) {
      var columns = [[], [], [], [], []];
      namespaces[ns].forEach(function (n) { columns[Math.min(n.layer, 4)].push(n); });
      var rows = Math.max.apply(null, columns.map(function (c) { return c.length; }));
      var height = rows * ROW + PAD + 8;
      el("rect", { "class": "band", x: 4, y: y, width: width - 8, height: height, rx: 6 }, bands);
      el("text", { "class": "band-label", x: 12, y: y + 16 }, bands).appendChild(text(ns || "(cluster)"));
      columns.forEach(function (column, layer) {
        column.sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; });
        column.forEach(function (n, index) {
          pos[n.id] = { x: 20 + layer * COL, y: y + PAD + index * ROW };
          var cls = "node" + (n.severity ? " sev-" + n.severity : "") + (n.missing ? " missing" : "");
          var g = el("g", { "class": cls, "data-id": n.id, transform: "translate(" + pos[n.id].x + "," + pos[n.id].y + ")" }, nodesLayer);
          el("rect", { width: NODE_W, height: NODE_H }, g);
          var label = (n.missing ? "missing " : "") + n.kind + " " + n.name;
          el("text", { x: 6, y: 15 }, g).appendChild(text(label.length > 34 ? label.slice(0, 33) + "\u2026" : label));
          el("title", {}, g).appendChild(text(n.id + (n.findings.length ? " (" + n.findings.length + " finding(s))" : "")));
          g.addEventListener("click", function () { state.node = n.id; writeHash(); select(n, g); });
          if (state.node === n.id) { select(n, g); }
        });
      });
      y += height + 10;
    });
    graph.edges.forEach(function (e) {
      var a = pos[e.source], b = pos[e.target];
      if (!a || !b) { return; }
      var x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2, d;
      if (b.x > a.x) {
        d = "M" + x1 + "," + y1 + " C" + (x1 + 40) + "," + y1 + " " + (x2 - 40) + "," + y2 + " " + x2 + "," + y2;
      } else {  // same or earlier column: an arc on the right
        x2 = b.x + NODE_W;
        d = "M" + x1 + "," + y1 + " C" + (x1 + 60) + "," + y1 + " " + (x2 + 60) + "," + y2 + " " + x2 + "," + y2;
      }
      var cls = "edge " + e.kind + (e.broken ? " broken" : "");
      var path = el("path", { "class": cls, d: d, "data-source": e.source, "data-target": e.target }, edgesLayer);
      if (e.codes.length) { el("title", {}, path).appendChild(text(e.codes.join(", "))); }
    });
    svg.setAttribute("width", width);
    svg.setAttribute("height", y + 10);
  }
  function select(node, g) {
    Array.prototype.forEach.call(document.querySelectorAll(".node.selected"), function (n) { n.classList.remove("selected"); });
    g.classList.add("selected");
    var panel = document.getElementById("panel");
    panel.textContent = "";
    var head = document.createElement("strong");
    head.appendChild(text(node.id + (node.missing ? " (does not exist)" : "")));
    panel.appendChild(head);
    var list = document.createElement("ul");
    node.findings.forEach(function (id) {
      var f = byId[id];
      if (!f) { return; }
      var item = document.createElement("li");
      item.className = f.severity;
      item.appendChild(text(f.code + " " + f.path + ": " + f.message));
      list.appendChild(item);
    });
    if (!node.findings.length) {
      var none = document.createElement("li");
      none.appendChild(text(node.missing ? "referenced but missing: see the red edges" : "no findings"));
      list.appendChild(none);
    }
    panel.appendChild(list);
  }

  // -- findings table ----------------------------------------------------------
  function options(id, values) {
    var select = document.getElementById(id);
    [""].concat(values).forEach(function (value) {
      var option = document.createElement("option");
      option.value = value;
      option.appendChild(text(value || "all"));
      select.appendChild(option);
    });
    return select;
  }
  function unique(key) {
    var seen = {};
    findings.forEach(function (f) { seen[f[key]] = true; });
    return Object.keys(seen).sort();
  }
  function drawTable() {
    var body = document.querySelector("#findings tbody"), rank = { error: 0, warning: 1, info: 2 };
    while (body.firstChild) { body.removeChild(body.firstChild); }
    var rows = findings.slice();
    if (state.sort) {
      rows.sort(function (a, b) {
        var x = state.sort === "severity" ? rank[a.severity] : a[state.sort], y = state.sort === "severity" ? rank[b.severity] : b[state.sort];
        return (x < y ? -1 : x > y ? 1 : 0) * (state.desc ? -1 : 1);
      });
    }
    var shown = 0;
    rows.forEach(function (f) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-code", f.code);
      tr.setAttribute("data-severity", f.severity);
      tr.setAttribute("data-namespace", f.namespace);
      var visible = (!state.severity || f.severity === state.severity) && (!state.code || f.code === state.code)
        && (!state.namespace || f.namespace === state.namespace);
      tr.hidden = !visible;
      shown += visible ? 1 : 0;
      [f.severity + (f.new ? " (new)" : ""), f.code, f.istio, f.kiali, f.object, f.path, f.location, f.message, f.repair]
        .forEach(function (value, index) {
          var td = document.createElement("td");
          if (index === 0) { td.className = f.severity; }
          if (index === 5 || index === 6) { var code = document.createElement("code"); code.appendChild(text(value)); td.appendChild(code); }
          else { td.appendChild(text(value)); }
          tr.appendChild(td);
        });
      body.appendChild(tr);
    });
    document.getElementById("shown").textContent = shown + " of " + findings.length + " finding(s) shown";
    Array.prototype.forEach.call(document.querySelectorAll("#findings th"), function (th) {
      th.className = th.getAttribute("data-key") === state.sort ? (state.desc ? "sorted-desc" : "sorted-asc") : "";
    });
  }

  readHash();
  summary();
  [["f-severity", "severity", ["error", "warning", "info"]], ["f-code", "code", unique("code")],
   ["f-namespace", "namespace", unique("namespace")]].forEach(function (spec) {
    var select = options(spec[0], spec[2]);
    select.value = state[spec[1]];
    select.addEventListener("change", function () { state[spec[1]] = select.value; writeHash(); drawTable(); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("#findings th"), function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      state.desc = state.sort === key ? !state.desc : false;
      state.sort = key;
      drawTable();
    });
  });
  document.getElementById("toggle-all").addEventListener("click", function () { state.all = !state.all; writeHash(); drawGraph(); });
  drawGraph();
  drawTable();
  document.body.setAttribute("data-ready", "true");
}());
</script>
</body>
</html>
"""
