# -*- coding: utf-8 -*-
"""The traffic graph of a small mesh, against nodes and edges counted by hand."""

from __future__ import annotations

import re

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, run_integrity
from ansible_collections.meshops.istio_integrity.plugins.module_utils.reports.html import to_html, to_mermaid

MESH = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: web, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/edge, istio-system/gone]
  http:
  - route:
    - {destination: {host: cart, subset: v1}, weight: 90}
    - {destination: {host: cart, subset: v9}, weight: 10}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: web}
spec: {selector: {app: cart}, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: web}
spec:
  host: cart
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart-v1, namespace: web}
spec:
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart, version: v1}}
    spec: {containers: [{name: app, image: x, ports: [{containerPort: 80}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata: {labels: {istio: ingressgateway}}
    spec: {containers: [{name: proxy, image: x}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pay-a, namespace: web}
spec: {hosts: [pay.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pay-b, namespace: web}
spec: {hosts: [pay.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
"""


@pytest.fixture
def facts(tmp_path):
    (tmp_path / "mesh.yaml").write_text(MESH)
    return run_integrity(IntegrityRequest(src=[str(tmp_path)], graph="all", include_objects=False))


def edges_of(graph):
    return {(e["source"], e["target"], e["kind"], e["broken"]) for e in graph["edges"]}


def test_nodes_and_edges_of_a_small_mesh_counted_by_hand(facts):
    graph = facts["graph"]
    assert sorted(n["id"] for n in graph["nodes"]) == sorted([
        "Gateway/istio-system/edge", "VirtualService/web/shop", "Service/web/cart", "DestinationRule/web/cart",
        "DestinationRule/web/cart:v1", "Deployment/web/cart-v1", "Deployment/istio-system/ingress",
        "ServiceEntry/web/pay-a", "ServiceEntry/web/pay-b",
        "missing:Gateway/istio-system/gone", "missing:DestinationRule/web/subset v9 of cart"])
    assert edges_of(graph) == {
        ("Gateway/istio-system/edge", "VirtualService/web/shop", "binds", False),
        ("Gateway/istio-system/edge", "Deployment/istio-system/ingress", "selects", False),
        ("VirtualService/web/shop", "Service/web/cart", "routes", False),
        ("Service/web/cart", "DestinationRule/web/cart:v1", "subset", False),
        ("DestinationRule/web/cart:v1", "Deployment/web/cart-v1", "selects", False),
        ("VirtualService/web/shop", "missing:Gateway/istio-system/gone", "missing", True),
        ("VirtualService/web/shop", "missing:DestinationRule/web/subset v9 of cart", "missing", True),
        ("ServiceEntry/web/pay-a", "ServiceEntry/web/pay-b", "conflict", False),
    }
    shop = next(n for n in graph["nodes"] if n["id"] == "VirtualService/web/shop")
    assert shop["severity"] == "error" and shop["layer"] == 1
    assert set(shop["findings"]) == {v["id"] for v in facts["violations"] if v["name"] == "shop"}
    assert next(n for n in graph["nodes"] if n["id"].startswith("missing:Gateway"))["missing"] is True


def test_the_broken_part_keeps_findings_their_parties_and_placeholders(tmp_path):
    (tmp_path / "mesh.yaml").write_text(MESH)
    graph = run_integrity(IntegrityRequest(src=[str(tmp_path)], graph="broken"))["graph"]
    # The Gateway has a finding of its own (MSH509: its port name is not its protocol); cart-v1 has none.
    assert sorted(n["id"] for n in graph["nodes"]) == sorted([
        "Gateway/istio-system/edge", "VirtualService/web/shop", "ServiceEntry/web/pay-a", "ServiceEntry/web/pay-b",
        "missing:Gateway/istio-system/gone", "missing:DestinationRule/web/subset v9 of cart"])
    assert edges_of(graph) == {
        ("Gateway/istio-system/edge", "VirtualService/web/shop", "binds", False),
        ("VirtualService/web/shop", "missing:Gateway/istio-system/gone", "missing", True),
        ("VirtualService/web/shop", "missing:DestinationRule/web/subset v9 of cart", "missing", True),
        ("ServiceEntry/web/pay-a", "ServiceEntry/web/pay-b", "conflict", False)}
    assert run_integrity(IntegrityRequest(src=[str(tmp_path)]))["violations"] and "graph" not in run_integrity(
        IntegrityRequest(src=[str(tmp_path)]))


def test_mermaid_draws_the_broken_part_in_red_and_caps_it(facts):
    diagram = to_mermaid(facts["graph"])
    assert diagram.startswith("flowchart LR\n") and 'subgraph ns_web ["web"]' in diagram
    assert '(["missing GW istio-system/gone"])' in diagram
    red = [line for line in diagram.splitlines() if line.strip().startswith("linkStyle")]
    assert red and len(red[0].split()[1].split(",")) == 2
    capped = to_mermaid(facts["graph"], limit=2)
    assert len(re.findall(r"^    n\d+[\[(]", capped, re.M)) == 2
    assert "4 more object(s) with findings" in capped
    assert capped.count("(\"missing") == 0 and capped.count('(["missing') == 2  # missing references come first


def test_html_is_self_contained_and_carries_its_data(facts):
    page = to_html(facts, title="Shop <mesh>")
    assert "<title>Shop &lt;mesh&gt;</title>" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<script src" not in page and "<link" not in page
    assert '"missing:Gateway/istio-system/gone"' in page
    assert "</script>" not in page[page.index('id="report-data">'):page.index("</script>")]
