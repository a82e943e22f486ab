# -*- coding: utf-8 -*-
"""istio_integrity_facts against a real kube-apiserver with Istio's CRDs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import EXAMPLES, REPO, facts_task, localcluster, run_playbook, start_plane, violation_keys

# The codes the demo mesh plants (examples/demo-mesh, "FAULT" comments). MSH205 cannot be planted:
# the API server refuses a Service that repeats a port.
PLANTED_CODES = {
    "MSH101", "MSH102", "MSH103", "MSH104", "MSH105", "MSH106", "MSH107", "MSH108", "MSH109",
    "MSH201", "MSH202", "MSH203", "MSH204", "MSH209", "MSH301", "MSH302", "MSH303",
    "MSH401", "MSH402", "MSH403", "MSH501", "MSH502", "MSH701", "MSH707",
}


def test_api_server_enforces_istio_schemas(control_plane):
    invalid = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
               "metadata": {"name": "too-fast", "namespace": "default"},
               "spec": {"hosts": ["x"], "http": [{"timeout": "0.5ms", "route": [{"destination": {"host": "x"}}]}]}}
    rejected = control_plane.kubectl("create", "-f", "-", stdin=json.dumps(invalid), check=False)
    assert rejected.returncode != 0
    assert "timeout" in rejected.stderr and "1ms" in rejected.stderr
    invalid["spec"]["http"][0]["timeout"] = "2s"
    accepted = control_plane.kubectl("create", "--dry-run=server", "-f", "-", stdin=json.dumps(invalid), check=False)
    assert accepted.returncode == 0, accepted.stderr


def test_live_mesh_reports_every_planted_fault(demo_mesh):
    run = run_playbook([facts_task(kubeconfig=str(demo_mesh.kubeconfig))])
    assert not run.failed, run.output
    summary = run.facts["summary"]
    assert set(summary["by_code"]) == PLANTED_CODES
    assert summary["complete"] is True and summary["consistent"] is False
    assert summary["checks_skipped"] == {}
    assert summary["scanned"]["Pod"] >= 7 and summary["scanned"]["Secret"] >= 1
    plan = {(a["action"], a["kind"], a["namespace"], a["name"], a["safe"]) for a in run.facts["repair_plan"]}
    assert ("delete", "VirtualService", "bookinfo", "legacy", True) in plan
    assert ("delete", "VirtualService", "bookinfo", "cart-proxy", False) in plan
    assert ("delete", "DestinationRule", "bookinfo", "ratings-v0", True) in plan
    assert ("create", "Gateway", "bookinfo", "details-gateway", True) in plan
    assert ("patch", "VirtualService", "bookinfo", "reviews-canary", True) in plan
    assert ("create", "ReferenceGrant", "bookinfo", "meshops-httproute-shop-to-service", True) in plan
    assert ("manual", "HTTPRoute", "shop", "promo", False) in plan


def test_files_and_live_give_the_same_violations(demo_mesh):
    live = run_playbook([facts_task(kubeconfig=str(demo_mesh.kubeconfig))])
    files = run_playbook([facts_task(src=[str(EXAMPLES)])])
    checked = run_playbook([facts_task(kubeconfig=str(demo_mesh.kubeconfig))], check=True)
    assert not live.failed and not files.failed and not checked.failed, live.output + files.output + checked.output
    assert violation_keys(files.facts) == violation_keys(live.facts) == violation_keys(checked.facts)
    assert files.facts["summary"]["ignored_kinds"] == {}
    assert files.facts["summary"]["scanned"]["Namespace"] == 3


def test_listing_follows_every_page(control_plane):
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-%03d" % i, "namespace": "paging"},
                 "spec": {"ports": [{"name": "web", "port": 80}]}} for i in range(130)]
    control_plane.kubectl("create", "namespace", "paging")
    control_plane.kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": services}))
    small = run_playbook([facts_task(kubeconfig=str(control_plane.kubeconfig), namespaces=["paging"],
                                     page_size=20, checks=["MSH502"])])
    large = run_playbook([facts_task(kubeconfig=str(control_plane.kubeconfig), namespaces=["paging"],
                                     page_size=500, checks=["MSH502"])])
    assert not small.failed, small.output
    assert small.facts["summary"]["scanned"]["Service"] == 130
    assert small.facts["summary"]["by_code"] == {"MSH502": 130}
    assert violation_keys(small.facts) == violation_keys(large.facts)


def test_user_without_list_rights_gets_a_partial_scan(demo_mesh):
    demo_mesh.grant_read(["bookinfo"])
    by_kubeconfig = run_playbook([facts_task(kubeconfig=str(demo_mesh.restricted_kubeconfig),
                                             namespaces=["bookinfo", "shop"])])
    assert not by_kubeconfig.failed, by_kubeconfig.output
    summary = by_kubeconfig.facts["summary"]
    assert summary["complete"] is False and summary["consistent"] is False
    assert any("namespace shop" in reason for reason in summary["incomplete_reasons"])
    namespaces = {v["namespace"] for v in by_kubeconfig.facts["violations"]}
    assert "bookinfo" in namespaces and "shop" not in namespaces

    by_token = run_playbook([facts_task(host=demo_mesh.server, api_key=demo_mesh.restricted_token,
                                        ca_cert=str(demo_mesh.dir / "ca.crt"), namespaces=["bookinfo", "shop"])])
    assert not by_token.failed, by_token.output
    assert violation_keys(by_token.facts) == violation_keys(by_kubeconfig.facts)
    assert demo_mesh.restricted_token not in by_token.output

    everywhere = run_playbook([facts_task(kubeconfig=str(demo_mesh.restricted_kubeconfig))])
    assert not everywhere.failed, everywhere.output
    assert everywhere.facts["summary"]["complete"] is False
    assert any("cannot list objects cluster-wide nor list namespaces" in reason
               for reason in everywhere.facts["summary"]["incomplete_reasons"])


def test_missing_istio_crds_is_a_clear_error():
    plane = start_plane(install_crds=False)
    try:
        run = run_playbook([facts_task(kubeconfig=str(plane.kubeconfig))])
    finally:
        plane.stop()
    assert run.failed
    assert "Istio's CRDs are not installed" in run.output
    assert "Traceback" not in run.output


def test_api_server_stopped_mid_run_is_a_clear_error(tmp_path):
    plane = start_plane()
    first_done, stopped = tmp_path / "first-done", tmp_path / "stopped"
    tasks = [
        facts_task(kubeconfig=str(plane.kubeconfig)),
        {"name": "Signal", "ansible.builtin.file": {"path": str(first_done), "state": "touch", "mode": "0600"}},
        {"name": "Wait for the API server to be stopped",
         "ansible.builtin.wait_for": {"path": str(stopped), "timeout": 120}},
        facts_task(kubeconfig=str(plane.kubeconfig), request_timeout=5),
    ]

    def stop_api_server_between_tasks() -> None:
        deadline = time.monotonic() + 120
        while not first_done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        localcluster._terminate(plane.processes["kube-apiserver"])  # pylint: disable=protected-access
        stopped.touch()

    stopper = threading.Thread(target=stop_api_server_between_tasks)
    stopper.start()
    try:
        run = run_playbook(tasks)
    finally:
        stopper.join()
        plane.stop()
    assert run.failed
    assert "cannot reach the Kubernetes API at %s" % plane.server in run.output
    assert "Traceback" not in run.output


def test_stopping_leaves_no_process_and_no_directory():
    plane = start_plane(install_crds=False)
    pids = [process.pid for process in plane.processes.values()]
    workdir = plane.dir
    plane.stop()
    assert not Path(workdir).exists()
    for pid in pids:
        assert not Path("/proc/%d" % pid).exists() or "zombie" in Path("/proc/%d/status" % pid).read_text().lower()
    running = {line.split()[0] for line in localcluster.stray_processes(plane.bin_dir)}
    assert running.isdisjoint(str(pid) for pid in pids)


def test_two_clusters_in_one_run_with_one_summary(demo_mesh, tmp_path):
    second = start_plane()
    try:
        inventory = tmp_path / "clusters.yml"
        inventory.write_text(json.dumps({"clusters": {"hosts": {
            "demo": {"integrity_kubeconfig": str(demo_mesh.kubeconfig)},
            "empty": {"integrity_kubeconfig": str(second.kubeconfig)}},
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_SHOW_CUSTOM_STATS="true", ANSIBLE_LOCALHOST_WARNING="False")
        run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                              "meshops.istio_integrity.integrity_check", "-e", "integrity_hosts=clusters",
                              "-e", "integrity_report_root=%s" % tmp_path, "-f", "2"],
                             env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        second.stop()
    output = run.stdout + run.stderr
    assert run.returncode != 0  # the demo cluster has errors and fails its threshold; the empty one passes
    assert "demo: inconsistent" in output and "empty: consistent, 0 error(s)" in output, output
    assert (tmp_path / "demo" / "junit.xml").exists() and (tmp_path / "empty" / "integrity.json").exists()
    stats = output[output.index("CUSTOM STATS"):]
    assert '"demo"' in stats and '"empty"' in stats
    assert "fatal: [demo]" in output and "fatal: [empty]" not in output


def test_sidecars_peer_authentications_namespaces_and_deployments_are_read_live():
    plane = start_plane(gateway_api=False)  # a cluster without the Gateway API: read without it, and said so
    objects = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "ambient", "labels": {"istio.io/dataplane-mode": "ambient"}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "default", "namespace": "ambient"},
         "spec": {"egress": [{"hosts": ["./*"]}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
         "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}},
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
         "metadata": {"name": "no-mtls", "namespace": "istio-system"},
         "spec": {"host": "*.local", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "web"}]}}}},
    ] + [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"},
          "spec": {"selector": {"app": "web"}, "ports": [{"name": name, "port": 53, "protocol": protocol}]}}
         for name, protocol in (("dns", "UDP"), ("tcp-dns", "TCP"))]
    try:
        plane.kubectl("create", "namespace", "istio-system")
        plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        run = run_playbook([facts_task(kubeconfig=str(plane.kubeconfig))])
    finally:
        plane.stop()
    assert not run.failed, run.output
    found = {(v["code"], v["istio_code"] or v["kiali_code"], v["kind"], v["namespace"], v["name"])
             for v in run.facts["violations"]}
    assert ("MSH405", "IST0167", "Sidecar", "ambient", "default") in found
    assert ("MSH609", "KIA0208", "DestinationRule", "istio-system", "no-mtls") in found
    assert ("MSH209", "IST0116", "Deployment", "shop", "web") in found
    scanned = run.facts["summary"]["scanned"]
    assert scanned["Sidecar"] == 1 and scanned["PeerAuthentication"] == 1 and scanned["Deployment"] == 1
    assert run.facts["summary"]["complete"] is True
    notes = run.facts["summary"]["notes"]
    assert any("Gateway API Gateways not read" in note for note in notes), notes
    assert any("Gateway API HTTPRoutes not read" in note for note in notes), notes
    assert set(run.facts["summary"]["checks_skipped"]) == {"MSH701", "MSH702", "MSH703", "MSH707", "MSH712", "MSH714"}


def test_rejected_credentials_say_what_to_set(control_plane):
    """An expired or wrong token: one sentence naming the 401 and the options and variables to set."""
    run = run_playbook([facts_task(host=control_plane.server, api_key="expired-token", validate_certs=False)])
    assert run.failed
    assert "rejected the credentials (401 Unauthorized: expired or wrong token or certificate)" in run.output
    assert "K8S_AUTH_API_KEY" in run.output and "expired-token" not in run.output
    assert "Traceback" not in run.output
