# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager.

Used by the pytest fixtures, the molecule scenario and the demo; also a CLI:

    localcluster.py up --state .cluster      # start in the background, write .cluster/kubeconfig
    localcluster.py down --state .cluster    # stop it and remove its files
    localcluster.py stray                    # exit 1 if any control-plane process is still running

Certificates are generated per run (CA, serving cert, service-account key, an
admin client cert in system:masters, a restricted user without any role).
Istio's CRDs are installed from ``MESHOPS_ISTIO_CRDS``, or by default from a
pinned istio.io/istio module fetched through the Go module proxy into Go's module
cache (outside the repository), the same way the binaries are built; the
Kubernetes Gateway API's standard-channel CRDs likewise from a pinned
sigs.k8s.io/gateway-api module.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# Istio's CRDs at a pinned commit, as its Helm chart installs them.
ISTIO_MODULE = "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"
ISTIO_CRDS_PATH = "manifests/charts/base/files/crd-all.gen.yaml"
# The Kubernetes Gateway API, standard channel, at a pinned release (v1.7 needs a newer Go than this machine's).
GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api@v1.6.3"
GATEWAY_API_CRDS_DIR = "config/crd/standard"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
# The OpenAPI v3 documents the API server serves at /openapi/v3/<path>, as the Kubernetes module ships them.
OPENAPI_V3_DIR = "api/openapi-spec/v3"
RESTRICTED_USER = "restricted-reader"
RESTRICTED_TOKEN_FILE = "restricted.token"


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message says which part and why."""


def log(message: str) -> None:
    print("[localcluster] %s" % message, file=sys.stderr, flush=True)


def build_binaries() -> Path:
    """Build (or reuse) the binaries; returns their directory."""
    started = time.monotonic()
    result = subprocess.run(["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError("building the control plane failed (exit %d); see the output above" % result.returncode)
    bin_dir = Path(result.stdout.strip().splitlines()[-1])
    log("binaries ready in %s (%.0fs)" % (bin_dir, time.monotonic() - started))
    return bin_dir


def module_dir(module: str) -> Path:
    """The directory of a pinned Go module, fetched through the Go module proxy into Go's module cache."""
    with tempfile.TemporaryDirectory(prefix="meshops-go-") as workdir:
        download = subprocess.run(["go", "mod", "download", "-json", module], cwd=workdir, capture_output=True,
                                  text=True, check=False, timeout=900,
                                  env=dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod"))
    try:
        info = json.loads(download.stdout)
    except ValueError:
        info = {"Error": download.stderr.strip() or "no output"}
    if info.get("Error") or not info.get("Dir"):
        raise ControlPlaneError("cannot fetch %s from the Go module proxy: %s" % (module, info.get("Error")))
    return Path(info["Dir"])


@functools.lru_cache(maxsize=None)
def crd_bundle() -> Path:
    """Istio's CRD bundle: ``MESHOPS_ISTIO_CRDS``, or the pinned module's from the Go module proxy."""
    configured = os.environ.get("MESHOPS_ISTIO_CRDS")
    if configured:
        if not Path(configured).is_file():
            raise ControlPlaneError("MESHOPS_ISTIO_CRDS=%s is not a file" % configured)
        return Path(configured)
    bundle = module_dir(ISTIO_MODULE) / ISTIO_CRDS_PATH
    if not bundle.is_file():
        raise ControlPlaneError("%s has no %s" % (ISTIO_MODULE, ISTIO_CRDS_PATH))
    return bundle


@functools.lru_cache(maxsize=None)
def gateway_api_crds() -> List[Path]:
    """The Gateway API's standard-channel CRDs of the pinned release (its admission policy is left out)."""
    files = sorted(path for path in (module_dir(GATEWAY_API_MODULE) / GATEWAY_API_CRDS_DIR).glob("*.yaml")
                   if "_vap_" not in path.name)
    if not files:
        raise ControlPlaneError("%s has no CRDs in %s" % (GATEWAY_API_MODULE, GATEWAY_API_CRDS_DIR))
    return files


def kubernetes_version() -> str:
    """KUBERNETES_VERSION of versions.env (the release the control plane is built from)."""
    for line in (HERE / "versions.env").read_text(encoding="utf-8").splitlines():
        name, _equals, value = line.partition("=")
        if name.strip() == "KUBERNETES_VERSION":
            return value.strip()
    raise ControlPlaneError("versions.env pins no KUBERNETES_VERSION")


def kubernetes_module() -> str:
    return "k8s.io/kubernetes@%s" % kubernetes_version()


def openapi_v3(path: str) -> Path:
    """The pinned Kubernetes module's OpenAPI v3 document of ``path`` (``api/v1``, ``apis/apps/v1``)."""
    document = module_dir(kubernetes_module()) / OPENAPI_V3_DIR / ("%s_openapi.json" % path.replace("/", "__"))
    if not document.is_file():
        raise ControlPlaneError("%s has no %s" % (kubernetes_module(), document.name))
    return document


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Children get SIGTERM when the process that started them dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class _PKI:
    """A throwaway CA and the certificates the control plane needs."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshops-local-ca")])
        self.ca_cert = self._builder(name, name, self.ca_key.public_key()).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(self.ca_key, hashes.SHA256())
        self.write("ca.crt", self.ca_cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def _builder(subject, issuer, public_key) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.timezone.utc)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=2)))

    def write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def issue(self, stem: str, common_name: str, groups: List[str] = (), server: bool = False) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        builder = self._builder(x509.Name(attributes), self.ca_cert.subject, key.public_key())
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default.svc"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        self.write(stem + ".crt", cert.public_bytes(serialization.Encoding.PEM))
        self.write(stem + ".key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))

    def service_account_keys(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.write("sa.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        self.write("sa.pub", key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo))


class LocalControlPlane:
    """Start with ``start()``, always ``stop()``; usable as a context manager."""

    def __init__(self, bin_dir: Path, workdir: Optional[Path] = None, detach: bool = False,
                 priority_and_fairness: bool = False) -> None:
        self.bin_dir = Path(bin_dir)
        # API Priority and Fairness costs CPU on a 2-core machine; the throttling test turns it on.
        self.priority_and_fairness = priority_and_fairness
        self.dir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="meshops-cp-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.detach = detach
        self.processes: Dict[str, subprocess.Popen] = {}
        self.port = 0
        self.kubeconfig = self.dir / "kubeconfig"
        self.restricted_kubeconfig = self.dir / "restricted.kubeconfig"

    # -- lifecycle -------------------------------------------------------------
    def start(self, install_crds: bool = True, gateway_api: bool = True) -> "LocalControlPlane":
        started = time.monotonic()
        try:
            self._certificates()
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfigs()
            self._start_controller_manager()
            if install_crds:
                self.install_crds(crd_bundle(), *(gateway_api_crds() if gateway_api else []))
        except BaseException:
            self.stop()
            raise
        self._write_state()
        log("control plane up at %s in %.1fs (kubeconfig %s)" % (self.server, time.monotonic() - started,
                                                                 self.kubeconfig))
        return self

    def __enter__(self) -> "LocalControlPlane":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def server(self) -> str:
        return "https://127.0.0.1:%d" % self.port

    def stop(self, remove: bool = True) -> None:
        """Stop every process (controller-manager first, etcd last) and remove the work dir."""
        for name in reversed(list(self.processes)):
            _terminate(self.processes[name])
        self.processes.clear()
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _spawn(self, name: str, args: List[str]) -> subprocess.Popen:
        logfile = open(self.dir / (name + ".log"), "wb")  # pylint: disable=consider-using-with
        process = subprocess.Popen([str(self.bin_dir / name)] + args, stdout=logfile, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=None if self.detach else _die_with_parent)
        logfile.close()
        self.processes[name] = process
        return process

    def _log_tail(self, name: str, lines: int = 15) -> str:
        path = self.dir / (name + ".log")
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait(self, name: str, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                code = self.processes[name].returncode
                raise ControlPlaneError("%s exited with code %s:\n%s" % (name, code, self._log_tail(name)))
            if ready():
                return
            time.sleep(0.2)
        raise ControlPlaneError("%s not ready after %ds:\n%s" % (name, timeout, self._log_tail(name)))

    # -- components ------------------------------------------------------------
    def _certificates(self) -> None:
        pki = _PKI(self.dir)
        pki.issue("apiserver", "kube-apiserver", server=True)
        pki.issue("admin", "meshops-admin", ["system:masters"])
        pki.issue("controller-manager", "system:kube-controller-manager", ["system:masters"])
        pki.issue("restricted", RESTRICTED_USER)
        pki.service_account_keys()
        token = os.urandom(16).hex()
        pki.write(RESTRICTED_TOKEN_FILE, token.encode())
        pki.write("tokens.csv", ('%s,%s,%s-uid\n' % (token, RESTRICTED_USER, RESTRICTED_USER)).encode())

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = "http://127.0.0.1:%d" % client
        self._spawn("etcd", [
            "--name=meshops", "--data-dir=%s" % (self.dir / "etcd"),
            "--listen-client-urls=%s" % self.etcd_url, "--advertise-client-urls=%s" % self.etcd_url,
            "--listen-peer-urls=http://127.0.0.1:%d" % peer, "--initial-advertise-peer-urls=http://127.0.0.1:%d" % peer,
            "--initial-cluster=meshops=http://127.0.0.1:%d" % peer, "--unsafe-no-fsync", "--log-level=warn"])
        self._wait("etcd", lambda: _http_ok(self.etcd_url + "/health"), 30)

    def stop_apiserver(self) -> None:
        """Kill the API server alone (etcd keeps the data), as an outage in the middle of a run."""
        _terminate(self.processes.pop("kube-apiserver"))

    def restart_apiserver(self) -> None:
        """Start the API server again on the same port, so every kubeconfig still points at it."""
        self._start_apiserver(port=self.port)

    def _start_apiserver(self, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        d = self.dir
        self._spawn("kube-apiserver", [
            "--etcd-servers=%s" % self.etcd_url, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            "--secure-port=%d" % self.port, "--cert-dir=%s" % d,
            "--tls-cert-file=%s" % (d / "apiserver.crt"), "--tls-private-key-file=%s" % (d / "apiserver.key"),
            "--client-ca-file=%s" % (d / "ca.crt"), "--token-auth-file=%s" % (d / "tokens.csv"),
            "--service-account-key-file=%s" % (d / "sa.pub"),
            "--service-account-signing-key-file=%s" % (d / "sa.key"),
            "--service-account-issuer=https://kubernetes.default.svc",
            "--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/16",
            # Pods are created without waiting for their service account; nothing runs them anyway.
            "--disable-admission-plugins=ServiceAccount",
            "--enable-priority-and-fairness=%s" % str(self.priority_and_fairness).lower(),
            "--profiling=false", "--v=1"])
        self._wait("kube-apiserver", self._readyz, 90)

    def _readyz(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.dir / "ca.crt"))
        context.load_cert_chain(str(self.dir / "admin.crt"), str(self.dir / "admin.key"))
        return _http_ok(self.server + "/readyz", context)

    def _start_controller_manager(self) -> None:
        d = self.dir
        _write_kubeconfig(d / "controller-manager.kubeconfig", self.server, d, "controller-manager")
        self._spawn("kube-controller-manager", [
            "--kubeconfig=%s" % (d / "controller-manager.kubeconfig"), "--leader-elect=false", "--secure-port=0",
            "--service-account-private-key-file=%s" % (d / "sa.key"), "--root-ca-file=%s" % (d / "ca.crt"),
            "--use-service-account-credentials=false", "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle",
            "--v=1"])
        self._wait("kube-controller-manager", lambda: True, 5)

    def _write_kubeconfigs(self) -> None:
        _write_kubeconfig(self.kubeconfig, self.server, self.dir, "admin")
        _write_kubeconfig(self.restricted_kubeconfig, self.server, self.dir, "restricted")

    @property
    def restricted_token(self) -> str:
        return (self.dir / RESTRICTED_TOKEN_FILE).read_text().strip()

    # -- cluster content -------------------------------------------------------
    def kubectl(self, *args: str, stdin: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
        command = ["kubectl", "--kubeconfig", str(self.kubeconfig)] + list(args)
        result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False, timeout=180)
        if check and result.returncode != 0:
            raise ControlPlaneError("kubectl %s failed: %s" % (" ".join(args), result.stderr.strip()))
        return result

    def install_crds(self, *bundles: Path) -> None:
        log("installing %d CRD file(s) from %s" % (len(bundles), ", ".join(sorted({str(b.parent) for b in bundles}))))
        # create, not apply: the bundle's CRDs exceed the last-applied annotation size limit.
        self.kubectl("create", *[argument for bundle in bundles for argument in ("-f", str(bundle))])
        self._wait_established(120)

    def _wait_established(self, timeout: float) -> None:
        """Poll until every CRD is Established. (`kubectl wait --all` errors out instead of waiting
        when a CRD has no status conditions yet, which happens right after creation under load.)"""
        deadline = time.monotonic() + timeout
        pending: List[str] = []
        while time.monotonic() < deadline:
            crds = json.loads(self.kubectl("get", "crd", "-o", "json").stdout)["items"]
            pending = [crd["metadata"]["name"] for crd in crds
                       if not any(c.get("type") == "Established" and c.get("status") == "True"
                                  for c in (crd.get("status") or {}).get("conditions") or [])]
            if crds and not pending:
                return
            time.sleep(0.5)
        raise ControlPlaneError("CRDs not Established after %ds: %s" % (timeout, ", ".join(pending) or "none created"))

    def grant_read(self, namespaces: List[str], user: str = RESTRICTED_USER) -> None:
        """Let ``user`` read Istio config, Services, Pods and Secret names in these namespaces only."""
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "meshops-mesh-reader"},
            "rules": [{"apiGroups": ["networking.istio.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["services", "pods", "secrets"], "verbs": ["get", "list"]}]}
        documents = [role] + [{
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "meshops-mesh-reader", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "meshops-mesh-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
            for namespace in namespaces]
        self.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}))

    # -- background mode ---------------------------------------------------------
    def _write_state(self) -> None:
        state = {"dir": str(self.dir), "server": self.server,
                 "pids": {name: process.pid for name, process in self.processes.items()}}
        (self.dir / "state.json").write_text(json.dumps(state))


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _http_ok(url: str, context: Optional[ssl.SSLContext] = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 (loopback only)
            return response.status == 200
    except (OSError, ValueError):
        return False


def _write_kubeconfig(path: Path, server: str, cert_dir: Path, user: str) -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "meshops-local",
        "clusters": [{"name": "meshops-local",
                      "cluster": {"server": server, "certificate-authority": str(cert_dir / "ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert_dir / (user + ".crt")),
                                          "client-key": str(cert_dir / (user + ".key"))}}],
        "contexts": [{"name": "meshops-local", "context": {"cluster": "meshops-local", "user": user}}],
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)


def stray_processes(bin_dir: Optional[Path] = None) -> List[str]:
    """Command lines of running control-plane processes started from our cache (any version)."""
    marker = str(bin_dir) if bin_dir else "meshops-istio-integrity"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        exe = argv[0].decode(errors="replace") if argv else ""
        if marker in exe and Path(exe).name in BINARIES:
            found.append("%s %s" % (proc.name, exe))
    return found


def _up(state_dir: Path) -> None:
    if (state_dir / "state.json").exists():
        raise ControlPlaneError("a control plane is already running from %s; run 'make cluster-down' first" % state_dir)
    plane = LocalControlPlane(build_binaries(), Path(tempfile.mkdtemp(prefix="meshops-cp-")), detach=True)
    plane.start()
    state_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(plane.kubeconfig, state_dir / "kubeconfig")
    shutil.copy(plane.restricted_kubeconfig, state_dir / "restricted.kubeconfig")
    shutil.copy(plane.dir / "state.json", state_dir / "state.json")
    print(state_dir / "kubeconfig")


def _down(state_dir: Path) -> None:
    state_file = state_dir / "state.json"
    if not state_file.exists():
        log("no control plane recorded in %s" % state_dir)
        return
    state = json.loads(state_file.read_text())
    for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
        pid = state["pids"].get(name)
        if pid:
            _kill(pid)
    shutil.rmtree(state["dir"], ignore_errors=True)
    for name in ("state.json", "kubeconfig", "restricted.kubeconfig"):
        (state_dir / name).unlink(missing_ok=True)
    log("control plane stopped")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _attempt in range(150):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "up", "down", "stray"])
    parser.add_argument("--state", type=Path, default=REPO / ".cluster", help="where 'up' records the cluster")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build_binaries())
        elif args.command == "up":
            _up(args.state)
        elif args.command == "down":
            _down(args.state)
        else:
            stray = stray_processes()
            for line in stray:
                print("stray control-plane process: %s" % line)
            return 1 if stray else 0
    except ControlPlaneError as error:
        log("error: %s" % error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
