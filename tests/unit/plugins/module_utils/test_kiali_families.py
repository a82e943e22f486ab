# -*- coding: utf-8 -*-
"""Kiali's verdicts family by family, object by object: which object gets which KIA code, on which field, with
which other parties named (our own manifests, written from Kiali's and Istio's documented rules)."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, run_integrity
from ansible_collections.meshops.istio_integrity.tests.unit.plugins.module_utils.test_checks import found, run


def kiali(result, *codes):
    """(namespace/name, path, Kiali code) of every finding of the checks."""
    return sorted(("%s/%s" % (v["namespace"], v["name"]), v["path"], v["kiali_code"])
                  for code in codes for v in found(result, code))


def related(result, code, name):
    return sorted("%s/%s" % (r["namespace"], r["name"]) for v in found(result, code) if v["name"] == name
                  for r in v["related"])


# -- ServiceEntry: the same host and port (KIA1211), conflicting protocols (KIA1212) ---------------

def entry(name, namespace="default", hosts=("api.example.com",), ports=((443, "HTTPS"),), extra=""):
    port_list = ", ".join("{number: %d, name: p%d, protocol: %s}" % (n, n, p) for n, p in ports)
    return """
---
kind: ServiceEntry
metadata: {name: %s, namespace: %s}
spec: {hosts: [%s], ports: [%s], resolution: DNS%s}
""" % (name, namespace, ", ".join(hosts), port_list, extra)


def test_same_host_and_port_with_the_same_protocol_is_kia1211_on_every_party():
    result = run(entry("se1") + entry("se2") + entry("se3", ports=((443, "https"),)))
    assert kiali(result, "MSH204") == [("default/se1", "spec.ports[0]", "KIA1211"),
                                       ("default/se2", "spec.ports[0]", "KIA1211"),
                                       ("default/se3", "spec.ports[0]", "KIA1211")]
    assert related(result, "MSH204", "se1") == ["default/se2", "default/se3"]
    assert {(v["severity"], v["istio_code"]) for v in found(result, "MSH204")} == {("warning", "")}


def test_one_different_protocol_makes_every_party_kia1212():
    result = run(entry("se1") + entry("se2") + entry("se3", ports=((443, "HTTP"),)))
    assert [code for _party, _path, code in kiali(result, "MSH204")] == ["KIA1212"] * 3
    assert {v["istio_code"] for v in found(result, "MSH204")} == {"IST0177"}


def test_the_clash_sits_on_the_port_that_clashes_across_namespaces_and_exports():
    # Kiali compares every ServiceEntry of the mesh and reads no exportTo; Istio's IST0177 needs a common namespace.
    result = run(entry("se1", "ns1", ports=((80, "HTTP"), (443, "HTTPS")), extra=", exportTo: [.]")
                 + entry("se2", "ns2", ports=((443, "TLS"),), extra=", exportTo: [.]"))
    assert kiali(result, "MSH204") == [("ns1/se1", "spec.ports[1]", "KIA1212"),
                                       ("ns2/se2", "spec.ports[0]", "KIA1212")]
    assert {(v["istio_code"], v["severity"]) for v in found(result, "MSH204")} == {("", "warning")}
    assert related(result, "MSH204", "se1") == ["ns2/se2"]


def test_one_shared_host_of_several_is_enough():
    result = run(entry("se1", hosts=("api.example.com", "other.example.com"))
                 + entry("se2", ports=((443, "HTTP"),)))
    assert kiali(result, "MSH204") == [("default/se1", "spec.ports[0]", "KIA1212"),
                                       ("default/se2", "spec.ports[0]", "KIA1212")]


@pytest.mark.parametrize("second", [
    entry("se2", ports=((8443, "HTTPS"),)),             # another port
    entry("se2", hosts=("other.example.com",)),         # another host
    entry("se2", hosts=("'*.example.com'",)),             # a wildcard is a host of its own
    entry("se2", "ns2", hosts=("api",)),                # short hosts: Services of different namespaces
])
def test_near_misses_of_a_service_entry_clash(second):
    first = entry("se1", "ns1", hosts=("api",)) if "[api]" in second else entry("se1")
    assert not found(run(first + second), "MSH204")


# -- DestinationRule mTLS (KIA0204 to KIA0208) with PeerAuthentications and the mesh configuration -------------

def rule(name, namespace, host, tls=None, extra=""):
    policy = "{tls: {mode: %s}%s}" % (tls, extra) if tls else ("{%s}" % extra.lstrip(", ") if extra else "")
    return """
---
kind: DestinationRule
metadata: {name: %s, namespace: %s}
spec: {host: "%s"%s}
""" % (name, namespace, host, ", trafficPolicy: %s" % policy if policy else "")


def peer(namespace, mode=None, name="default", selector=None, port_mode=None):
    spec = {}
    if mode:
        spec["mtls"] = "{mode: %s}" % mode
    if selector:
        spec["selector"] = "{matchLabels: {app: %s}}" % selector
    if port_mode:
        spec["portLevelMtls"] = "{8080: {mode: %s}}" % port_mode
    return """
---
kind: PeerAuthentication
metadata: {name: %s, namespace: %s}
spec: {%s}
""" % (name, namespace, ", ".join("%s: %s" % item for item in spec.items()))


MESH_MTLS = rule("default", "istio-system", "*.local", "ISTIO_MUTUAL")
AUTO_MTLS_OFF = """
---
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data: {mesh: "enableAutoMtls: false"}
"""


MTLS_CODES = ("MSH605", "MSH606", "MSH607", "MSH608", "MSH609")


@pytest.mark.parametrize("subject", [
    rule("reviews", "bookinfo", "reviews"),                                   # no traffic policy at all
    rule("reviews", "bookinfo", "reviews", extra=", loadBalancer: {simple: LEAST_REQUEST}"),
    rule("api", "bookinfo", "api.example.com"),                               # Kiali: *.local covers every rule
])
def test_a_rule_without_tls_under_the_mesh_wide_mtls_rule_is_kia0204(subject):
    result = run(MESH_MTLS + peer("istio-system", "STRICT") + subject)
    [finding] = found(result, "MSH605")
    assert (finding["path"], finding["kiali_code"], finding["severity"]) == ("spec.trafficPolicy", "KIA0204", "warning")
    assert related(result, "MSH605", finding["name"]) == ["istio-system/default"]


def test_kia0204_names_the_namespace_wide_and_same_host_rules_that_enable_mtls():
    result = run(rule("ns-mtls", "bookinfo", "*.bookinfo.svc.cluster.local", "ISTIO_MUTUAL")
                 + rule("reviews-mtls", "other", "reviews.bookinfo.svc.cluster.local", "ISTIO_MUTUAL")
                 + rule("reviews", "bookinfo", "reviews", extra=", connectionPool: {tcp: {maxConnections: 1}}"))
    assert kiali(result, "MSH605") == [("bookinfo/reviews", "spec.trafficPolicy", "KIA0204")]
    assert related(result, "MSH605", "reviews") == ["bookinfo/ns-mtls", "other/reviews-mtls"]


@pytest.mark.parametrize("subject", [
    rule("reviews", "bookinfo", "reviews", "ISTIO_MUTUAL"),                      # TLS of its own
    rule("reviews", "bookinfo", "reviews", extra="portLevelSettings: [{port: {number: 9080}, tls: {mode: SIMPLE}}]"),
    rule("reviews", "other", "reviews.other.svc.cluster.local"),                # another namespace's host
    rule("wiki", "other", "wikipedia.org"),                                      # an external host, other namespace
])
def test_near_misses_of_kia0204_under_a_namespace_wide_rule(subject):
    result = run(rule("ns-mtls", "bookinfo", "*.bookinfo.svc.cluster.local", "ISTIO_MUTUAL") + subject)
    assert not found(result, "MSH605")


def test_a_rule_without_tls_is_fine_when_no_rule_enables_istio_mutual():
    assert not found(run(rule("mesh", "istio-system", "*.local", "SIMPLE") + rule("reviews", "bookinfo", "reviews")),
                     "MSH605")


@pytest.mark.parametrize("policies, expected", [
    ("", "KIA0205"),                                                     # no mesh-wide PeerAuthentication
    (peer("istio-system", "DISABLE"), "KIA0205"),
    (peer("istio-system"), "KIA0205"),                                    # UNSET enables nothing
    (peer("istio-system", "STRICT", selector="gateway"), "KIA0205"),     # a workload policy is not mesh-wide
    (peer("bookinfo", "STRICT"), "KIA0205"),                              # a namespace's is not mesh-wide
    (peer("istio-system", "STRICT"), None),
    (peer("istio-system", "PERMISSIVE"), None),
])
def test_mesh_wide_istio_mutual_needs_a_mesh_wide_peer_authentication(policies, expected):
    result = run(MESH_MTLS + policies)
    assert kiali(result, *MTLS_CODES) == (
        [("istio-system/default", "spec.trafficPolicy.tls.mode", expected)] if expected else [])


def test_the_mesh_wide_rule_is_star_dot_local_only():
    assert not found(run(rule("default", "istio-system", "*.cluster.local", "ISTIO_MUTUAL")), "MSH606")


NS_MTLS = rule("default", "bookinfo", "*.bookinfo.svc.cluster.local", "ISTIO_MUTUAL")


@pytest.mark.parametrize("policies, expected", [
    (AUTO_MTLS_OFF, "KIA0206"),
    (AUTO_MTLS_OFF + peer("bookinfo", "DISABLE"), "KIA0206"),
    (AUTO_MTLS_OFF + peer("bookinfo", "STRICT", selector="reviews"), "KIA0206"),
    (AUTO_MTLS_OFF + peer("bookinfo", "PERMISSIVE"), None),
    (AUTO_MTLS_OFF + peer("istio-system", "STRICT"), None),               # the mesh's enables it
    ("", None),                                                           # auto mTLS: Istio's default
    (peer("bookinfo", "DISABLE"), None),
])
def test_namespace_wide_istio_mutual_needs_a_peer_authentication_unless_auto_mtls(policies, expected):
    result = run(NS_MTLS + policies)
    assert kiali(result, *MTLS_CODES) == (
        [("bookinfo/default", "spec.trafficPolicy.tls.mode", expected)] if expected else [])


NS_PLAIN = rule("default", "bookinfo", "*.bookinfo.svc.cluster.local", "DISABLE")


@pytest.mark.parametrize("policies, expected", [
    (peer("bookinfo", "STRICT"), "KIA0207"),
    (peer("bookinfo", "PERMISSIVE"), None),
    (peer("bookinfo", "PERMISSIVE") + peer("istio-system", "STRICT"), None),   # the namespace decides
    (peer("bookinfo", "DISABLE") + peer("istio-system", "STRICT"), None),
    (peer("istio-system", "STRICT"), "KIA0208"),                               # falls back to the mesh's
    (peer("bookinfo") + peer("istio-system", "STRICT"), "KIA0208"),            # UNSET decides nothing
    (peer("bookinfo", "STRICT", selector="reviews"), None),                    # a workload's does not count
    (peer("bookinfo", "PERMISSIVE", port_mode="STRICT"), None),                # nor port-level modes
    (peer("istio-system", "PERMISSIVE"), None),
])
def test_namespace_wide_disable_against_strict_peer_authentications(policies, expected):
    result = run(NS_PLAIN + policies)
    assert kiali(result, *MTLS_CODES) == (
        [("bookinfo/default", "spec.trafficPolicy.tls.mode", expected)] if expected else [])


@pytest.mark.parametrize("policies, expected", [
    (peer("istio-system", "STRICT"), "KIA0208"),
    (peer("istio-system", "PERMISSIVE"), None),
    (peer("bookinfo", "STRICT"), None),
])
def test_mesh_wide_disable_against_the_mesh_wide_peer_authentication(policies, expected):
    result = run(rule("default", "istio-system", "*.local", "DISABLE") + policies)
    assert kiali(result, *MTLS_CODES) == (
        [("istio-system/default", "spec.trafficPolicy.tls.mode", expected)] if expected else [])


def test_the_mesh_configs_root_namespace_holds_the_mesh_wide_peer_authentication():
    root = """
---
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    rootNamespace: mesh-root
    enableAutoMtls: true
"""
    moved = run(MESH_MTLS + peer("mesh-root", "STRICT") + root)
    assert not found(moved, "MSH606")
    assert moved["summary"]["mesh_config"] == {"source": "test#2", "enable_auto_mtls": True,
                                               "root_namespace": "mesh-root"}
    assert kiali(run(MESH_MTLS + peer("istio-system", "STRICT") + root), "MSH606") == [
        ("istio-system/default", "spec.trafficPolicy.tls.mode", "KIA0205")]


def test_a_config_map_named_istio_elsewhere_is_not_the_mesh_configuration():
    elsewhere = AUTO_MTLS_OFF.replace("namespace: istio-system", "namespace: bookinfo")
    result = run(NS_MTLS + elsewhere)
    assert not found(result, "MSH607")
    assert result["summary"]["mesh_config"]["source"] == "(Istio's defaults)"


def files_run(tmp_path, text):
    (tmp_path / "mesh.yaml").write_text(text)
    return run_integrity(IntegrityRequest(src=[str(tmp_path)]))


def test_a_mesh_config_document_in_the_files_is_the_mesh_configuration(tmp_path):
    result = files_run(tmp_path, "enableAutoMtls: false\nrootNamespace: istio-config\n---" + NS_MTLS)
    assert kiali(result, "MSH607") == [("bookinfo/default", "spec.trafficPolicy.tls.mode", "KIA0206")]
    assert result["summary"]["mesh_config"]["root_namespace"] == "istio-config"
    assert not result["skipped"]


@pytest.mark.parametrize("text, reason", [
    ("enableAutoMtls: sometimes\n", "enableAutoMtls must be true or false"),
    (AUTO_MTLS_OFF.replace('"enableAutoMtls: false"', '"[unclosed"'), "data.mesh is not YAML"),
    (AUTO_MTLS_OFF.replace('"enableAutoMtls: false"', '"rootNamespace: [a]"'), "rootNamespace must be a namespace"),
])
def test_a_bad_mesh_configuration_is_skipped_naming_the_field(tmp_path, text, reason):
    result = files_run(tmp_path, text + "---" + NS_MTLS)
    assert [entry["reason"] for entry in result["skipped"] if reason in entry["reason"]], result["skipped"]
    assert result["summary"]["mesh_config"]["enable_auto_mtls"] is True


def test_a_kind_less_document_that_is_no_mesh_config_is_still_skipped(tmp_path):
    result = files_run(tmp_path, "hosts: [a]\n")
    assert [entry["reason"] for entry in result["skipped"]] == ["document has no kind"]


# -- Sidecar egress hosts (KIA1004) ---------------------------------------------------------------------------

EGRESS_MESH = """
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec: {ports: [{name: http, port: 9080}]}
---
kind: Service
metadata: {name: internal, namespace: hidden, annotations: {networking.istio.io/exportTo: "."}}
spec: {ports: [{name: http, port: 80}]}
---
kind: ServiceEntry
metadata: {name: wiki, namespace: egress, }
spec: {hosts: ["*.wikipedia.org"], exportTo: [.], ports: [{number: 443, name: https, protocol: HTTPS}], resolution: DNS}
---
kind: ServiceEntry
metadata: {name: api, namespace: egress}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}], resolution: DNS}
"""


def egress(*hosts, namespace="bookinfo"):
    return run(EGRESS_MESH + """
---
kind: Sidecar
metadata: {name: default, namespace: %s}
spec: {egress: [{hosts: [%s]}]}
""" % (namespace, ", ".join('"%s"' % host for host in hosts)))


@pytest.mark.parametrize("host", [
    "./*", "~/*", "*/*", "istio-system/*", "nowhere/*",                    # every namespace-wide form
    "*/*.example.com", "./*.bookinfo.svc.cluster.local",                    # wildcard names: Istio imports a pattern
    "*/*.other.svc.cluster.local",                                          # (Kiali reports this one; Istio does not)
    "bookinfo/reviews.bookinfo.svc.cluster.local", "./reviews", "*/reviews.bookinfo.svc.cluster.local",
    "~/reviews.bookinfo.svc.cluster.local",
    "*/api.example.com", "egress/api.example.com",                         # a ServiceEntry of any namespace
    "*/en.wikipedia.org",                                                   # under a ServiceEntry's wildcard
    "*/istio-ingressgateway.istio-system.svc.cluster.local",               # Istio's gateway, assumed offline
])
def test_egress_hosts_istio_imports_are_not_reported(host):
    assert not found(egress(host), "MSH112")


@pytest.mark.parametrize("host", [
    "bookinfo/ratings.bookinfo.svc.cluster.local",                         # no such Service
    "*/ratings.bookinfo.svc.cluster.local", "~/ratings.bookinfo.svc.cluster.local", "./ratings",
    "*/reviews",                                                            # short: the Sidecar's namespace
    "*/internal.hidden.svc.cluster.local",                                  # not exported to the Sidecar
    "*/api.example.org",
])
def test_egress_hosts_of_nothing_are_kia1004_on_the_host(host):
    result = egress(host, namespace="bookinfo" if host != "*/reviews" else "default")
    assert kiali(result, "MSH112") == [(
        "%s/default" % ("bookinfo" if host != "*/reviews" else "default"), "spec.egress[0].hosts[0]", "KIA1004")]


def test_each_egress_host_is_its_own_finding():
    result = egress("./*", "*/ratings.bookinfo.svc.cluster.local", "*/nope.example.com")
    assert [path for _party, path, _code in kiali(result, "MSH112")] == [
        "spec.egress[0].hosts[1]", "spec.egress[0].hosts[2]"]


# -- VirtualService host claims (KIA1106, IST0109) ------------------------------------------------------------

def virtual_service(name, namespace, hosts, gateways=None, export=None):
    fields = ["hosts: [%s]" % ", ".join('"%s"' % host for host in hosts)]
    if gateways is not None:
        fields.append("gateways: [%s]" % ", ".join(gateways))
    if export is not None:
        fields.append("exportTo: [%s]" % ", ".join('"%s"' % e for e in export))
    return """
---
kind: VirtualService
metadata: {name: %s, namespace: %s}
spec: {%s, http: [{route: [{destination: {host: reviews.bookinfo.svc.cluster.local}}]}]}
""" % (name, namespace, ", ".join(fields))


def claims(*services):
    result = run("".join(services))
    return {"%s/%s" % (v["namespace"], v["name"]): (v["kiali_code"], v["istio_code"]) for v in found(result, "MSH202")}


@pytest.mark.parametrize("first, second", [
    (("bookinfo", "reviews"), ("bookinfo", "reviews")),                                  # short, short
    (("bookinfo", "reviews"), ("other", "reviews.bookinfo.svc.cluster.local")),          # short, FQDN
    (("bookinfo", "reviews"), ("other", "reviews.bookinfo")),                            # name.namespace
    (("bookinfo", "*.bookinfo.svc.cluster.local"), ("other", "reviews.bookinfo.svc.cluster.local")),
    (("other", "*.bookinfo.svc.cluster.local"), ("bookinfo", "ratings")),                 # the namespace's wildcard
    (("bookinfo", "*"), ("bookinfo", "ratings")),                                        # '*': its own namespace
    (("a", "shop.example.com"), ("b", "shop.example.com")),                              # external, any namespace
])
def test_mesh_host_claims_in_every_host_form_are_kia1106_on_both_parties(first, second):
    found_claims = claims(virtual_service("one", first[0], [first[1]]), virtual_service("two", second[0], [second[1]]))
    assert set(found_claims) == {"%s/one" % first[0], "%s/two" % second[0]}
    assert {kiali for kiali, _istio in found_claims.values()} == {"KIA1106"}
    exact = first[1] == second[1] or {first[1], second[1]} <= {"reviews", "reviews.bookinfo.svc.cluster.local"}
    assert {istio for _kiali, istio in found_claims.values()} == ({"IST0109"} if exact else {""})


@pytest.mark.parametrize("first, second", [
    (("bookinfo", "reviews"), ("other", "reviews")),                                     # two Services
    (("bookinfo", "*"), ("other", "ratings")),                                           # '*' of another namespace
    (("bookinfo", "*"), ("bookinfo", "shop.example.com")),                               # '*' is Services only
    (("bookinfo", "*.example.com"), ("bookinfo", "shop.example.com")),                   # Kiali: written alike only
    (("bookinfo", "*.bookinfo.svc.cluster.local"), ("bookinfo", "ratings.other.svc.cluster.local")),
    (("bookinfo", "reviews.nowhere"), ("other", "reviews.nowhere.svc.cluster.local")),   # nowhere: no namespace
])
def test_near_misses_of_host_claims(first, second):
    assert not claims(virtual_service("one", first[0], [first[1]]), virtual_service("two", second[0], [second[1]]))


def test_a_wildcard_claim_names_every_party_and_the_others_name_it():
    result = run(virtual_service("all", "bookinfo", ["*"]) + virtual_service("reviews", "bookinfo", ["reviews"])
                 + virtual_service("ratings", "bookinfo", ["ratings"]))
    assert related(result, "MSH202", "all") == ["bookinfo/ratings", "bookinfo/reviews"]
    assert related(result, "MSH202", "reviews") == ["bookinfo/all"]
    assert related(result, "MSH202", "ratings") == ["bookinfo/all"]


def test_claims_on_gateways_compare_the_gateway_as_resolved():
    same = claims(virtual_service("one", "istio-system", ["shop.example.com"], ["gw"]),
                  virtual_service("two", "shop", ["shop.example.com"], ["istio-system/gw"]))
    assert same == {"istio-system/one": ("KIA1106", ""), "shop/two": ("KIA1106", "")}
    # The same short name in two namespaces is two Gateways (Kiali compares the text and reports these).
    assert not claims(virtual_service("one", "a", ["shop.example.com"], ["gw"]),
                      virtual_service("two", "b", ["shop.example.com"], ["gw"]))
    assert not claims(virtual_service("one", "a", ["shop.example.com"], ["istio-system/gw"]),
                      virtual_service("two", "b", ["shop.example.com"]))


@pytest.mark.parametrize("exports, conflict", [
    ((None, None), True),
    ((["."], ["."]), False),                      # each only in its own namespace: no common one
    ((["."], None), True),                        # a's namespace sees both
    ((["b"], ["."]), True),                       # b sees both
    ((["c"], ["d"]), False),
    ((["*"], ["c"]), True),
])
def test_claims_need_a_namespace_that_sees_both_parties(exports, conflict):
    found_claims = claims(virtual_service("one", "a", ["shop.example.com"], ["istio-system/gw"], exports[0]),
                          virtual_service("two", "b", ["shop.example.com"], ["istio-system/gw"], exports[1]))
    assert bool(found_claims) is conflict


# -- Gateway API: cross-namespace backends and ReferenceGrants (KIA1402), GatewayClasses (KIA1504) ---------------

def gateway_api(route_kind="HTTPRoute", backend="{name: reviews, namespace: data, port: 9080}", grants=""):
    return """
kind: Service
metadata: {name: reviews, namespace: data}
spec: {ports: [{name: http, port: 9080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: %s
metadata: {name: front, namespace: shop}
spec: {parentRefs: [{name: web}], rules: [{backendRefs: [%s]}]}
""" % (route_kind, backend) + grants


def reference_grant(from_kind="HTTPRoute", from_namespace="shop", to_kind="Service", to_name=None, namespace="data",
                    extra_from=""):
    to_name_field = ", name: %s" % to_name if to_name else ""
    return """
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: grant-%s-%s, namespace: %s}
spec:
  from: [%s{group: gateway.networking.k8s.io, kind: %s, namespace: %s}]
  to: [{group: '', kind: %s%s}]
""" % (from_kind.lower(), to_name or "any", namespace, extra_from, from_kind, from_namespace, to_kind, to_name_field)


@pytest.mark.parametrize("route_kind", ["HTTPRoute", "GRPCRoute"])
@pytest.mark.parametrize("grants", [
    "",                                                                   # no grant at all
    reference_grant(from_kind="TCPRoute"),                                # for another kind of route
    reference_grant(from_namespace="elsewhere"),                          # for another namespace
    reference_grant(to_name="ratings"),                                   # for another Service
    reference_grant(to_kind="Secret"),                                    # to another kind
    reference_grant(namespace="shop"),                                    # in the route's namespace, not the target's
])
def test_cross_namespace_backends_without_a_matching_grant_are_kia1402(route_kind, grants):
    if "kind: HTTPRoute" in grants and route_kind == "GRPCRoute":
        grants = grants.replace("kind: HTTPRoute", "kind: GRPCRoute").replace("grant-httproute", "grant-grpcroute")
    result = run(gateway_api(route_kind, grants=grants))
    assert kiali(result, "MSH707") == [("shop/front", "spec.rules[0].backendRefs[0]", "KIA1402")]


@pytest.mark.parametrize("route_kind, grants", [
    ("HTTPRoute", reference_grant()),
    ("HTTPRoute", reference_grant(to_name="reviews")),
    ("GRPCRoute", reference_grant(from_kind="GRPCRoute")),
    # The second `from` entry permits too (Kiali reads only the first).
    ("HTTPRoute", reference_grant(extra_from="{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: x}, ")),
])
def test_a_matching_grant_permits_the_backend(route_kind, grants):
    result = run(gateway_api(route_kind, grants=grants))
    assert not found(result, "MSH707") and not found(result, "MSH704")


def test_a_same_namespace_backend_needs_no_grant():
    assert not found(run(gateway_api(backend="{name: reviews, port: 9080}").replace("namespace: data", "namespace: shop")),
                     "MSH707")


def test_tcp_routes_are_reported_without_kiali_code():
    result = run(gateway_api("TCPRoute"))
    assert kiali(result, "MSH707") == [("shop/front", "spec.rules[0].backendRefs[0]", "")]


@pytest.mark.parametrize("class_name, classes, reported", [
    ("istio", "", False),                       # istiod's own classes exist offline
    ("istio-waypoint", "", False),
    ("envoy", "", True),
    ("envoy", "\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: envoy}\n"
              "spec: {controllerName: example.com/gateway}\n", False),
])
def test_a_gateway_of_a_class_that_does_not_exist_is_kia1504(class_name, classes, reported):
    result = run(gateway_api().replace("gatewayClassName: istio", "gatewayClassName: %s" % class_name) + classes)
    assert kiali(result, "MSH712") == ([("shop/web", "spec.gatewayClassName", "KIA1504")] if reported else [])


# -- Workload selectors (KIA0004) and port protocols (KIA0601, KIA0602) -------------------------------------

WORKLOADS_MESH = """
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: {metadata: {labels: {app: web, version: v1}}, spec: {containers: [{name: web, image: web}]}}}
"""


def policy(kind, namespace="shop", labels="{app: web}", extra=""):
    return """
---
apiVersion: security.istio.io/v1
kind: %s
metadata: {name: p, namespace: %s}
spec: {selector: {matchLabels: %s}%s}
""" % (kind, namespace, labels, extra)


@pytest.mark.parametrize("kind", ["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"])
@pytest.mark.parametrize("namespace, labels, reported", [
    ("shop", "{app: web}", False),
    ("shop", "{app: web, version: v1}", False),
    ("shop", "{app: web, version: v2}", True),                   # every label must match
    ("other", "{app: web}", True),                               # workloads of its own namespace only
    ("istio-system", "{app: web}", False),                       # the root namespace's reach every namespace
])
def test_a_policy_selecting_no_workload_is_kia0004(kind, namespace, labels, reported):
    result = run(WORKLOADS_MESH + policy(kind, namespace, labels))
    assert kiali(result, "MSH408") == (
        [("%s/p" % namespace, "spec.selector.matchLabels", "KIA0004")] if reported else [])


def test_a_policy_with_a_target_ref_is_not_judged_by_its_selector():
    target = ", targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: web}]"
    assert not found(run(WORKLOADS_MESH + policy("AuthorizationPolicy", labels="{app: api}", extra=target)), "MSH408")


def service_port(port):
    return WORKLOADS_MESH.replace("{app: web, version: v1}", "{app: web, version: v1}, annotations: "
                                  "{sidecar.istio.io/status: injected}") + """
---
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [%s]}
""" % port


@pytest.mark.parametrize("port, expected", [
    ("{name: web, port: 80}", [("spec.ports[0].name", "KIA0601", "IST0118")]),
    ("{name: web, port: 80, appProtocol: mysql-wrong}", [("spec.ports[0].appProtocol", "KIA0602", "")]),
    ("{name: http, port: 80, appProtocol: kubernetes.io/h2c}", [("spec.ports[0].appProtocol", "KIA0602", "")]),
    ("{name: web, port: 80, appProtocol: webby}", [("spec.ports[0].appProtocol", "KIA0602", "IST0118")]),
    ("{name: web, port: 80, appProtocol: HTTP}", []),
    ("{name: http-web, port: 80}", []),
    ("{name: web, port: 53, protocol: UDP}", []),
])
def test_service_port_protocols_as_kiali_and_istio_read_them(port, expected):
    result = run(service_port(port))
    assert [(v["path"], v["kiali_code"], v["istio_code"]) for v in found(result, "MSH502")] == expected


@pytest.mark.parametrize("policy_field, reported", [
    ("outboundTrafficPolicy: {}, ", True),
    ("outboundTrafficPolicy: {mode: REGISTRY_ONLY}, ", True),      # the proto default: Kiali cannot tell them apart
    ("outboundTrafficPolicy: {mode: ALLOW_ANY}, ", False),
    ("", False),
])
def test_an_ambiguous_outbound_traffic_policy_is_kia1007(policy_field, reported):
    result = run("""
kind: Sidecar
metadata: {name: default, namespace: shop}
spec: {%segress: [{hosts: ["./*"]}]}
""" % policy_field)
    assert kiali(result, "MSH510") == ([("shop/default", "spec.outboundTrafficPolicy", "KIA1007")] if reported else [])


def test_a_gateway_selector_matching_no_workload_is_kia0302_and_any_namespace_counts():
    deployment = WORKLOADS_MESH.replace("{app: web, version: v1}", "{istio: edge}")
    gateway = """
---
kind: Gateway
metadata: {name: gw, namespace: %s}
spec: {selector: {istio: %s}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]}
"""
    assert kiali(run(deployment + gateway % ("edge", "missing")), "MSH401") == [("edge/gw", "spec.selector", "KIA0302")]
    assert not found(run(deployment + gateway % ("other", "edge")), "MSH401")


def test_a_sidecar_selector_matching_no_workload_of_its_namespace_is_kia0004():
    sidecar = """
---
kind: Sidecar
metadata: {name: web, namespace: %s}
spec: {workloadSelector: {labels: {app: web}}, egress: [{hosts: ["./*"]}]}
"""
    assert kiali(run(WORKLOADS_MESH + sidecar % "other"), "MSH404") == [
        ("other/web", "spec.workloadSelector.labels", "KIA0004")]
    assert not found(run(WORKLOADS_MESH + sidecar % "shop"), "MSH404")


def test_tls_without_a_mode_is_disable_as_istio_and_kiali_read_it():
    # The mode's default is DISABLE: a namespace-wide rule with an empty tls disables mutual TLS (KIA0207) ...
    plain = """
---
kind: DestinationRule
metadata: {name: default, namespace: bookinfo}
spec: {host: "*.bookinfo.svc.cluster.local", trafficPolicy: {tls: {sni: plain.example.com}}}
"""
    assert [code for _name, _path, code in kiali(run(plain + peer("bookinfo", "STRICT")), *MTLS_CODES)] == ["KIA0207"]
    # ... and a rule with TLS settings, even without a mode, is not one "without TLS" under mesh-wide mTLS (KIA0204).
    subject = rule("reviews", "bookinfo", "reviews", extra=", tls: {sni: reviews.example.com}")
    assert not found(run(MESH_MTLS + peer("istio-system", "STRICT") + subject), "MSH605")
    assert found(run(MESH_MTLS + peer("istio-system", "STRICT") + rule("reviews", "bookinfo", "reviews")), "MSH605")
