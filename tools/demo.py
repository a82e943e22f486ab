# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: a local control plane, a sample mesh with planted faults, report, repair, re-check.

Says what it does at each step, and stops everything at the end, also on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools" / "controlplane"))
sys.path.insert(0, str(REPO / "tools" / "operator"))

import localcluster  # noqa: E402  pylint: disable=wrong-import-position
import localoperator  # noqa: E402  pylint: disable=wrong-import-position

DEMO_MESHSERVICE = {
    "apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
    "metadata": {"name": "ratings", "namespace": "operator-demo"},
    "spec": {"serviceName": "ratings", "hosts": ["ratings.demo.example.com"], "ports": [{"port": 9080, "name": "http"}],
             "gateway": {"name": "ratings-gateway", "create": True, "selector": {"app": "ratings-gateway"}},
             "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}],
             "routes": [{"destinations": [{"subset": "v1", "weight": 90}, {"subset": "v2", "weight": 10}]}]}}

REPORT_DIR = REPO / "build" / "demo-report"


def step(number: int, text: str) -> None:
    print("\n\033[1m== %d. %s\033[0m" % (number, text), flush=True)


def integrity_job(plane: localcluster.LocalControlPlane, playbook: str, *extra: str) -> int:
    """Run one of the collection's playbooks against the demo cluster, as a scheduled job would."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", playbook,
               "-e", "ansible_python_interpreter=%s" % sys.executable,
               "-e", "integrity_kubeconfig=%s" % plane.kubeconfig,
               "-e", "integrity_report_dir=%s" % REPORT_DIR,
               "-e", '{"integrity_report_formats": ["json", "junit", "markdown", "sarif", "html"]}'] + list(extra)
    return subprocess.run(command, env=env, check=False).returncode


def operator_demo(plane: localcluster.LocalControlPlane) -> bool:
    """kubectl apply a MeshService and watch the operator reconcile it; True when its status says Ready."""
    operator = localoperator.LocalOperator(plane.kubeconfig).start()
    try:
        plane.kubectl("create", "namespace", "operator-demo")
        print(plane.kubectl("apply", "-f", "-", stdin=json.dumps(DEMO_MESHSERVICE)).stdout.strip())
        started = time.monotonic()
        while time.monotonic() - started < 120:
            found = json.loads(plane.kubectl("get", "meshservice", "ratings", "-n", "operator-demo", "-o", "json").stdout)
            if (found.get("status") or {}).get("observedGeneration") == found["metadata"]["generation"]:
                break
            time.sleep(1)
        print("Reconciled by the operator %.0fs after the apply:" % (time.monotonic() - started))
        print(plane.kubectl("get", "meshservices,services,virtualservices.networking.istio.io,"
                            "destinationrules.networking.istio.io,gateways.networking.istio.io", "-n", "operator-demo").stdout)
        # No Pods run here, so the integrity check reports the workloads the spec expects and does not find.
        for violation in (found.get("status") or {}).get("violations") or []:
            print("  status violation %s: %s" % (violation.get("code"), violation.get("message")))
        ready = [c for c in (found.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
        errors = operator.log_text().count("Reconciler error")
        print("Ready=%s; reconciler errors in the operator's log: %d" % (ready[0]["status"] if ready else "?", errors))
        return bool(ready) and ready[0]["status"] == "True" and errors == 0
    finally:
        operator.stop()


def main() -> int:
    started = time.monotonic()
    step(1, "Build (or reuse) etcd, kube-apiserver and kube-controller-manager from the Go module proxy")
    bin_dir = localcluster.build_binaries()
    step(2, "Start the local control plane and install Istio's CRDs from %s and the Gateway API's from %s"
         % (localcluster.crd_bundle(), localcluster.gateway_api_crds()[0].parent))
    plane = localcluster.LocalControlPlane(bin_dir)
    try:
        plane.start()
        step(3, "Load the sample mesh (examples/demo-mesh): bookinfo and shop, Istio and Gateway API routing, "
                "with planted faults")
        plane.kubectl("apply", "-f", str(REPO / "examples" / "demo-mesh" / "00-namespaces.yaml"))
        print(plane.kubectl("apply", "-f", str(REPO / "examples" / "demo-mesh")).stdout)
        step(4, "Run the integrity job (playbook meshops.istio_integrity.integrity_check, fail_on=error)")
        first_rc = integrity_job(plane, "meshops.istio_integrity.integrity_check", "-e", "integrity_fail_on=error")
        print("\nThe job %s, as it should for a mesh with errors (exit code %d)." % (
            "failed" if first_rc else "passed", first_rc))
        print("Reports: %s/{integrity.json,junit.xml,summary.md,integrity.sarif}" % REPORT_DIR)
        print("The mesh as a picture (open it in a browser): %s" % (REPORT_DIR / "integrity.html"))
        step(5, "Repair what is safe (playbook meshops.istio_integrity.integrity_repair, role integrity_repair)")
        print("Only actions whose every object carries app.kubernetes.io/managed-by=meshops.istio_integrity run;\n"
              "the rest is left to people, with the reason. The role re-checks after repairing.")
        integrity_job(plane, "meshops.istio_integrity.integrity_repair", "-e", "integrity_repair_apply=true",
                      "-e", "integrity_fail_on=never")
        step(6, "Re-check: what remains is only what needs a person (fail_on=never, report printed)")
        rc = integrity_job(plane, "meshops.istio_integrity.integrity_check", "-e", "integrity_fail_on=never")
        remaining = json.loads((REPORT_DIR / "integrity.json").read_text())
        automatic = [a for a in remaining["repair_plan"] if a["safe"]]
        print("\nAfter the repair: %d safe automatic action(s) left (expected 0); %d action(s) for people."
              % (len(automatic), len(remaining["repair_plan"])))
        print("HTML report of what remains: %s" % (REPORT_DIR / "integrity.html"))
        step(7, "The MeshService operator: the upstream Ansible Operator %s (built once into the cache) runs "
                "operator/watches.yaml as the ServiceAccount of operator/rbac.yaml" % localoperator.pinned_version())
        operator_ok = operator_demo(plane)
        demo_ok = first_rc != 0 and rc == 0 and not automatic and operator_ok
    finally:
        step(8, "Stop the control plane")
        plane.stop()
    stray = localcluster.stray_processes(bin_dir)
    if stray:
        print("stray processes left behind: %s" % stray)
        return 1
    print("Stopped; no control-plane process left. Demo took %.0fs." % (time.monotonic() - started))
    return 0 if demo_ok else 1


if __name__ == "__main__":
    sys.exit(main())
