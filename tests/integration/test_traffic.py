# -*- coding: utf-8 -*-
"""Traffic playbooks against the control plane and a real Prometheus scraping Istio-shaped metrics."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict

import pytest

from conftest import localcluster, run_collection_playbook

HERE = Path(__file__).resolve().parent
STEPS = [10, 25, 50, 75, 100]


@pytest.fixture(scope="module")
def prometheus():
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (make integration installs Debian's package)", pytrace=False)
    workdir = Path(tempfile.mkdtemp(prefix="meshops-prom-"))
    mode_file = workdir / "mode.json"
    mode_file.write_text(json.dumps({"canary": "healthy"}))
    exporter_port, prometheus_port = localcluster.free_port(), localcluster.free_port()
    (workdir / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "istio-mesh", "static_configs": [{"targets": ["127.0.0.1:%d" % exporter_port]}]}]}))
    exporter = subprocess.Popen([sys.executable, str(HERE / "fake_istio_exporter.py"), str(exporter_port), str(mode_file),
                                 "reviews", "v1", "v2"])
    server = subprocess.Popen([binary, "--config.file=%s" % (workdir / "prometheus.yml"),
                               "--storage.tsdb.path=%s" % (workdir / "data"),
                               "--web.listen-address=127.0.0.1:%d" % prometheus_port, "--log.level=warn"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % prometheus_port
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=2) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("prometheus did not become ready", pytrace=False)
        # Ready is not enough: rates need at least two scrapes of the exporter.
        query = url + "/api/v1/query?query=" + urllib.parse.quote("count_over_time(istio_requests_total[1m])")
        while time.monotonic() < deadline:
            with urllib.request.urlopen(query, timeout=2) as response:  # noqa: S310 (loopback)
                result = json.loads(response.read())["data"]["result"]
            if result and min(float(r["value"][1]) for r in result) >= 3:
                break
            time.sleep(0.5)
        else:
            pytest.fail("prometheus did not scrape the exporter", pytrace=False)
        yield SimpleNamespace(url=url, set_mode=lambda mode: mode_file.write_text(json.dumps({"canary": mode})))
    finally:
        for process in (server, exporter):
            process.terminate()
            process.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)


def playbook(plane, name: str, **variables: Any) -> subprocess.CompletedProcess:
    return run_collection_playbook(name, dict({"traffic_kubeconfig": str(plane.kubeconfig)}, **variables))


def service(namespace: str, api: str = "istio") -> Dict[str, Any]:
    return {"name": "reviews", "namespace": namespace, "api": api, "ports": [{"port": 9080, "name": "http"}],
            "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}


def virtual_service(plane, namespace: str) -> Dict[str, Any]:
    return json.loads(plane.kubectl("get", "virtualservices.networking.istio.io", "reviews", "-n", namespace,
                                    "-o", "json").stdout)


def weights(plane, namespace: str, api: str = "istio") -> Dict[str, int]:
    if api == "gateway-api":  # the subsets' Services, reviews-v1 and reviews-v2
        route = json.loads(plane.kubectl("get", "httproutes.gateway.networking.k8s.io", "reviews", "-n", namespace,
                                         "-o", "json").stdout)
        return {ref["name"].replace("reviews-", ""): ref["weight"] for ref in route["spec"]["rules"][-1]["backendRefs"]}
    route = virtual_service(plane, namespace)["spec"]["http"][-1]["route"]
    return {r["destination"]["subset"]: r.get("weight", 100) for r in route}


@pytest.fixture
def namespace(control_plane, request):
    full = request.node.name.replace("test_", "").replace("_", "-").replace("[", "-").replace("]", "")
    name = "traffic-" + (full if len(full) <= 40 else full[:30].strip("-") + "-" + hashlib.sha1(full.encode()).hexdigest()[:8])
    control_plane.kubectl("create", "namespace", name)
    return name


def promote(plane, namespace: str, prometheus, api: str = "istio") -> subprocess.CompletedProcess:
    return playbook(plane, "canary_promote", traffic_meshservice=service(namespace, api), prometheus_url=prometheus.url,
                    canary_step_wait=3, canary_rate_window="10s")


@pytest.mark.parametrize("api", ["istio", "gateway-api"])
def test_canary_promotes_to_100_when_healthy(control_plane, namespace, prometheus, api):
    prometheus.set_mode("healthy")
    run = promote(control_plane, namespace, prometheus, api)
    assert run.returncode == 0, run.stdout + run.stderr
    for step in STEPS:
        assert "step %d: weights v1=%d v2=%d" % (step, 100 - step, step) in run.stdout
        assert "at %d%%: success rate 1.0" % step in run.stdout
    assert weights(control_plane, namespace, api) == {"v1": 0, "v2": 100}


@pytest.mark.parametrize("api", ["istio", "gateway-api"])
def test_canary_rolls_back_when_degraded(control_plane, namespace, prometheus, api):
    assert playbook(control_plane, "canary", traffic_meshservice=service(namespace, api), canary_weight=0).returncode == 0
    prometheus.set_mode("degraded")
    time.sleep(3)  # let Prometheus scrape the degraded canary
    try:
        run = promote(control_plane, namespace, prometheus, api)
    finally:
        prometheus.set_mode("healthy")
    assert run.returncode != 0
    assert "step 10: weights v1=90 v2=10" in run.stdout
    assert "rollback: weights v1=100 v2=0" in run.stdout and "rolled back" in run.stdout
    assert "step 25:" not in run.stdout
    assert weights(control_plane, namespace, api) == {"v1": 100, "v2": 0}


def test_ab_test_fault_injection_cleanup_canary_and_rollback(control_plane, namespace):
    assert playbook(control_plane, "ab_test", traffic_meshservice=service(namespace)).returncode == 0
    http = virtual_service(control_plane, namespace)["spec"]["http"]
    assert http[0]["match"] == [{"headers": {"x-variant": {"exact": "b"}}}]
    assert [(r["destination"]["subset"], r["weight"]) for r in http[1]["route"]] == [("v1", 50), ("v2", 50)]

    run = playbook(control_plane, "fault_inject", traffic_meshservice=service(namespace), fault_delay="5s",
                   fault_percentage=25)
    assert run.returncode == 0, run.stdout + run.stderr
    [rule] = virtual_service(control_plane, namespace)["spec"]["http"]
    assert rule["fault"] == {"delay": {"fixedDelay": "5s", "percentage": {"value": 25.0}}}

    assert playbook(control_plane, "fault_cleanup", traffic_meshservice=service(namespace)).returncode == 0
    [rule] = virtual_service(control_plane, namespace)["spec"]["http"]
    assert "fault" not in rule and rule["route"][0]["destination"]["subset"] == "v1"

    assert playbook(control_plane, "canary", traffic_meshservice=service(namespace), canary_weight=30).returncode == 0
    assert weights(control_plane, namespace) == {"v1": 70, "v2": 30}
    rollback = playbook(control_plane, "canary_rollback", traffic_meshservice=service(namespace))
    assert "rollback: weights v1=100 v2=0" in rollback.stdout
    assert weights(control_plane, namespace) == {"v1": 100, "v2": 0}
