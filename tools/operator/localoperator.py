# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upstream Ansible Operator, run out of cluster against the local control plane.

The pinned ``ansible-operator`` binary (tools/operator/build.sh) runs ``operator/watches.yaml`` with this
collection installed from its own tarball (as operator/Dockerfile installs it), the project's virtualenv on
the PATH (ansible-runner and its HTTP event emitter, which the operator needs to see a run end), and the
identity operator/rbac.yaml defines: a token of the ``meshservice-operator`` ServiceAccount, never the admin
kubeconfig. Used by the integration tests, the benchmark and the demo; also a CLI:

    localoperator.py up --state .cluster      # needs a control plane (make cluster-up); runs in the background
    localoperator.py logs --state .cluster    # the operator's log
    localoperator.py down --state .cluster    # stop it
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tools" / "controlplane"))

import localcluster  # noqa: E402  pylint: disable=wrong-import-position

WATCHES = REPO / "operator" / "watches.yaml"
RBAC = REPO / "operator" / "rbac.yaml"
CRD = REPO / "playbooks" / "files" / "meshservice-crd.yaml"
NAMESPACE = "meshops-system"
SERVICE_ACCOUNT = "meshservice-operator"
CONTROLLER = "meshservice-controller"
# The operator writes the kubeconfig it hands to ansible-runner with this port whatever --proxy-port says
# (v1.38.0, internal/ansible/controller/reconcile.go): one operator per machine, on this port.
PROXY_PORT = 8888
# Long enough for a demo session; the local control plane does not cap token lifetimes.
TOKEN_DURATION = "12h"


class OperatorError(RuntimeError):
    """The operator could not be built, installed or started; the message says which part and why."""


def log(message: str) -> None:
    print("[localoperator] %s" % message, file=sys.stderr, flush=True)


def pinned_version() -> str:
    """The Ansible Operator release tools/operator/versions.env pins."""
    for line in (HERE / "versions.env").read_text().splitlines():
        if line.startswith("ANSIBLE_OPERATOR_VERSION="):
            return line.split("=", 1)[1].strip()
    raise OperatorError("tools/operator/versions.env names no ANSIBLE_OPERATOR_VERSION")


def build_binary() -> Path:
    """Build (or reuse) the pinned ansible-operator; returns its path."""
    result = subprocess.run(["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise OperatorError("building the Ansible Operator failed (exit %d); see the output above" % result.returncode)
    return Path(result.stdout.strip().splitlines()[-1])


def venv_bin() -> Path:
    return Path(sys.executable).parent


def _run(command: List[str], stdin: Optional[str] = None) -> str:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise OperatorError("%s failed: %s" % (" ".join(Path(command[0]).name.split() + command[1:3]),
                                               (done.stderr or done.stdout).strip()[-2000:]))
    return done.stdout


def install_collection(target: Path) -> Path:
    """Build this collection's tarball and install it into ``target``/collections (the Dockerfile's way);
    kubernetes.core comes from the virtualenv's ansible package. Returns the collections path."""
    dist, collections = target / "dist", target / "collections"
    shutil.rmtree(collections, ignore_errors=True)
    galaxy = str(venv_bin() / "ansible-galaxy")
    _run([galaxy, "collection", "build", str(REPO), "--output-path", str(dist), "--force"])
    tarballs = sorted(dist.glob("meshops-istio_integrity-*.tar.gz"))
    if not tarballs:
        raise OperatorError("ansible-galaxy collection build left no tarball in %s" % dist)
    _run([galaxy, "collection", "install", str(tarballs[-1]), "-p", str(collections), "--no-deps", "--force"])
    return collections


def service_account_kubeconfig(plane_kubeconfig: Path, path: Path) -> Path:
    """The operator's identity: its ServiceAccount, bound by operator/rbac.yaml only, as a token kubeconfig.
    Created with the admin kubeconfig (what a cluster admin does once); returns ``path``."""
    def kubectl(*args: str, stdin: Optional[str] = None) -> str:
        return _run(["kubectl", "--kubeconfig", str(plane_kubeconfig)] + list(args), stdin=stdin)
    account = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE}}]}
    kubectl("apply", "-f", "-", stdin=json.dumps(account))
    kubectl("apply", "-f", str(RBAC))
    token = kubectl("create", "token", SERVICE_ACCOUNT, "-n", NAMESPACE, "--duration", TOKEN_DURATION).strip()
    admin = yaml.safe_load(Path(plane_kubeconfig).read_text())
    cluster = admin["clusters"][0]
    config = {"apiVersion": "v1", "kind": "Config", "clusters": [cluster],
              "users": [{"name": SERVICE_ACCOUNT, "user": {"token": token}}],
              "contexts": [{"name": SERVICE_ACCOUNT, "context": {"cluster": cluster["name"], "user": SERVICE_ACCOUNT}}],
              "current-context": SERVICE_ACCOUNT}
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def install_crd(plane_kubeconfig: Path) -> None:
    """The MeshService CRD must be served before the operator starts watching it."""
    for args in (["apply", "--server-side", "-f", str(CRD)],
                 ["wait", "--for=condition=Established", "--timeout=60s", "crd/meshservices.mesh.istio.operator"]):
        _run(["kubectl", "--kubeconfig", str(plane_kubeconfig)] + args)


class LocalOperator:
    """``start()`` once, ``stop()`` always; ``restart()`` in between keeps the ports and the identity."""

    def __init__(self, plane_kubeconfig: Path, workdir: Optional[Path] = None, detach: bool = False,
                 max_concurrent_reconciles: Optional[int] = None, reconcile_period: Optional[str] = None,
                 watches: Path = WATCHES) -> None:
        self.plane_kubeconfig = Path(plane_kubeconfig).resolve()
        self.dir = (Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="meshops-operator-"))).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.detach = detach
        self.max_concurrent_reconciles = max_concurrent_reconciles
        self.reconcile_period = reconcile_period
        self.watches = watches
        self.kubeconfig = self.dir / "operator.kubeconfig"
        self.log_path = self.dir / "operator.log"
        self.process: Optional[subprocess.Popen] = None
        self.binary: Optional[Path] = None
        self.collections: Optional[Path] = None
        self.ports: Dict[str, int] = {}

    def start(self) -> "LocalOperator":
        started = time.monotonic()
        try:
            self.binary = build_binary()
            self.collections = install_collection(self.dir)
            install_crd(self.plane_kubeconfig)
            service_account_kubeconfig(self.plane_kubeconfig, self.kubeconfig)
            self.ports = {name: localcluster.free_port() for name in ("metrics", "health")}
            self.ports["proxy"] = PROXY_PORT
            self._spawn()
        except BaseException:
            self.stop(remove=False)
            raise
        log("ansible-operator up in %.1fs (metrics %s, log %s)"
            % (time.monotonic() - started, self.metrics_url, self.log_path))
        return self

    def __enter__(self) -> "LocalOperator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def metrics_url(self) -> str:
        return "http://127.0.0.1:%d/metrics" % self.ports["metrics"]

    def command(self) -> List[str]:
        command = [str(self.binary), "run", "--watches-file", str(self.watches),
                   "--metrics-bind-address", "127.0.0.1:%d" % self.ports["metrics"],
                   "--health-probe-bind-address", "127.0.0.1:%d" % self.ports["health"],
                   "--proxy-port", str(self.ports["proxy"]), "--zap-time-encoding", "rfc3339"]
        if self.max_concurrent_reconciles:
            command += ["--max-concurrent-reconciles", str(self.max_concurrent_reconciles)]
        if self.reconcile_period:
            command += ["--reconcile-period", self.reconcile_period]
        return command

    def environment(self) -> Dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("K8S_AUTH_", "KUBECONFIG"))}
        env.update(PATH="%s%s%s" % (venv_bin(), os.pathsep, os.environ.get("PATH", "")),
                   VIRTUAL_ENV=str(venv_bin().parent), KUBECONFIG=str(self.kubeconfig),
                   ANSIBLE_COLLECTIONS_PATH=str(self.collections), ANSIBLE_LOCALHOST_WARNING="False",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_NOCOLOR="1",
                   # The role needs no facts of the host: the operator then runs it with --role-skip-facts.
                   ANSIBLE_GATHERING="explicit")
        return env

    def _spawn(self) -> None:
        with open(self.log_path, "ab") as logfile:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                self.command(), cwd=self.dir, env=self.environment(), stdout=logfile, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=None if self.detach else localcluster._die_with_parent)  # pylint: disable=protected-access
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OperatorError("ansible-operator exited with code %s:\n%s"
                                    % (self.process.returncode, self.log_tail()))
            if localcluster._http_ok("http://127.0.0.1:%d/readyz" % self.ports["health"]) and \
                    "Starting workers" in self.log_text():  # pylint: disable=protected-access
                return
            time.sleep(0.2)
        raise OperatorError("ansible-operator not ready after 60s:\n%s" % self.log_tail())

    def restart(self) -> None:
        """Stop the process (as a rollout or a crash would) and start it again on the same ports."""
        self._terminate()
        self._spawn()

    def kill(self) -> None:
        """SIGKILL, as an OOM kill or a node loss: no graceful shutdown of the running reconciles."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def _terminate(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # The whole session: ansible-runner and ansible-playbook children too.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def stop(self, remove: bool = True) -> None:
        self._terminate()
        self.process = None
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:  # noqa: S310 (loopback only)
            return response.read().decode()


def _up(state_dir: Path, max_concurrent_reconciles: Optional[int]) -> None:
    operator_dir = state_dir / "operator"
    if (operator_dir / "state.json").exists():
        raise OperatorError("an operator is already running from %s; run 'make operator-down' first" % operator_dir)
    if not (state_dir / "kubeconfig").exists():
        raise OperatorError("no control plane in %s: run 'make cluster-up' first" % state_dir)
    operator = LocalOperator(state_dir / "kubeconfig", operator_dir, detach=True,
                             max_concurrent_reconciles=max_concurrent_reconciles).start()
    (operator_dir / "state.json").write_text(json.dumps({"pid": operator.process.pid, "metrics": operator.metrics_url}))
    print(operator.log_path)


def _down(state_dir: Path) -> None:
    operator_dir = state_dir / "operator"
    state_file = operator_dir / "state.json"
    if not state_file.exists():
        log("no operator recorded in %s" % operator_dir)
        return
    pid = json.loads(state_file.read_text())["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
        for _attempt in range(450):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    state_file.unlink()
    log("operator stopped (log kept in %s)" % (operator_dir / "operator.log"))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "up", "down", "logs"])
    parser.add_argument("--state", type=Path, default=REPO / ".cluster", help="where 'make cluster-up' recorded the cluster")
    parser.add_argument("--max-concurrent-reconciles", type=int, help="the operator's flag of that name")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build_binary())
        elif args.command == "up":
            _up(args.state, args.max_concurrent_reconciles)
        elif args.command == "down":
            _down(args.state)
        else:
            path = args.state / "operator" / "operator.log"
            print(path.read_text(errors="replace") if path.exists() else "no operator log in %s" % path.parent)
    except (OperatorError, localcluster.ControlPlaneError) as error:
        log("error: %s" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
