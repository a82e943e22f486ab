# -*- coding: utf-8 -*-
"""Istio's published samples, read from the pinned Istio module in Go's module cache (never copied here), checked
from files: no finding that Istio or Kiali would not give on them live, every finding istioctl gives on the same
files given too. istioctl, built from the same module (tools/istioctl/build.sh), is the oracle; offline it skips
every analyzer that reads Services or Pods, so the findings it cannot see but gives live are listed with why.

Each set is applied in order as a tutorial applies it: a later object replaces an earlier one of the same identity
(tcp-echo-20-v2 replaces tcp-echo-all-v1's VirtualService)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml

from conftest import REPO, localcluster

sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import (  # noqa: E402
    IntegrityRequest, run_integrity)

KUBE = "bookinfo/platform/kube/"
NETWORKING = "bookinfo/networking/"
GATEWAY_API = "bookinfo/gateway-api/"
# Bookinfo with every version its routing variants send traffic to (the tutorials deploy them first).
BOOKINFO = [KUBE + name for name in ("bookinfo.yaml", "bookinfo-details-v2.yaml", "bookinfo-ratings-v2.yaml",
                                     "bookinfo-db.yaml", "bookinfo-ratings-v2-mysql.yaml", "bookinfo-mysql.yaml",
                                     "bookinfo-ratings-v2-mysql-vm.yaml")] + [NETWORKING + "bookinfo-gateway.yaml"]
BOOKINFO_GATEWAY_API = [KUBE + "bookinfo.yaml", KUBE + "bookinfo-versions.yaml", GATEWAY_API + "bookinfo-gateway.yaml"]
NETWORKING_VARIANTS = (
    "certmanager-gateway.yaml", "destination-rule-all-mtls.yaml", "destination-rule-reviews.yaml",
    "egress-rule-google-apis.yaml", "fault-injection-details-v1.yaml", "virtual-service-all-v1.yaml",
    "virtual-service-details-v2.yaml", "virtual-service-ratings-db.yaml", "virtual-service-ratings-mysql-vm.yaml",
    "virtual-service-ratings-mysql.yaml", "virtual-service-ratings-test-abort.yaml",
    "virtual-service-ratings-test-delay.yaml", "virtual-service-reviews-50-v3.yaml",
    "virtual-service-reviews-80-20.yaml", "virtual-service-reviews-90-10.yaml",
    "virtual-service-reviews-jason-v2-v3.yaml", "virtual-service-reviews-test-v2.yaml",
    "virtual-service-reviews-v2-v3.yaml", "virtual-service-reviews-v3.yaml")
ROUTE_VARIANTS = ("route-all-v1.yaml", "route-reviews-50-v3.yaml", "route-reviews-90-10.yaml", "route-reviews-v1.yaml",
                  "route-reviews-v3.yaml")

SETS: Dict[str, List[str]] = {"bookinfo": BOOKINFO + [NETWORKING + "destination-rule-all.yaml"]}
SETS.update(("bookinfo+" + name, BOOKINFO + [NETWORKING + "destination-rule-all.yaml", NETWORKING + name])
            for name in NETWORKING_VARIANTS)
# The platform variants, each applied over bookinfo (the dual-stack ones instead of it).
PLATFORM_VARIANTS = ("bookinfo-certificate.yaml", "bookinfo-details.yaml", "bookinfo-ingress.yaml", "bookinfo-psa.yaml",
                     "bookinfo-ratings-discovery.yaml", "bookinfo-ratings.yaml", "bookinfo-reviews-v2.yaml",
                     "bookinfo-versions.yaml", "productpage-nodeport.yaml")
SETS.update(("bookinfo+" + name, BOOKINFO + [KUBE + name]) for name in PLATFORM_VARIANTS)
SETS["bookinfo-dualstack"] = [KUBE + name for name in (
    "bookinfo-dualstack.yaml", "bookinfo-details-dualstack.yaml", "bookinfo-ratings-dualstack.yaml",
    "bookinfo-ratings-discovery-dualstack.yaml")] + [NETWORKING + "bookinfo-gateway.yaml"]
SETS["bookinfo-gateway-api"] = BOOKINFO_GATEWAY_API
SETS.update(("bookinfo-gateway-api+" + name, BOOKINFO_GATEWAY_API + [GATEWAY_API + name]) for name in ROUTE_VARIANTS)
SETS.update({
    "helloworld": ["helloworld/helloworld.yaml", "helloworld/helloworld-gateway.yaml"],
    "helloworld-gateway-api": ["helloworld/helloworld.yaml", "helloworld/gateway-api/helloworld-gateway.yaml",
                               "helloworld/gateway-api/helloworld-versions.yaml",
                               "helloworld/gateway-api/helloworld-route.yaml"],
    "helloworld-dual-stack": ["helloworld/helloworld-dual-stack.yaml", "helloworld/helloworld-gateway.yaml"],
    "httpbin": ["httpbin/httpbin.yaml", "httpbin/httpbin-gateway.yaml"],
    "httpbin-nodeport": ["httpbin/httpbin-nodeport.yaml", "httpbin/httpbin-gateway.yaml"],
    "httpbin-gateway-api": ["httpbin/httpbin.yaml", "httpbin/gateway-api/httpbin-gateway.yaml"],
    "websockets": ["websockets/app.yaml", "websockets/route.yaml"],
    "tcp-echo": ["tcp-echo/tcp-echo-services.yaml", "tcp-echo/tcp-echo-all-v1.yaml"],
    "tcp-echo-single": ["tcp-echo/tcp-echo.yaml"],
    "tcp-echo-ip-families": ["tcp-echo/tcp-echo-dual-stack.yaml", "tcp-echo/tcp-echo-ipv4.yaml",
                             "tcp-echo/tcp-echo-ipv6.yaml"],
    "tcp-echo-20-v2": ["tcp-echo/tcp-echo-services.yaml", "tcp-echo/tcp-echo-all-v1.yaml",
                       "tcp-echo/tcp-echo-20-v2.yaml"],
    "tcp-echo-gateway-api": ["tcp-echo/tcp-echo-services.yaml", "tcp-echo/gateway-api/tcp-echo-all-v1.yaml",
                             "tcp-echo/gateway-api/tcp-echo-20-v2.yaml"],
})

# (code, Istio code, kind, namespace/name) that remain, and why Istio or Kiali give them live too.
EXPECTED: Dict[str, List[Tuple[str, str, str, str]]] = {
    # The route's destination is the Service cert-manager's HTTP-01 solver creates, which no sample holds: live,
    # without a challenge running, Istio gives IST0101 (host not found), Kiali KIA1101; MSH108 sums it up.
    "bookinfo+certmanager-gateway.yaml": [("MSH102", "IST0101", "VirtualService", "istio-system/cert-manager"),
                                          ("MSH108", "", "VirtualService", "istio-system/cert-manager")],
    # TLS origination to www.googleapis.com without caCertificates: istioctl gives IST0129 on the files already.
    "bookinfo+egress-rule-google-apis.yaml": [
        ("MSH602", "IST0129", "DestinationRule", "default/originate-tls-for-googleapis")],
    # The sample's first rule matches every request (a fault for user jason aside): istioctl gives IST0130.
    "bookinfo+fault-injection-details-v1.yaml": [("MSH303", "IST0130", "VirtualService", "default/details")],
    # virtual-service-all-v1 routes productpage by subset, the ingress route does not: live, Istio's
    # DestinationHostAnalyzer (skipped offline: it reads Services) gives IST0140 on the bookinfo VirtualService.
    "bookinfo+virtual-service-all-v1.yaml": [("MSH111", "IST0140", "VirtualService", "default/bookinfo")],
}


@pytest.fixture(scope="module")
def samples() -> Path:
    try:
        directory = localcluster.module_dir(localcluster.ISTIO_MODULE) / "samples"
    except (localcluster.ControlPlaneError, OSError, subprocess.SubprocessError) as error:
        reason = "the pinned Istio module %s could not be fetched: %s" % (localcluster.ISTIO_MODULE, error)
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    assert (directory / KUBE / "bookinfo.yaml").is_file(), directory
    return directory


@pytest.fixture(scope="module")
def istioctl() -> str:
    built = subprocess.run(["bash", str(REPO / "tools" / "istioctl" / "build.sh")], capture_output=True, text=True,
                           check=False, timeout=3600)
    if built.returncode != 0:
        reason = "istioctl could not be built from the pinned Istio module: %s" % built.stderr[-2000:]
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return built.stdout.strip()


def applied_in_order(samples: Path, files: List[str], target: Path) -> Path:
    """The objects of the files as applying them in order leaves them: a later one replaces an earlier twin."""
    objects: Dict[Tuple[str, str, str, str], dict] = {}
    for name in files:
        for document in yaml.safe_load_all((samples / name).read_text(encoding="utf-8")):
            if document:
                metadata = document.get("metadata") or {}
                identity = (document.get("apiVersion", "").partition("/")[0], document["kind"],
                            metadata.get("namespace", ""), metadata["name"])
                objects[identity] = document
    target.write_text(yaml.safe_dump_all(list(objects.values()), sort_keys=False), encoding="utf-8")
    return target


def istio_verdict(istioctl: str, manifest: Path) -> List[Tuple[str, str, str]]:
    """(code, kind, name) of every message istioctl gives on the file alone."""
    analysed = subprocess.run([istioctl, "analyze", "--use-kube=false", "-A", "-o", "json", str(manifest)],
                              capture_output=True, text=True, check=False, timeout=300)
    assert analysed.returncode in (0, 79), analysed.stderr  # 79: messages at or over the failure threshold
    messages = json.loads(analysed.stdout or "[]")
    return sorted((m["code"], m["origin"].split()[0], m["origin"].split()[1].split(".")[0]) for m in messages)


@pytest.mark.parametrize("sample", sorted(SETS))
def test_istio_sample_checked_from_files_gets_only_what_istio_and_kiali_give_live(sample, samples, istioctl,
                                                                                  tmp_path):
    manifest = applied_in_order(samples, SETS[sample], tmp_path / ("%s.yaml" % sample))
    result = run_integrity(IntegrityRequest(src=[str(manifest)]))
    assert result["summary"]["complete"], result["summary"]["incomplete_reasons"]
    ours = sorted((v["code"], v["istio_code"], v["kind"], "%s/%s" % (v["namespace"], v["name"]))
                  for v in result["violations"])
    assert ours == sorted(EXPECTED.get(sample, [])), [v["message"] for v in result["violations"]]
    # Every message istioctl gives on the same files is one of ours, on the same object.
    ours_in_istio_terms = {(istio, kind, key.split("/")[1]) for _code, istio, kind, key in ours if istio}
    assert set(istio_verdict(istioctl, manifest)) <= ours_in_istio_terms
    # The gateway Service of the samples' Gateways is Istio's default ingress gateway, not in the files: their
    # ports are counted as unverifiable, not reported.
    istio_gateways = result["summary"]["scanned"].get("Gateway", 0)
    assert (result["summary"]["unverifiable_references"] > 0) == (istio_gateways > 0)
    assert not [v for v in result["violations"] if v["code"] == "MSH403"]


def test_the_samples_gateway_ports_are_judged_once_the_gateway_service_is_named(samples, tmp_path):
    manifest = applied_in_order(samples, SETS["tcp-echo"], tmp_path / "tcp-echo.yaml")
    named = run_integrity(IntegrityRequest(src=[str(manifest)], gateway_ports=[
        {"selector": {"istio": "ingressgateway"}, "ports": [80, 443]}]))
    assert [(v["code"], v["istio_code"], v["name"], v["path"]) for v in named["violations"]] == [
        ("MSH403", "IST0162", "tcp-echo-gateway", "spec.servers[0].port.number")]
    with_port = run_integrity(IntegrityRequest(src=[str(manifest)], gateway_ports=[
        {"selector": {"istio": "ingressgateway"}, "ports": [80, 443, 31400]}]))
    assert with_port["violations"] == [] and with_port["summary"]["unverifiable_references"] == 0
