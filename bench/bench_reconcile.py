# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`, part 3: the reconcile_meshservices playbook on MeshService resources.

All listed resources go through the meshservice_reconcile role in one run: finalizers, one batch
apply, one whole-cluster integrity check, every status. Reference: the same meshservices applied by
one istio_meshservice batch task, which checks nothing afterwards and writes no status: the ratio is
the price of the reconcile around the apply. Timed as whole ansible-playbook runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Dict

from bench_meshservice import localcluster, meshservices, playbook, render, timed_run


def resource_versions(plane, namespace: str) -> Dict[str, str]:
    """resourceVersion of every MeshService and every object they own."""
    found: Dict[str, str] = {}
    for kind in ("meshservices", "services", "virtualservices.networking.istio.io", "destinationrules.networking.istio.io"):
        for item in json.loads(plane.kubectl("get", kind, "-n", namespace, "-o", "json").stdout)["items"]:
            found["%s/%s" % (kind, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    plane = localcluster.LocalControlPlane(localcluster.build_binaries()).start()
    try:
        plane.install_crds(Path(__file__).resolve().parent.parent / "playbooks" / "files" / "meshservice-crd.yaml")
        for namespace in ("bench-resources", "bench-batch"):
            plane.kubectl("create", "namespace", namespace)
        resources = [{"apiVersion": "mesh.istio.operator/v1alpha1", "kind": "MeshService",
                      "metadata": {"name": entry.pop("name"), "namespace": entry.pop("namespace")},
                      "spec": render.camel_tree(entry)} for entry in meshservices(args.count, "bench-resources")]
        plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": resources}))
        reconcile = ("meshops.istio_integrity.reconcile_meshservices", "-e",
                     json.dumps({"reconcile_kubeconfig": str(plane.kubeconfig), "reconcile_namespaces": ["bench-resources"],
                                 "ansible_python_interpreter": sys.executable}))
        first = timed_run(*reconcile)
        settled = resource_versions(plane, "bench-resources")
        again = timed_run(*reconcile)
        writes = sum(1 for key, version in resource_versions(plane, "bench-resources").items() if settled.get(key) != version)
        with tempfile.TemporaryDirectory(prefix="meshops-bench-") as workdir:
            batch = playbook(Path(workdir) / "batch.yml", [{"name": "Apply the batch",
                                                           "meshops.istio_integrity.istio_meshservice": {
                                                               "kubeconfig": str(plane.kubeconfig), "meshservices": "{{ batch }}"}}],
                             {"batch": meshservices(args.count, "bench-batch")})
            reference = timed_run(batch)
        states = [item["status"]["consistencyState"] for item in json.loads(
            plane.kubectl("get", "meshservices", "-n", "bench-resources", "-o", "json").stdout)["items"]]
    finally:
        plane.stop()
    print("\nreconcile_meshservices: %d MeshService resources vs one istio_meshservice batch task\n"
          % args.count)
    print("| run | seconds | per resource s | ratio to the batch | writes |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, wrote in (("reconcile, first", first, "all"), ("reconcile, unchanged", again, str(writes))):
        print("| %s | %.1f | %.2f | %.1fx | %s |" % (name, seconds, seconds / args.count, seconds / reference, wrote))
    print("| istio_meshservice batch (reference) | %.1f | %.2f | 1.0x | all |" % (reference, reference / args.count))
    print("\nStatus written for %d of %d resources. Bar: an unchanged reconcile writes nothing." % (len(states), args.count))
    return 0 if writes == 0 and len(states) == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
