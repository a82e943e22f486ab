# -*- coding: utf-8 -*-
"""Connection problems come out as one sentence naming the cause and the option or variable to set."""

from __future__ import annotations

import socket

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import ClusterError, KubernetesAPI, backoff


def kubeconfig(server="https://127.0.0.1:6443", context="dev"):
    return {"apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}]}


@pytest.fixture
def no_home_config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "K8S_AUTH_KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def error_of(params):
    with pytest.raises(ClusterError) as raised:
        KubernetesAPI(params).request("GET", "/version")
    return str(raised.value)


def test_no_kubeconfig_anywhere(no_home_config):
    message = error_of({})
    assert message.startswith("no kubeconfig found (%s/.kube/config does not exist" % no_home_config)
    assert "`kubeconfig`" in message and "K8S_AUTH_KUBECONFIG" in message and "K8S_AUTH_HOST" in message
    assert "Service host/port" not in message


@pytest.mark.parametrize("content", ["{not: [yaml", "just a string\n"])
def test_an_unreadable_or_malformed_kubeconfig(no_home_config, content):
    path = no_home_config / "config"
    path.write_text(content)
    message = error_of({"kubeconfig": str(path)})
    assert str(path) in message and "K8S_AUTH_KUBECONFIG" in message and "\n" not in message


def test_a_kubeconfig_that_does_not_exist(no_home_config):
    message = error_of({"kubeconfig": str(no_home_config / "missing")})
    assert message == ("kubeconfig %s does not exist: set `kubeconfig` (or K8S_AUTH_KUBECONFIG, or KUBECONFIG)"
                       % (no_home_config / "missing"))


def test_an_unknown_context(no_home_config):
    path = no_home_config / "config"
    path.write_text(yaml.safe_dump(kubeconfig()))
    message = error_of({"kubeconfig": str(path), "context": "prod"})
    assert message == ("context 'prod' is not in kubeconfig %s: set `context` (or K8S_AUTH_CONTEXT) to one of its "
                       "contexts" % path)


def test_an_unreachable_server(no_home_config):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = error_of({"kubeconfig": kubeconfig("https://127.0.0.1:%d" % port), "request_timeout": 5})
    assert message.startswith("cannot reach the Kubernetes API at https://127.0.0.1:%d: connection refused" % port)
    assert "K8S_AUTH_HOST" in message


@pytest.mark.parametrize("attempt, retry_after, low, high", [
    (1, None, 0.0, 0.2), (4, None, 0.0, 1.6), (30, None, 0.0, 10.0),  # exponential, jittered, capped
    (1, "2", 2.0, 2.2), (3, "1", 1.0, 1.8), (1, "600", 10.0, 10.0),  # the server's wait first, still capped
    (1, "Wed, 21 Oct 2026 07:28:00 GMT", 1.0, 1.2)])
def test_backoff_honours_retry_after_with_bounded_jitter(attempt, retry_after, low, high):
    waits = [backoff(attempt, retry_after) for _round in range(200)]
    assert all(low <= wait <= high for wait in waits)
    assert len(set(waits)) > 1 or low == high  # jittered
