# -*- coding: utf-8 -*-
"""The API server dies in the middle of a batch apply: the failure says which objects were written, and
running the task again, once the server is back, completes the batch."""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request

from conftest import run_playbook, start_plane

COUNT = 200


def count_services(plane, namespace: str) -> int:
    context = ssl.create_default_context(cafile=str(plane.dir / "ca.crt"))
    context.load_cert_chain(str(plane.dir / "admin.crt"), str(plane.dir / "admin.key"))
    url = "%s/api/v1/namespaces/%s/services?limit=1000" % (plane.server, namespace)
    with urllib.request.urlopen(url, context=context, timeout=5) as response:  # nosec B310 - our own test server
        return len(json.load(response)["items"])


def batch_task(plane):
    services = [{"name": "svc-%d" % i, "namespace": "outage", "ports": [{"port": 8080, "name": "http"}],
                 "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
                 "routes": [{"destinations": [{"subset": "v1"}]}]} for i in range(COUNT)]
    return {"meshops.istio_integrity.istio_meshservice": {"kubeconfig": str(plane.kubeconfig), "meshservices": services,
                                                          "request_timeout": 5},
            "register": "result", "ignore_errors": True}


def test_a_batch_cut_by_an_outage_reports_what_was_written_and_a_rerun_completes_it():
    plane = start_plane()
    try:
        plane.kubectl("create", "namespace", "outage")

        def kill_when_writes_start() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if count_services(plane, "outage") >= 20:
                    plane.stop_apiserver()
                    return
                time.sleep(0.005)

        killer = threading.Thread(target=kill_when_writes_start)
        killer.start()
        cut = run_playbook([batch_task(plane)], result_var="result")
        killer.join()
        result = cut.facts
        assert result["failed"] and "apply failed part-way" in result["msg"], result.get("msg")
        assert "run the task again" in result["msg"]
        assert result["written"] and result["not_written"], result["msg"]
        assert len(result["written"]) + len(result["not_written"]) == 3 * COUNT  # Service, VirtualService, DestinationRule
        plane.restart_apiserver()
        live = set()
        for kind in ("services", "virtualservices.networking.istio.io", "destinationrules.networking.istio.io",
                     "gateways.networking.istio.io"):
            items = json.loads(plane.kubectl("get", kind, "-n", "outage", "-o", "json").stdout)["items"]
            live |= {"%s/outage/%s" % (item["kind"], item["metadata"]["name"]) for item in items}
        assert set(result["written"]) <= live  # every object reported written really is there
        rerun = run_playbook([batch_task(plane)], result_var="result")
        assert not rerun.facts.get("failed"), rerun.facts.get("msg")
        assert count_services(plane, "outage") == COUNT
    finally:
        plane.stop()
