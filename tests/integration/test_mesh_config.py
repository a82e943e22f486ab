# -*- coding: utf-8 -*-
"""The mesh configuration read live: the ``istio`` ConfigMap of Istio's namespace decides auto mTLS and the root
namespace for the DestinationRule mTLS checks (KIA0205, KIA0206), Istio's defaults when it is absent."""

from __future__ import annotations

import json

import pytest

from conftest import facts_task, run_playbook

# Its own control-plane namespace, so the ConfigMap changes nothing for the other tests of the session.
CONTROL = "mesh-config-cp"
APP = "mesh-config-app"


def apply(plane, *objects):
    plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def mesh_config_map(mesh: str):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": CONTROL},
            "data": {"mesh": mesh}}


def mtls_rule(name, namespace, host):
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"host": host, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}}


def check(plane):
    run = run_playbook([facts_task(kubeconfig=str(plane.kubeconfig), istio_namespace=CONTROL,
                                   namespaces=[CONTROL, APP, "mesh-config-root"], checks=["MSH606", "MSH607"])])
    assert not run.failed, run.output
    return run.facts


def findings(facts):
    return sorted((v["kiali_code"], v["namespace"], v["name"]) for v in facts["violations"])


@pytest.fixture
def namespaces(control_plane):
    """The test's namespaces, deleted afterwards: its '*.local' rule would otherwise apply to every later test's
    Services (a mesh-wide DestinationRule outside the root namespace)."""
    created = (CONTROL, APP, "mesh-config-root")
    for namespace in created:
        control_plane.kubectl("create", "namespace", namespace)
    yield
    control_plane.kubectl("delete", "namespace", *created, "--wait=true", "--timeout=120s")


@pytest.mark.usefixtures("namespaces")
def test_the_istio_config_map_decides_auto_mtls_and_the_root_namespace(control_plane):
    apply(control_plane, mtls_rule("app-wide", APP, "*.%s.svc.cluster.local" % APP),
          mtls_rule("mesh-wide", CONTROL, "*.local"),
          {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
           "metadata": {"name": "default", "namespace": "mesh-config-root"}, "spec": {"mtls": {"mode": "STRICT"}}})

    defaults = check(control_plane)
    assert findings(defaults) == [("KIA0205", CONTROL, "mesh-wide")]
    assert defaults["summary"]["mesh_config"] == {"source": "(Istio's defaults)", "enable_auto_mtls": True,
                                                  "root_namespace": CONTROL}
    assert "no ConfigMap %s/istio: Istio's default mesh configuration assumed" % CONTROL in defaults["summary"]["notes"]

    apply(control_plane, mesh_config_map("enableAutoMtls: false\nrootNamespace: mesh-config-root\n"))
    configured = check(control_plane)
    assert configured["summary"]["mesh_config"] == {"source": "cluster", "enable_auto_mtls": False,
                                                    "root_namespace": "mesh-config-root"}
    # The mesh-wide PeerAuthentication now lives in the root namespace the ConfigMap names: it enables mutual TLS
    # for both rules, so neither is reported; without it, auto mTLS being off, the namespace-wide rule is.
    assert findings(configured) == []
    control_plane.kubectl("delete", "peerauthentication", "default", "-n", "mesh-config-root")
    assert findings(check(control_plane)) == [("KIA0205", CONTROL, "mesh-wide"), ("KIA0206", APP, "app-wide")]
