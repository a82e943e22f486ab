# -*- coding: utf-8 -*-
"""Gateway server ports (MSH403, Istio's IST0162) as Istio's analyzer decides them since istio/istio#51257:
a port or a target port of a Service selecting the gateway workload; what the files cannot tell is counted,
not reported, unless the user names the gateway Service's ports (option ``gateway_ports``)."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.engine import analyze
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import MeshModel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import (
    FILES_DESCRIBE_ALL, IntegrityRequest, RunError, run_integrity)

GATEWAY_WORKLOAD = """
kind: Deployment
metadata: {name: ingress, namespace: istio-system}
spec: {template: {metadata: {labels: {istio: ingressgateway}}}}
"""
GATEWAY_SERVICE = """
---
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: https-port}
  - {name: dns, port: 53, protocol: UDP}
"""


def gateway(*ports: int, name: str = "gw", selector: str = "{istio: ingressgateway}") -> str:
    servers = ", ".join("{port: {number: %d, name: tcp-%d, protocol: TCP}, hosts: ['*']}" % (p, p) for p in ports)
    return """
---
kind: Gateway
metadata: {name: %s, namespace: default}
spec: {selector: %s, servers: [%s]}
""" % (name, selector, servers)


def check(text: str, live: bool = False, assume_defaults: bool = True, gateway_ports=(), codes=("MSH403", "MSH401")):
    model = MeshModel()
    for index, document in enumerate(yaml.safe_load_all(text)):
        if document:
            model.add(document, "test#%d" % index)
    if live:
        model.mark_scanned(("Pod", "Service"))
    else:
        model.mark_scanned(FILES_DESCRIBE_ALL)
        model.declare_gateway_ports(gateway_ports)
        if assume_defaults:
            model.assume_istio_defaults()
    return analyze(model, codes=codes, live=live)


def flagged(result):
    return sorted(int(v["message"].split(".port.number ")[1].split()[0]) for v in result["violations"]
                  if v["code"] == "MSH403")


def test_a_server_port_may_be_a_service_port_or_a_numeric_target_port_of_a_tcp_port():
    # 80 and 443 are Service ports, 8080 a target port; 53 is UDP; a named target port stands for nothing.
    result = check(GATEWAY_WORKLOAD + GATEWAY_SERVICE + gateway(80, 8080, 443, 53, 8443, 31400))
    assert flagged(result) == [53, 8443, 31400]
    udp = [v for v in result["violations"] if v["path"] == "spec.servers[3].port.number"]
    assert [v["istio_code"] for v in udp] == ["IST0162"]


def test_only_services_that_select_the_gateway_workload_in_its_namespace_count():
    status = """
---
kind: Service
metadata: {name: status, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, ports: [{name: status, port: 15021}]}
"""
    elsewhere = GATEWAY_SERVICE.replace("namespace: istio-system", "namespace: default")
    other_selector = GATEWAY_SERVICE.replace("selector: {istio: ingressgateway}", "selector: {istio: egressgateway}")
    for service in (elsewhere, other_selector):
        assert flagged(check(GATEWAY_WORKLOAD + status + service + gateway(80, 15021))) == [80]


def test_offline_a_gateway_whose_service_the_files_lack_is_counted_not_judged():
    result = check(GATEWAY_WORKLOAD + gateway(80, 31400))
    assert flagged(result) == [] and result["summary"]["unverifiable_references"] == 2
    # Istio's default ingress gateway, assumed offline, has no known ports either.
    assumed = check(gateway(80, 31400, name="tcp-echo"))
    assert assumed["violations"] == [] and assumed["summary"]["unverifiable_references"] == 2


def test_live_a_gateway_workload_without_a_service_gets_every_port_as_istio_gives_it():
    result = check(GATEWAY_WORKLOAD.replace("Deployment", "Pod").replace(
        "spec: {template: {metadata: {labels: {istio: ingressgateway}}}}", "") .replace(
        "namespace: istio-system}", "namespace: istio-system, labels: {istio: ingressgateway}}") + gateway(80),
        live=True)
    assert flagged(result) == [80] and result["summary"]["unverifiable_references"] == 0


def test_the_gateway_service_in_the_files_is_used_without_its_deployment():
    # The files bring Istio's default Service (not its Deployment): the assumed workload is selected by it.
    result = check(GATEWAY_SERVICE.lstrip("-\n") + gateway(80, 8080, 31400))
    assert flagged(result) == [31400] and result["summary"]["unverifiable_references"] == 0


def test_named_gateway_ports_are_judged_and_stand_for_a_workload_the_files_lack():
    ports = [{"selector": {"istio": "ingressgateway"}, "ports": [80, 443, 31400]},
             {"selector": {"istio": "edge"}, "namespace": "ingress", "ports": [9000]}]
    edge = gateway(9000, 9001, name="edge", selector="{istio: edge}")
    # Files without workloads: the assumed default ingress gateway takes the first entry's ports.
    result = check(gateway(80, 31400, 15443) + edge, gateway_ports=ports)
    assert flagged(result) == [9001, 15443] and result["summary"]["unverifiable_references"] == 0
    # Files with workloads: the custom gateway's workload is there because the option says so.
    assert not [v for v in check(GATEWAY_WORKLOAD + edge, gateway_ports=ports)["violations"] if v["code"] == "MSH401"]
    assert [v["code"] for v in check(GATEWAY_WORKLOAD + edge)["violations"]] == ["MSH401"]


def test_named_ports_join_a_gateway_workload_from_the_files():
    result = check(GATEWAY_WORKLOAD + gateway(80, 81), gateway_ports=[
        {"selector": {"istio": "ingressgateway"}, "namespace": "istio-system", "ports": [80]}])
    assert flagged(result) == [81]


def test_the_option_through_the_runner_and_its_errors(tmp_path):
    (tmp_path / "gw.yaml").write_text(GATEWAY_WORKLOAD + gateway(80, 31400))
    result = run_integrity(IntegrityRequest(src=[str(tmp_path)], checks=["MSH403"], gateway_ports=[
        {"selector": {"istio": "ingressgateway"}, "namespace": "istio-system", "ports": [31400]}]))
    assert [v["path"] for v in result["violations"]] == ["spec.servers[0].port.number"]
    for bad, field in (({"ports": [80]}, r"\.selector'"), ({"selector": {"a": "b"}, "ports": [0]}, r"\.ports'"),
                       ({"selector": {"a": 1}, "ports": [80]}, r"\.selector'"),
                       ({"selector": {"a": "b"}, "ports": [80], "namespace": ""}, r"\.namespace'"),
                       ({"selector": {"a": "b"}, "ports": [80], "port": 1}, "' must be a mapping")):
        with pytest.raises(RunError, match=r"'gateway_ports\[0\]%s" % field):
            run_integrity(IntegrityRequest(src=[str(tmp_path)], gateway_ports=[bad]))


def test_a_created_gateway_listens_on_the_http_port_of_a_known_gateway_service_else_80():
    missing = """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [a.example.com], gateways: [edge], http: [{redirect: {uri: /}}]}
"""

    def created_port(text):
        [action] = [a for a in check(text, codes=None)["repair_plan"] if a["action"] == "create"]
        return action["manifest"]["spec"]["servers"][0]["port"]["number"]

    assert created_port(missing) == 80
    assert created_port(missing + "---\n" + GATEWAY_SERVICE.lstrip("-\n")) == 8080
