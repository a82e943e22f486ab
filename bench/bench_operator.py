# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`, part 4: the real Ansible Operator reconciling MeshServices applied at once with kubectl.

For each value of the operator's --max-concurrent-reconciles: create-to-reconciled latency of every MeshService
(p50, p95; from the API: the first poll at which its status describes its generation), throughput, and the
operator's own metrics (reconciles, mean reconcile time from controller_runtime_reconcile_time_seconds).
Reference: the reconcile_meshservices playbook reconciling the same MeshServices in one run (one batch apply,
one integrity check): the ratio is what reconciling one resource at a time costs against a scheduled job.

Then the cost of the reconcile period on an idle mesh: a restart makes the operator reconcile every unchanged
MeshService once, as the period does; the API server's apiserver_request_total over that resync (less the
control plane's own rate, measured before) gives the API requests of one periodic reconcile, and so the requests
per minute at the period operator/watches.yaml sets.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import sys
import time
import urllib.request
from typing import Dict, List, Tuple

import yaml

from bench_meshservice import REPO, localcluster, meshservices, render, timed_run

sys.path.insert(0, str(REPO / "tools" / "operator"))

import localoperator  # noqa: E402  pylint: disable=wrong-import-position

NAMESPACE = "bench-operator"
LONG_RUNNING = ('verb="WATCH"', 'verb="CONNECT"')


def resources(count: int) -> List[dict]:
    return [{"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
             "metadata": {"name": entry.pop("name"), "namespace": entry.pop("namespace")},
             "spec": render.camel_tree(entry)} for entry in meshservices(count, NAMESPACE)]


def listed(plane) -> List[dict]:
    return json.loads(plane.kubectl("get", "meshservices", "-n", NAMESPACE, "-o", "json").stdout)["items"]


def apiserver_requests(plane) -> float:
    """Every non-long-running request the API server has answered (apiserver_request_total)."""
    context = ssl.create_default_context(cafile=str(plane.dir / "ca.crt"))
    context.load_cert_chain(str(plane.dir / "admin.crt"), str(plane.dir / "admin.key"))
    with urllib.request.urlopen(plane.server + "/metrics", context=context, timeout=30) as response:  # noqa: S310
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("apiserver_request_total{") and not any(v in line for v in LONG_RUNNING))


def operator_metric(operator, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in operator.metrics().splitlines()
               if line.startswith(name + "{") and 'controller="meshservice-controller"' in line)


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def batch(plane, operator, count: int, timeout: float) -> Dict[str, float]:
    """Apply ``count`` MeshServices at once; seconds from the apply until each status describes its generation."""
    before_reconciles = operator_metric(operator, "controller_runtime_reconcile_total")
    before_time = operator_metric(operator, "controller_runtime_reconcile_time_seconds_sum")
    started = time.monotonic()
    plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": resources(count)}))
    done: Dict[str, float] = {}
    ready = 0
    while len(done) < count and time.monotonic() - started < timeout:
        for item in listed(plane):
            state = item.get("status") or {}
            if item["metadata"]["name"] not in done and state.get("observedGeneration") == item["metadata"]["generation"]:
                done[item["metadata"]["name"]] = time.monotonic() - started
                ready += any(c["type"] == "Ready" and c["status"] == "True" for c in state.get("conditions") or [])
        time.sleep(1)
    if len(done) < count:
        raise SystemExit("only %d of %d MeshServices reconciled within %ds:\n%s"
                         % (len(done), count, timeout, operator.log_tail(20)))
    reconciles = operator_metric(operator, "controller_runtime_reconcile_total") - before_reconciles
    seconds = operator_metric(operator, "controller_runtime_reconcile_time_seconds_sum") - before_time
    latencies = list(done.values())
    return {"p50": statistics.median(latencies), "p95": percentile(latencies, 0.95), "last": max(latencies),
            "reconciles": reconciles, "mean_reconcile": seconds / reconciles if reconciles else 0.0, "ready": ready,
            "errors": operator.log_text().count("Reconciler error")}


def delete_all(plane, operator, timeout: float) -> None:
    plane.kubectl("delete", "meshservices", "--all", "-n", NAMESPACE, "--wait=false")
    deadline = time.monotonic() + timeout
    while listed(plane):
        if time.monotonic() > deadline:
            raise SystemExit("MeshServices not released within %ds:\n%s" % (timeout, operator.log_tail(20)))
        time.sleep(2)


def idle_cost(plane, operator, count: int, baseline_per_second: float, timeout: float) -> Tuple[float, float]:
    """API requests of one periodic reconcile of an unchanged MeshService, and seconds the resync took."""
    operator.restart()
    before, started = apiserver_requests(plane), time.monotonic()
    reconciles = operator_metric(operator, "controller_runtime_reconcile_total")
    while reconciles < count or operator_metric(operator, "workqueue_depth") > 0 or \
            operator_metric(operator, "controller_runtime_active_workers") > 0:
        if time.monotonic() - started > timeout:
            raise SystemExit("the resync of %d MeshServices did not finish within %ds" % (count, timeout))
        time.sleep(1)
        reconciles = operator_metric(operator, "controller_runtime_reconcile_total")
    elapsed = time.monotonic() - started
    requests = apiserver_requests(plane) - before - baseline_per_second * elapsed
    return requests / reconciles, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", default="2,4", help="values of --max-concurrent-reconciles, comma-separated")
    args = parser.parse_args()
    knobs = [int(value) for value in args.concurrency.split(",")]
    timeout = 60 + 30 * args.count
    period = yaml.safe_load(localoperator.WATCHES.read_text())[0]["reconcilePeriod"]
    plane = localcluster.LocalControlPlane(localcluster.build_binaries()).start()
    results, operator = [], None
    try:
        plane.kubectl("create", "namespace", NAMESPACE)
        time.sleep(5)
        first, started = apiserver_requests(plane), time.monotonic()
        time.sleep(20)
        baseline = (apiserver_requests(plane) - first) / (time.monotonic() - started)
        for knob in knobs:
            operator = localoperator.LocalOperator(plane.kubeconfig, max_concurrent_reconciles=knob).start()
            results.append((knob, batch(plane, operator, args.count, timeout)))
            if knob == knobs[-1]:
                per_reconcile, resync = idle_cost(plane, operator, args.count, baseline, timeout)
            delete_all(plane, operator, timeout)
            operator.stop()
            operator = None
        # The reference: one scheduled reconcile_meshservices run over the same MeshServices.
        plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                           "items": resources(args.count)}))
        reference = timed_run("meshops.istio_integrity.reconcile_meshservices", "-e", json.dumps({
            "reconcile_kubeconfig": str(plane.kubeconfig), "reconcile_namespaces": [NAMESPACE],
            "ansible_python_interpreter": sys.executable}))
    finally:
        if operator is not None:
            operator.stop()
        plane.stop()
    print("\nAnsible Operator %s: %d MeshServices applied at once with kubectl, until each status describes its "
          "generation\n" % (localoperator.pinned_version(), args.count))
    print("| max concurrent reconciles | p50 s | p95 s | all done s | per second | ratio to reference | "
          "reconciles | mean reconcile s | Ready | reconciler errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for knob, found in results:
        print("| %d | %.1f | %.1f | %.1f | %.2f | %.1fx | %d | %.1f | %d | %d |" % (
            knob, found["p50"], found["p95"], found["last"], args.count / found["last"], found["last"] / reference,
            found["reconciles"], found["mean_reconcile"], found["ready"], found["errors"]))
    print("| reconcile_meshservices playbook, one run (reference) | | | %.1f | %.2f | 1.0x | 1 | | | |"
          % (reference, args.count / reference))
    print("\nIdle mesh: one periodic reconcile of an unchanged MeshService costs %.0f API requests (apiserver_request_total "
          "over a resync of %d, %.0fs, less the control plane's own %.1f/s); at reconcilePeriod %s that is %.0f "
          "requests per minute for %d MeshServices." % (
              per_reconcile, args.count, resync, baseline, period, per_reconcile * args.count / _minutes(period),
              args.count))
    return 0


def _minutes(duration: str) -> float:
    units = {"s": 1 / 60.0, "m": 1.0, "h": 60.0}
    return float(duration[:-1]) * units[duration[-1]]


if __name__ == "__main__":
    sys.exit(main())
