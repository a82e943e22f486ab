# -*- coding: utf-8 -*-
"""Each check on its own (its catalogue examples: one that triggers it, one near miss), then how findings
agree with Istio's and Kiali's verdicts: every party of a conflict, the object Istio reports on, one
finding per offending field, references resolved as Istio resolves them, system namespaces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import checks, repair
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.engine import analyze
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import MeshModel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.locations import without_location
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import (
    FILES_DESCRIBE_ALL, IntegrityRequest, run_integrity)


def run(text: str, assume_defaults: bool = True, **options):
    """Analyse manifests as the file source does (Istio's default ingress gateway assumed)."""
    model = MeshModel(scope=options.pop("scope", None))
    for index, document in enumerate(yaml.safe_load_all(text)):
        if document:
            model.add(document, "test#%d" % index)
    model.mark_scanned(FILES_DESCRIBE_ALL)
    if assume_defaults:
        model.assume_istio_defaults()
    return analyze(model, **options)


def run_example(code: str, which: int):
    """A check's catalogue example; schema checks find at load time, so theirs are loaded as a file is."""
    text = checks.BY_CODE[code].examples[which]
    if checks.BY_CODE[code].sql:
        return run(text)
    result = run_integrity(IntegrityRequest(content=text))
    for violation in result["violations"]:
        violation["message"] = without_location(violation["message"])
    return result


def found(result, code):
    return [v for v in result["violations"] if v["code"] == code]


def parties(result, code):
    return sorted("%s/%s" % (v["namespace"], v["name"]) for v in found(result, code))


@pytest.mark.parametrize("code", sorted(checks.BY_CODE))
def test_check_fires_on_its_failing_example(code):
    result = run_example(code, 0)
    violations = found(result, code)
    assert violations, "%s not reported; got %s (skipped: %s)" % (
        code, [v["message"] for v in result["violations"]], result["summary"]["checks_skipped"])
    for violation in violations:
        assert violation["message"].startswith("%s %s/%s: " % (violation["kind"], violation["namespace"], violation["name"]))
        assert violation["path"] in violation["message"]
        assert violation["severity"] in ("error", "warning", "info")


@pytest.mark.parametrize("code", sorted(checks.BY_CODE))
def test_check_is_silent_on_its_near_miss(code):
    result = run_example(code, 1)
    assert not found(result, code), [v["message"] for v in found(result, code)]
    assert code in result["summary"]["checks_run"]


def test_every_check_is_documented_and_has_a_repair_answer():
    for check in checks.CATALOGUE:
        assert check.family and check.resolution and check.title, check.code
        assert check.code in set(repair.MANUAL_REASONS) | set(repair.DELETE_CODES) | set(repair.PATCH_CODES), check.code
    assert [c.code for c in checks.CATALOGUE] == sorted(checks.BY_CODE)


@pytest.mark.parametrize("code, istio, kiali", [
    ("MSH101", "IST0101", "KIA1102"), ("MSH106", "IST0174", "KIA0202"), ("MSH201", "IST0145", "KIA0301"),
    ("MSH202", "IST0109", "KIA1106"), ("MSH204", "IST0177", "KIA1211"), ("MSH402", "IST0173", "KIA0203"),
    ("MSH502", "IST0118", "KIA0601"), ("MSH504", "IST0150", "KIA0601"), ("MSH209", "IST0116", ""),
])
def test_equivalent_codes_follow_the_catalogue(code, istio, kiali):
    assert (checks.BY_CODE[code].istio_code, checks.BY_CODE[code].kiali_code) == (istio, kiali)


# -- every party of a conflict ------------------------------------------------------------------

def test_every_gateway_of_a_clash_is_reported_naming_the_others():
    result = run(checks.BY_CODE["MSH201"].examples[0] + """
---
kind: Gateway
metadata: {name: c, namespace: edge}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: [a.example.com]}]
""")
    assert parties(result, "MSH201") == ["edge/c", "istio-system/a", "istio-system/b"]
    [c] = [v for v in found(result, "MSH201") if v["name"] == "c"]
    assert [r["name"] for r in c["related"]] == ["a", "b"]
    assert "Gateway istio-system/a" in c["message"] and "Gateway istio-system/b" in c["message"]


def test_mesh_host_claims_respect_export_scopes():
    result = run("""
kind: VirtualService
metadata: {name: mine, namespace: team-a}
spec: {hosts: [ratings.shared.svc.cluster.local], exportTo: ["."]}
---
kind: VirtualService
metadata: {name: yours, namespace: team-b}
spec: {hosts: [ratings.shared.svc.cluster.local], exportTo: ["."]}
---
kind: VirtualService
metadata: {name: everyone, namespace: team-c}
spec: {hosts: [productpage.shared.svc.cluster.local]}
---
kind: VirtualService
metadata: {name: everyone-too, namespace: team-d}
spec: {hosts: [productpage.shared.svc.cluster.local]}
""")
    assert parties(result, "MSH202") == ["team-c/everyone", "team-d/everyone-too"]
    assert {v["istio_code"] for v in found(result, "MSH202")} == {"IST0109"}


def test_host_claims_on_an_ingress_gateway_are_kiali_findings_not_istio_ones():
    result = run("""
kind: VirtualService
metadata: {name: a, namespace: default}
spec: {hosts: [shop.example.com], gateways: [istio-system/gw]}
---
kind: VirtualService
metadata: {name: b, namespace: default}
spec: {hosts: [shop.example.com], gateways: [istio-system/gw]}
""")
    assert parties(result, "MSH202") == ["default/a", "default/b"]
    assert {(v["istio_code"], v["kiali_code"]) for v in found(result, "MSH202")} == {("", "KIA1106")}


def test_repair_patches_the_newer_party_and_the_older_points_to_that_patch():
    result = run("""
kind: VirtualService
metadata: {name: old, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z",
           labels: {app.kubernetes.io/managed-by: meshops.istio_integrity}}
spec: {hosts: [a.example.com, b.example.com]}
---
kind: VirtualService
metadata: {name: new, namespace: default, creationTimestamp: "2024-02-01T00:00:00Z",
           labels: {app.kubernetes.io/managed-by: meshops.istio_integrity}}
spec: {hosts: [a.example.com, c.example.com]}
""")
    patches = [a for a in result["repair_plan"] if a["action"] == "patch"]
    assert [(a["name"], a["safe"]) for a in patches] == [("new", True)]
    by_name = {v["name"]: v for v in found(result, "MSH202")}
    assert by_name["new"]["repair_target"] is True and by_name["old"]["repair_target"] is False
    assert by_name["old"]["repair"] == by_name["new"]["repair"] == patches[0]["id"]
    assert set(patches[0]["violations"]) == {by_name["old"]["id"], by_name["new"]["id"]}


def test_service_entry_clash_carries_ist0177_only_when_protocols_differ():
    same = run(checks.BY_CODE["MSH204"].examples[0].replace("TLS", "HTTP"))
    assert parties(same, "MSH204") == ["default/api-http", "default/api-tls"]
    assert {(v["istio_code"], v["severity"]) for v in found(same, "MSH204")} == {("", "warning")}
    clash = run(checks.BY_CODE["MSH204"].examples[0])
    assert {(v["istio_code"], v["severity"]) for v in found(clash, "MSH204")} == {("IST0177", "error")}


# -- where a finding sits, once per field --------------------------------------------------------

def test_port_clash_is_reported_on_the_deployment_not_the_services():
    result = run(checks.BY_CODE["MSH209"].examples[0])
    [violation] = found(result, "MSH209")
    assert (violation["kind"], violation["name"]) == ("Deployment", "web")
    assert sorted(r["name"] for r in violation["related"]) == ["web", "web-udp"]


def test_each_bogus_destination_is_its_own_finding_with_its_path():
    result = run("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: ghost}, weight: 50}, {destination: {host: phantom}, weight: 50}]}]}
""")
    assert sorted(v["path"] for v in found(result, "MSH102")) == [
        "spec.http[0].route[0].destination.host", "spec.http[0].route[1].destination.host"]


# -- references as Istio resolves them ------------------------------------------------------------

def test_subset_is_checked_even_when_the_host_is_unknown():
    result = run("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: ghost, subset: v1}}]}]}
""")
    assert {v["code"] for v in result["violations"]} >= {"MSH102", "MSH103"}


def test_a_virtualservice_bound_to_a_gateway_api_gateway_is_kialis_not_found_and_istio_binds_it():
    text = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP%s}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [a.example.com], gateways: [bookinfo-gateway], http: [{redirect: {uri: /productpage}}]}
"""

    def verdicts(listener_hostname):
        return sorted((v["code"], v["istio_code"], v["kiali_code"]) for v in run(text % listener_hostname)["violations"])
    # Kiali looks the name up among Istio Gateways only (KIA1102); Istio's analyzer, since istio/istio#60776, finds
    # the Gateway API Gateway (no IST0101) and a listener without hostname admits every host (no IST0132).
    assert verdicts("") == [("MSH717", "", "KIA1102")]
    assert verdicts(", hostname: '*.example.com'") == [("MSH717", "", "KIA1102")]
    # A listener hostname no VirtualService host matches serves none of them.
    assert verdicts(", hostname: b.example.com") == [("MSH107", "IST0132", ""), ("MSH717", "", "KIA1102")]


def test_external_name_services_are_destinations_with_their_own_port_rule():
    result = run("""
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: api.example.com, ports: [{name: tcp, port: 443}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [ext], tcp: [{route: [{destination: {host: ext}}]}]}
""")
    assert [v["code"] for v in result["violations"]] == ["MSH504"]


def test_mesh_routes_to_a_multi_port_service_need_a_port():
    result = run(checks.BY_CODE["MSH105"].examples[0])
    assert [v["istio_code"] for v in found(result, "MSH105")] == ["IST0112"]


def test_near_host_hint_and_export_hint():
    result = run("""
kind: Service
metadata: {name: reviews, namespace: default}
spec: {ports: [{name: http, port: 9080}]}
---
kind: Service
metadata: {name: hidden, namespace: private, annotations: {networking.istio.io/exportTo: "."}}
spec: {ports: [{name: http, port: 80}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews.default}, weight: 50},
                                   {destination: {host: hidden.private.svc.cluster.local}, weight: 50}]}]}
""")
    messages = [v["message"] for v in found(result, "MSH102")]
    assert any("did you mean 'reviews.default.svc.cluster.local'?" in m for m in messages)
    assert any("Service private/hidden exists but is not exported to namespace default" in m for m in messages)


def test_wildcard_service_entry_resolves_on_label_boundary_only():
    result = run("""
kind: ServiceEntry
metadata: {name: wild, namespace: default}
spec: {hosts: ["*.example.net"], ports: [{number: 80, name: http, protocol: HTTP}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: api.example.net}, weight: 50},
                                   {destination: {host: badexample.net}, weight: 50}]}]}
""")
    assert [v["target"] for v in found(result, "MSH102")] == ["badexample.net"]


def test_gateway_server_namespace_scope_rejects_other_namespaces():
    result = run("""
kind: Gateway
metadata: {name: scoped, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["team-a/s.example.com"]}]
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [s.example.com], gateways: [istio-system/scoped]}
""")
    assert parties(result, "MSH107") == ["default/vs"]


def test_missing_gateway_serves_no_host_as_in_istio():
    result = run(checks.BY_CODE["MSH101"].examples[0])
    assert {v["code"] for v in result["violations"]} == {"MSH101", "MSH107"}


# -- system namespaces and Istio's defaults -------------------------------------------------------

def test_no_port_name_or_workload_findings_in_system_namespaces():
    text = checks.BY_CODE["MSH502"].examples[0].replace("namespace: default", "namespace: kube-system")
    assert not run(text)["violations"]
    assert found(run(text, system_namespaces=[]), "MSH502")


def test_default_ingress_gateway_is_assumed_offline_only():
    sample = """
kind: Deployment
metadata: {name: productpage, namespace: default}
spec: {template: {metadata: {labels: {app: productpage}}}}
---
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec: {hosts: ["*"], gateways: [bookinfo-gateway], http: [{redirect: {uri: /productpage}}]}
"""
    assert not run(sample)["violations"]
    assert [v["code"] for v in run(sample, assume_defaults=False)["violations"]] == ["MSH401"]


def test_label_selector_scopes_reported_objects_only():
    result = run("""
kind: VirtualService
metadata: {name: mine, namespace: default, labels: {team: a}}
spec: {hosts: [x], http: [{route: [{destination: {host: ghost}}]}]}
---
kind: VirtualService
metadata: {name: theirs, namespace: default, labels: {team: b}}
spec: {hosts: [y], http: [{route: [{destination: {host: ghost}}]}]}
""", scope=lambda kind, namespace, labels: labels.get("team") == "a")
    assert {v["name"] for v in result["violations"]} == {"mine"}


def test_targets_outside_scanned_namespaces_are_unverifiable_not_missing():
    result = run("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], gateways: [elsewhere/gw], http: [{route: [{destination: {host: reviews}}]}]}
---
kind: Service
metadata: {name: reviews, namespace: default}
spec: {ports: [{name: http, port: 80}]}
""", assume_defaults=False, scanned_namespaces=["default"])
    assert not found(result, "MSH101") and not found(result, "MSH107")
    assert result["summary"]["unverifiable_references"] == 2


def test_generated_catalogue_is_current():
    repo = Path(__file__).resolve().parents[4]
    result = subprocess.run([sys.executable, str(repo / "tools" / "gen_checks_doc.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    text = (repo / "docs" / "checks.md").read_text(encoding="utf-8")
    assert all("### %s" % check.code in text for check in checks.CATALOGUE)


SAMPLES = Path(__file__).resolve().parent / "samples"


@pytest.mark.parametrize("files, expected", [
    (["helloworld.yaml"], []),
    (["httpbin.yaml"], []),
    # Istio gives IST0140 on bookinfo's ingress route once virtual-service-all-v1 routes productpage by subset.
    (["bookinfo.yaml", "bookinfo-gateway-api.yaml"], [("MSH111", "IST0140", "VirtualService", "bookinfo")]),
])
def test_istio_samples_from_files_get_only_what_istio_gives_them_live(files, expected):
    result = run_integrity(IntegrityRequest(src=[str(SAMPLES / name) for name in files]))
    assert [(v["code"], v["istio_code"], v["kind"], v["name"]) for v in result["violations"]] == expected
    assert result["summary"]["scanned"].get("KubernetesGateway", 0) == (1 if "bookinfo-gateway-api.yaml" in files else 0)
    without_defaults = run_integrity(IntegrityRequest(src=[str(SAMPLES / name) for name in files],
                                                      assume_istio_defaults=False))
    assert {v["code"] for v in without_defaults["violations"]} >= {"MSH401"}


def test_a_host_repeated_on_one_gateway_port_is_a_kiali_finding_repaired_by_dropping_the_repetition():
    result = run("""
kind: Gateway
metadata: {name: gw, namespace: istio-system, labels: {app.kubernetes.io/managed-by: meshops.istio_integrity}}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 8080, name: http, protocol: HTTP}, hosts: [a.example.com, b.example.com]}
  - {port: {number: 8080, name: http-2, protocol: HTTP}, hosts: [a.example.com]}
""")
    violations = found(result, "MSH201")
    assert sorted(v["path"] for v in violations) == ["spec.servers[0].hosts[0]", "spec.servers[1].hosts[0]"]
    assert {(v["istio_code"], v["kiali_code"]) for v in violations} == {("", "KIA0301")}
    [patch] = [a for a in result["repair_plan"] if a["action"] == "patch"]
    assert [op for op in patch["patch"] if op["op"] == "remove"] == [{"op": "remove", "path": "/spec/servers/1"}]


def test_gateway_clash_codes_follow_each_tool():
    wildcard = run(checks.BY_CODE["MSH201"].examples[1].replace("*.example.com", "*"))
    assert {(v["name"], v["istio_code"], v["kiali_code"]) for v in found(wildcard, "MSH201")} == {
        ("a", "", "KIA0301"), ("b", "", "KIA0301")}
    nested = run(checks.BY_CODE["MSH201"].examples[0].replace(
        "name: b, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}",
        "name: b, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway, app: edge}"))
    assert {(v["name"], v["istio_code"], v["kiali_code"]) for v in found(nested, "MSH201")} == {
        ("a", "IST0145", ""), ("b", "IST0145", "")}


@pytest.mark.parametrize("template, flagged", [
    ("{metadata: {labels: {app: web}}}", False),  # namespace without injection: not in the mesh
    ("{metadata: {labels: {app: web, sidecar.istio.io/inject: 'true'}}}", True),
    ("{metadata: {labels: {app: web}, annotations: {sidecar.istio.io/inject: 'true'}}}", True),
    ("{metadata: {labels: {app: web}}, spec: {containers: [{name: istio-proxy, image: proxyv2}]}}", True),
])
def test_deployment_findings_follow_mesh_membership_as_istio_decides_it(template, flagged):
    text = """
kind: Namespace
metadata: {name: shop}
---
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: %s}
""" % template + "".join("""
---
kind: Service
metadata: {name: %s, namespace: shop}
spec: {selector: {app: web}, ports: [{name: %s, port: 53, protocol: %s}]}
""" % (name, name, protocol) for name, protocol in (("dns", "UDP"), ("tcp-dns", "TCP")))
    assert bool(found(run(text), "MSH209")) is flagged


def test_an_object_not_created_yet_is_the_newer_party_of_a_clash():
    result = run("""
kind: VirtualService
metadata: {name: about-to-be-written, namespace: default}
spec: {hosts: [a.example.com], http: [{redirect: {uri: /a}}]}
---
kind: VirtualService
metadata: {name: existing, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {hosts: [a.example.com], http: [{redirect: {uri: /a}}]}
""")
    by_name = {v["name"]: v for v in found(result, "MSH202")}
    assert by_name["about-to-be-written"]["repair_target"] and not by_name["existing"]["repair_target"]
    assert "already claimed by an older VirtualService" in by_name["about-to-be-written"]["message"]
