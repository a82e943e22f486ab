# -*- coding: utf-8 -*-
"""Istio messages as the pinned Istio's analyzers give them: IST0128/IST0129, IST0130, IST0132 and IST0165 checked
case by case with istioctl built from that module (`istioctl analyze --use-kube=false`); IST0167, whose analyzer
reads Pods and Namespaces (skipped offline), after that analyzer's conditions."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.engine import analyze
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import MeshModel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import FILES_DESCRIBE_ALL


def findings(text: str, codes):
    model = MeshModel()
    for index, document in enumerate(yaml.safe_load_all(text)):
        if document:
            model.add(document, "test#%d" % index)
    model.mark_scanned(FILES_DESCRIBE_ALL)
    model.assume_istio_defaults()
    return sorted((v["code"], v["istio_code"], v["name"], v["path"]) for v in analyze(model, codes=codes)["violations"])


TLS = """
kind: DestinationRule
metadata: {name: skip, namespace: default}
spec:
  host: api.example.com
  trafficPolicy:
    tls: {mode: SIMPLE, insecureSkipVerify: true}
    portLevelSettings: [{port: {number: 443}, tls: {mode: MUTUAL, credentialName: api-client}}]
---
kind: DestinationRule
metadata: {name: selected, namespace: default}
spec:
  host: b.example.com
  workloadSelector: {matchLabels: {app: client}}
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: b-ca}
    portLevelSettings:
    - {port: {number: 443}, tls: {mode: MUTUAL, credentialName: b-client}}
    - {port: {number: 8443}, tls: {mode: SIMPLE}}
---
kind: DestinationRule
metadata: {name: verified, namespace: default}
spec:
  host: c.example.com
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
    - {port: {number: 443}, tls: {mode: SIMPLE, caCertificates: /etc/ca.pem}}
    - {port: {number: 444}, tls: {mode: DISABLE}}
"""


def test_tls_without_ca_verification_follows_istios_conditions():
    # credentialName counts only with a workloadSelector; insecureSkipVerify does not silence the warning.
    assert findings(TLS, ["MSH601", "MSH602"]) == [
        ("MSH601", "IST0128", "skip", "spec.trafficPolicy.tls"),
        ("MSH602", "IST0129", "selected", "spec.trafficPolicy.portLevelSettings[1].tls"),
        ("MSH602", "IST0129", "skip", "spec.trafficPolicy.portLevelSettings[0].tls")]


ROUTES = """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [a]
  http:
  - {match: [{uri: {prefix: /a}, name: first}], route: [{destination: {host: a}}]}
  - {match: [{uri: {prefix: /a}, name: second, ignoreUriCase: false}], route: [{destination: {host: a}}]}
  - {match: [{uri: {prefix: /b}}, {uri: {prefix: /a}}], route: [{destination: {host: a}}]}
  - {route: [{destination: {host: a}}]}
  - {match: [{uri: {prefix: /c}}], route: [{destination: {host: a}}]}
  tcp:
  - {match: [{port: 80}], route: [{destination: {host: a}}]}
  - {match: [{port: 80}], route: [{destination: {host: a}}]}
  - {match: [{port: 81, sourceLabels: {app: x}}], route: [{destination: {host: a}}]}
  - {match: [{sourceLabels: {app: x}, port: 81}], route: [{destination: {host: a}}]}
"""


def test_unreachable_rules_as_istio_finds_them():
    # Names and unset or zero fields aside, matches compare as Istio serializes them; every rule after a rule
    # without match is unreachable; a rule with one new match stays reachable.
    assert [(code, path) for code, _istio, _name, path in findings(ROUTES, ["MSH303"])] == [
        ("MSH303", "spec.http[1]"), ("MSH303", "spec.http[4]"), ("MSH303", "spec.tcp[1]"), ("MSH303", "spec.tcp[3]")]
    near_miss = ROUTES.replace("ignoreUriCase: false", "ignoreUriCase: true").replace(
        "  - {route: [{destination: {host: a}}]}\n", "").replace("port: 81}", "port: 82}")
    assert [path for _code, _istio, _name, path in findings(near_miss, ["MSH303"])] == ["spec.tcp[1]"]


def namespace(labels: str) -> str:
    return "kind: Namespace\nmetadata: {name: shop, labels: %s}\n" % labels


SIDECAR = """---
kind: Sidecar
metadata: {name: %s, namespace: shop}
spec: {egress: [{hosts: ['./*']}]%s}
"""


@pytest.mark.parametrize("labels, selector, pod, reported", [
    ("{istio.io/dataplane-mode: ambient}", "", "", True),
    ("{istio.io/dataplane-mode: ambient}", ", workloadSelector: {labels: {}}", "", True),
    # Istio reads a namespace with injection or a revision as a sidecar namespace, whatever its dataplane label.
    ("{istio.io/dataplane-mode: ambient, istio-injection: enabled}", "", "", False),
    ("{istio.io/dataplane-mode: ambient, istio.io/rev: stable}", "", "", False),
    ("{istio-injection: enabled}", "", "", False),
    # Selecting Sidecars: only for workloads ambient mode captures.
    ("{istio.io/dataplane-mode: ambient}", ", workloadSelector: {labels: {app: web}}",
     "{labels: {app: web}}", True),
    ("{istio.io/dataplane-mode: ambient}", ", workloadSelector: {labels: {app: web}}",
     "{labels: {app: web, istio.io/dataplane-mode: none}}", False),
    ("{istio.io/dataplane-mode: ambient}", ", workloadSelector: {labels: {app: web}}",
     "{labels: {app: web}, annotations: {sidecar.istio.io/status: injected}}", False),
    ("{}", ", workloadSelector: {labels: {app: web}}", "{labels: {app: web, istio.io/dataplane-mode: ambient}}",
     True),
])
def test_ineffective_sidecars_only_where_istio_reports_them(labels, selector, pod, reported):
    text = namespace(labels) + SIDECAR % ("sc", selector)
    if pod:
        text += "---\nkind: Pod\nmetadata: {name: web, namespace: shop, %s}\n" % pod[1:-1]
    assert bool(findings(text, ["MSH405"])) is reported


def test_virtual_services_bound_to_gateway_api_gateways_get_the_messages_istio_gives_since_its_fix():
    text = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP, hostname: a.example.com}]}
---
kind: VirtualService
metadata: {name: by-name, namespace: default}
spec: {hosts: [a.example.com], gateways: [web], http: [{route: [{destination: {host: a.example.com}}]}]}
---
kind: VirtualService
metadata: {name: internal, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: ["web~istio-autogenerated-k8s-gateway~http"]
  http: [{route: [{destination: {host: a.example.com}}]}]
"""
    # Istio's analyzer finds the Gateway API Gateway and its listener admits the host (istio/istio#60776, fixed
    # after the pinned Istio: no IST0101, no IST0132); Kiali does not resolve it (KIA1102 alone). Istio's generated
    # internal Gateway gets IST0165 and nothing else.
    assert [(code, istio, name) for code, istio, name, _path in
            findings(text, ["MSH101", "MSH107", "MSH110", "MSH717"])] == [
        ("MSH110", "IST0165", "internal"), ("MSH717", "", "by-name")]
