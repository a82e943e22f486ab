# -*- coding: utf-8 -*-
"""Kiali's verdicts family by family, object by object: which object gets which KIA code, on which field, with
which other parties named (our own manifests, written from Kiali's and Istio's documented rules)."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.istio_integrity.tests.unit.plugins.module_utils.test_checks import found, run


def verdicts(result, code):
    """(namespace/name, path, kiali code) of every finding of a check."""
    return sorted(("%s/%s" % (v["namespace"], v["name"]), v["path"], v["kiali_code"]) for v in found(result, code))


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
    assert verdicts(result, "MSH204") == [("default/se1", "spec.ports[0]", "KIA1211"),
                                          ("default/se2", "spec.ports[0]", "KIA1211"),
                                          ("default/se3", "spec.ports[0]", "KIA1211")]
    assert related(result, "MSH204", "se1") == ["default/se2", "default/se3"]
    assert {(v["severity"], v["istio_code"]) for v in found(result, "MSH204")} == {("warning", "")}


def test_one_different_protocol_makes_every_party_kia1212():
    result = run(entry("se1") + entry("se2") + entry("se3", ports=((443, "HTTP"),)))
    assert [code for _party, _path, code in verdicts(result, "MSH204")] == ["KIA1212"] * 3
    assert {v["istio_code"] for v in found(result, "MSH204")} == {"IST0177"}


def test_the_clash_sits_on_the_port_that_clashes_across_namespaces_and_exports():
    # Kiali compares every ServiceEntry of the mesh and reads no exportTo; Istio's IST0177 needs a common namespace.
    result = run(entry("se1", "ns1", ports=((80, "HTTP"), (443, "HTTPS")), extra=", exportTo: [.]")
                 + entry("se2", "ns2", ports=((443, "TLS"),), extra=", exportTo: [.]"))
    assert verdicts(result, "MSH204") == [("ns1/se1", "spec.ports[1]", "KIA1212"),
                                          ("ns2/se2", "spec.ports[0]", "KIA1212")]
    assert {(v["istio_code"], v["severity"]) for v in found(result, "MSH204")} == {("", "warning")}
    assert related(result, "MSH204", "se1") == ["ns2/se2"]


def test_one_shared_host_of_several_is_enough():
    result = run(entry("se1", hosts=("api.example.com", "other.example.com"))
                 + entry("se2", ports=((443, "HTTP"),)))
    assert verdicts(result, "MSH204") == [("default/se1", "spec.ports[0]", "KIA1212"),
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
