# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`, part 2: 500 meshservices in one istio_meshservice task against the local control plane.

Reference: the same rendered objects applied by a loop of kubernetes.core.k8s tasks (server-side
apply) in the same run, into a namespace of their own. Timed as whole ansible-playbook runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / ".collections"))
sys.path.insert(0, str(REPO / "tools" / "controlplane"))

import localcluster  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice import spec as meshservice_spec, render  # noqa: E402  pylint: disable=wrong-import-position


def meshservices(count: int, namespace: str) -> List[Dict[str, Any]]:
    return [{"name": "svc-%d" % i, "namespace": namespace, "ports": [{"port": 8080, "name": "http"}],
             "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}],
             "routes": [{"match": [{"headers": {"x-canary": "1"}}], "destinations": [{"subset": "v2"}]},
                        {"destinations": [{"subset": "v1", "weight": 90}, {"subset": "v2", "weight": 10}],
                         "retries": {"attempts": 2}, "timeout": "5s"}]} for i in range(count)]


def playbook(path: Path, tasks: List[Dict[str, Any]], variables: Dict[str, Any]) -> Path:
    play = [{"name": "bench", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": dict(variables, ansible_python_interpreter=sys.executable), "tasks": tasks}]
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


def timed_run(playbook_path: Any, *extra: str) -> float:
    """Seconds of one whole ansible-playbook run (a file, or a collection playbook's FQCN)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH="%s:%s" % (REPO / ".collections", os.environ.get(
        "ANSIBLE_COLLECTIONS_PATH", "")), ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    started = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                             str(playbook_path), *extra], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit("benchmark playbook %s failed:\n%s" % (playbook_path, (result.stdout + result.stderr)[-3000:]))
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    plane = localcluster.LocalControlPlane(localcluster.build_binaries()).start()
    try:
        for namespace in ("bench-batch", "bench-k8s"):
            plane.kubectl("create", "namespace", namespace)
        batch = meshservices(args.count, "bench-batch")
        loop_objects = [obj for entry in meshservices(args.count, "bench-k8s")
                        for obj in render.render(meshservice_spec.validate(entry, "bench"))]
        with tempfile.TemporaryDirectory(prefix="meshops-bench-") as workdir:
            work = Path(workdir)
            ours = playbook(work / "batch.yml", [{"name": "Apply the batch", "meshops.istio_integrity.istio_meshservice": {
                "kubeconfig": str(plane.kubeconfig), "meshservices": "{{ batch }}"}}], {"batch": batch})
            theirs = playbook(work / "loop.yml", [{"name": "Apply one object", "kubernetes.core.k8s": {
                "kubeconfig": str(plane.kubeconfig), "definition": "{{ item }}", "apply": True,
                "server_side_apply": {"field_manager": "bench-k8s"}}, "loop": "{{ objects }}",
                "loop_control": {"label": "{{ item.kind }}/{{ item.metadata.name }}"}}], {"objects": loop_objects})
            first = timed_run(ours)
            again = timed_run(ours)
            loop = timed_run(theirs)
        owned = json.loads(plane.kubectl("get", "virtualservices.networking.istio.io", "-n", "bench-batch",
                                         "-o", "json").stdout)["items"]
    finally:
        plane.stop()
    print("\nistio_meshservice: %d meshservices (%d objects) in one task vs a kubernetes.core.k8s loop\n"
          % (args.count, len(loop_objects)))
    print("| run | seconds | objects/s | ratio to the k8s loop |")
    print("|---|---:|---:|---:|")
    for name, seconds in (("batch, first apply", first), ("batch, re-apply (no change)", again)):
        print("| %s | %.1f | %.0f | %.1fx faster |" % (name, seconds, len(loop_objects) / seconds, loop / seconds))
    print("| kubernetes.core.k8s loop | %.1f | %.0f | reference |" % (loop, len(loop_objects) / loop))
    print("\nBars: batch at least 10x faster than the loop; re-apply at least as fast as the first apply.")
    ok = loop / first >= 10 and again <= first and len(owned) == args.count
    if len(owned) != args.count:
        print("MISMATCH: %d VirtualServices in bench-batch, expected %d" % (len(owned), args.count))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
