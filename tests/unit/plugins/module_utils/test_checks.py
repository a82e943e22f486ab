# -*- coding: utf-8 -*-
"""Each check on its own: a fixture that violates it and the same fixture fixed."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import checks
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.engine import analyze
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import MeshModel

BASE = """
kind: Service
metadata: {name: reviews, namespace: default}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
kind: Pod
metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
---
kind: Pod
metadata: {name: gw-0, namespace: istio-system, labels: {istio: ingressgateway}}
---
kind: Service
metadata: {name: ingress, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, ports: [{name: http, port: 80}]}
---
kind: Secret
metadata: {name: cert, namespace: istio-system}
---
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]
---
kind: VirtualService
metadata: {name: edge, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]
---
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
"""

# code -> (objects that violate it, the same objects fixed); each added to BASE.
CASES = {
    "MSH101": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [a.example.com], gateways: [nope], http: [{route: [{destination: {host: reviews}}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [b.example.com], gateways: [mesh], http: [{route: [{destination: {host: reviews}}]}]}
"""),
    "MSH102": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews}, weight: 50}, {destination: {host: ghost}, weight: 50}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews}, weight: 50},
                                   {destination: {host: reviews.default.svc.cluster.local, subset: v1}, weight: 50}]}]}
"""),
    "MSH103": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews, subset: v9}}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews, subset: v1}}]}]}
"""),
    "MSH104": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews, port: {number: 1}}}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
"""),
    "MSH105": ("""
kind: Service
metadata: {name: multi, namespace: default}
spec: {ports: [{name: http, port: 80}, {name: http-b, port: 81}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [a.example.com], gateways: [istio-system/gw], http: [{route: [{destination: {host: multi}}]}]}
""", """
kind: Service
metadata: {name: multi, namespace: default}
spec: {ports: [{name: http, port: 80}, {name: http-b, port: 81}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: multi}}]}]}
"""),
    "MSH106": ("""
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec: {host: nothing}
""", """
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec: {host: "*.default.svc.cluster.local"}
"""),
    "MSH107": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [b.example.com], gateways: [istio-system/gw], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
""", """
kind: Gateway
metadata: {name: wild, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["default/*.example.org"]}]
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [b.example.org], gateways: [istio-system/wild], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
"""),
    "MSH108": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: ghost}}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{redirect: {uri: /elsewhere}}]}
"""),
    "MSH109": ("""
kind: Gateway
metadata: {name: tls, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: https, protocol: HTTPS}, hosts: [t.example.com], tls: {mode: SIMPLE, credentialName: gone}}]
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [t.example.com], gateways: [istio-system/tls], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
""", """
kind: Gateway
metadata: {name: tls, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: https, protocol: HTTPS}, hosts: [t.example.com], tls: {mode: SIMPLE, credentialName: cert}}]
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [t.example.com], gateways: [istio-system/tls], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
"""),
    "MSH201": ("""
kind: Gateway
metadata: {name: gw2, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [a.example.com], gateways: [istio-system/gw2], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
""", """
kind: Gateway
metadata: {name: gw2, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [c.example.com]}]
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [c.example.com], gateways: [istio-system/gw2], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
"""),
    "MSH202": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [a.example.com], gateways: [istio-system/gw], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [a.example.com], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
"""),
    "MSH203": ("""
kind: DestinationRule
metadata: {name: dr2, namespace: default}
spec: {host: reviews.default.svc.cluster.local, subsets: [{name: v1, labels: {version: v1}}]}
""", """
kind: DestinationRule
metadata: {name: dr2, namespace: other}
spec: {host: reviews.default.svc.cluster.local, subsets: [{name: v1, labels: {version: v1}}]}
---
kind: DestinationRule
metadata: {name: dr3, namespace: default}
spec: {host: reviews, subsets: [{name: canary, labels: {track: canary}}]}
"""),
    "MSH204": ("""
kind: ServiceEntry
metadata: {name: a, namespace: default}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
---
kind: ServiceEntry
metadata: {name: b, namespace: default}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
""", """
kind: ServiceEntry
metadata: {name: a, namespace: default}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
---
kind: ServiceEntry
metadata: {name: b, namespace: default}
spec: {hosts: [api.example.com], ports: [{number: 8443, name: https, protocol: HTTPS}]}
"""),
    "MSH205": ("""
kind: Service
metadata: {name: dup, namespace: default}
spec: {ports: [{name: http, port: 80}, {name: http, port: 81}]}
""", """
kind: Service
metadata: {name: dup, namespace: default}
spec: {ports: [{name: dns, port: 53, protocol: UDP, appProtocol: dns}, {name: dns-tcp, port: 53, appProtocol: dns}]}
"""),
    "MSH301": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews}, weight: 70}, {destination: {host: reviews, subset: v1}, weight: 20}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews}, weight: 80}, {destination: {host: reviews, subset: v1}, weight: 20}]}]}
"""),
    "MSH302": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews, subset: v1}, weight: 50},
                                   {destination: {host: reviews.default.svc.cluster.local, subset: v1}, weight: 50}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews, subset: v1}, weight: 50},
                                   {destination: {host: reviews}, weight: 50}]}]}
"""),
    "MSH303": ("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{match: [{uri: {prefix: /}}], route: [{destination: {host: reviews}}]},
                          {match: [{uri: {prefix: /api}}], route: [{destination: {host: reviews}}]}]}
""", """
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{match: [{uri: {prefix: /api}}], route: [{destination: {host: reviews}}]},
                          {route: [{destination: {host: reviews}}]}]}
"""),
    "MSH401": ("""
kind: Gateway
metadata: {name: gw2, namespace: istio-system}
spec: {selector: {istio: missing}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [z.example.com]}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [z.example.com], gateways: [istio-system/gw2], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
""", """
kind: Deployment
metadata: {name: other-gw, namespace: gateways}
spec: {template: {metadata: {labels: {istio: other}}}}
---
kind: Service
metadata: {name: other-gw, namespace: gateways}
spec: {selector: {istio: other}, ports: [{name: http, port: 80}]}
---
kind: Gateway
metadata: {name: gw2, namespace: istio-system}
spec: {selector: {istio: other}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [z.example.com]}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [z.example.com], gateways: [istio-system/gw2], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
"""),
    "MSH402": ("""
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
""", """
kind: Pod
metadata: {name: reviews-v2, namespace: default, labels: {app: reviews, version: v2}}
---
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
"""),
    "MSH403": ("""
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8443, name: http, protocol: HTTP}, hosts: [a.example.com]}]
""", """
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]
"""),
    "MSH501": ("""
kind: Gateway
metadata: {name: unused, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [u.example.com]}]}
""", """
kind: Gateway
metadata: {name: unused, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [u.example.com]}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [u.example.com]
  http: [{match: [{gateways: [istio-system/unused]}], route: [{destination: {host: reviews, port: {number: 9080}}}]}]
"""),
    "MSH502": ("""
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: web, port: 80}]}
""", """
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: web, port: 80, appProtocol: http}]}
"""),
}


def run(extra: str):
    """Analyse BASE with ``extra`` added; an extra object replaces a BASE object of the same identity."""
    documents = [d for d in yaml.safe_load_all(BASE) if d]
    for document in yaml.safe_load_all(extra):
        if document:
            identity = "%s/%s/%s" % (document["kind"], document["metadata"]["namespace"], document["metadata"]["name"])
            documents = [d for d in documents
                         if "%s/%s/%s" % (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) != identity]
            documents.append(document)
    model = MeshModel()
    for index, document in enumerate(documents):
        model.add(document, "test#%d" % index)
    return analyze(model)


def codes(result):
    return {v["code"] for v in result["violations"]}


def test_base_is_clean():
    result = run("")
    assert result["violations"] == [], [v["message"] for v in result["violations"]]
    assert result["summary"]["consistent"] is True


def test_every_catalogue_code_has_a_case():
    assert set(CASES) == {check.code for check in checks.CATALOGUE}


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_fires_on_violation(code):
    failing = CASES[code][0]
    result = run(failing)
    found = [v for v in result["violations"] if v["code"] == code]
    assert found, "%s not reported; got %s" % (code, [v["message"] for v in result["violations"]])
    for violation in found:
        assert violation["message"].startswith("%s %s/%s: " % (violation["kind"], violation["namespace"], violation["name"]))
        assert violation["path"] in violation["message"]
        assert violation["severity"] in ("error", "warning", "info")


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_silent_when_fixed(code):
    passing = CASES[code][1]
    result = run(passing)
    assert code not in codes(result), [v["message"] for v in result["violations"] if v["code"] == code]


def test_severity_and_codes_follow_the_catalogue():
    by_code = checks.BY_CODE
    assert by_code["MSH101"].istio_code == "IST0101" and by_code["MSH101"].kiali_code == "KIA1102"
    assert by_code["MSH106"].severity == checks.WARNING
    assert by_code["MSH501"].severity == checks.INFO
    assert by_code["MSH202"].istio_code == "IST0109"


def test_service_entry_protocol_clash_is_an_error():
    result = run("""
kind: ServiceEntry
metadata: {name: a, namespace: default}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}]}
---
kind: ServiceEntry
metadata: {name: b, namespace: default}
spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}]}
""")
    [violation] = [v for v in result["violations"] if v["code"] == "MSH204"]
    assert violation["severity"] == "error"
    assert violation["name"] == "b" and violation["related"][0]["name"] == "a"


def test_subset_used_by_a_route_without_workload_is_an_error():
    result = run("""
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews, subset: v2}}]}]}
""")
    [violation] = [v for v in result["violations"] if v["code"] == "MSH402"]
    assert violation["severity"] == "error"


def test_near_host_hint_and_export_hint():
    result = run("""
kind: Service
metadata: {name: hidden, namespace: private, annotations: {networking.istio.io/exportTo: "."}}
spec: {ports: [{name: http, port: 80}]}
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], http: [{route: [{destination: {host: reviews.default}, weight: 50},
                                   {destination: {host: hidden.private.svc.cluster.local}, weight: 50}]}]}
""")
    messages = [v["message"] for v in result["violations"] if v["code"] == "MSH102"]
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
    missing = [v["target"] for v in result["violations"] if v["code"] == "MSH102"]
    assert missing == ["badexample.net"]


def test_gateway_server_namespace_scope_rejects_other_namespaces():
    result = run("""
kind: Gateway
metadata: {name: scoped, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["team-a/s.example.com"]}]
---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [s.example.com], gateways: [istio-system/scoped], http: [{route: [{destination: {host: reviews, port: {number: 9080}}}]}]}
""")
    assert "MSH107" in codes(result)


def test_label_selector_scopes_reported_objects_only():
    model = MeshModel(scope=lambda kind, namespace, labels: labels.get("team") == "a")
    for index, document in enumerate(yaml.safe_load_all("""
kind: VirtualService
metadata: {name: mine, namespace: default, labels: {team: a}}
spec: {hosts: [x], http: [{route: [{destination: {host: ghost}}]}]}
---
kind: VirtualService
metadata: {name: theirs, namespace: default, labels: {team: b}}
spec: {hosts: [y], http: [{route: [{destination: {host: ghost}}]}]}
""")):
        model.add(document, "t#%d" % index)
    result = analyze(model)
    assert {v["name"] for v in result["violations"]} == {"mine"}


def test_targets_outside_scanned_namespaces_are_unverifiable_not_missing():
    model = MeshModel()
    model.add(yaml.safe_load("""
kind: VirtualService
metadata: {name: vs, namespace: default}
spec: {hosts: [x], gateways: [istio-system/gw], http: [{route: [{destination: {host: reviews}}]}]}
"""), "t")
    model.add(yaml.safe_load("""
kind: Service
metadata: {name: reviews, namespace: default}
spec: {ports: [{name: http, port: 80}]}
"""), "t")
    result = analyze(model, scanned_namespaces=["default"])
    assert "MSH101" not in codes(result)
    assert result["summary"]["unverifiable_references"] == 1
