# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`: the offline integrity check on synthetic meshes of 1k, 10k and 30k Services.

Each mesh: per Service a Deployment, a VirtualService on one of 100 Gateways and a
DestinationRule, plus planted violations of every code. The reference is istioctl
(built from the pinned Istio module by tools/istioctl/build.sh) running
``istioctl analyze --use-kube=false -A`` on the same files, side by side with our module
through ansible-playbook (fast loader, and the PyYAML fallback), with both peak memories
(max RSS of the process tree). Also: the floor of only parsing the same files with
PyYAML's C loader, and the ten slowest checks. Each measurement runs in a fresh process.

The same check is also timed as a user runs it, the shipped playbook through
ansible-playbook with its default options (locations, reports and all), and run
through ansible-runner as AWX runs it, to measure the job events it produces.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / ".collections"))
SIZES = (1000, 10000, 30000)
GATEWAYS = 100
NAMESPACES = 50
FQDN = "%s.%s.svc.cluster.local"

# Every code, with how many violations the planted objects below produce.
PLANTED = {
    "MSH101": 1, "MSH102": 2, "MSH103": 1, "MSH104": 1, "MSH105": 1, "MSH106": 1, "MSH107": 2, "MSH108": 1,
    "MSH109": 1, "MSH110": 1, "MSH201": 2, "MSH202": 2, "MSH203": 2, "MSH204": 2, "MSH301": 1,
    "MSH302": 2, "MSH303": 2, "MSH304": 1, "MSH401": 1, "MSH402": 1, "MSH403": 1, "MSH501": 1, "MSH502": 1,
    "MSH503": 1, "MSH507": 1, "MSH601": 1,
    # dup-205 repeats a port name: the API server refuses it (MSH803), and with the refused name left out of
    # the other checks MSH205 (which says the same where schema validation is off) does not repeat it.
    "MSH803": 1,
}


def svc(i: int) -> str:
    return FQDN % ("svc-%d" % i, "ns-%d" % (i % NAMESPACES))


def route(host: str, port: int = 80, **extra: Any) -> Dict[str, Any]:
    destination = {"host": host, "port": {"number": port}}
    destination.update(extra)
    return {"destination": destination}


def vs(name: str, hosts: List[str], routes: List[Dict[str, Any]], gateways: List[str] = (), **rule: Any):
    spec: Dict[str, Any] = {"hosts": hosts, "http": [dict(rule, route=routes)]}
    if gateways:
        spec["gateways"] = list(gateways)
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "planted"}, "spec": spec}


def gateway(name: str, selector: Dict[str, str], port: int, hosts: List[str], **tls: Any) -> Dict[str, Any]:
    server: Dict[str, Any] = {"port": {"number": port, "name": ("https-%d" if tls else "http-%d") % port,
                                       "protocol": "HTTPS" if tls else "HTTP"},
                              "hosts": hosts}
    if tls:
        server["tls"] = dict(mode="SIMPLE", **tls)
    return {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": "istio-system"}, "spec": {"selector": selector, "servers": [server]}}


def service(name: str, namespace: str, ports: List[Dict[str, Any]], selector: Dict[str, str] = None):
    spec: Dict[str, Any] = {"ports": ports}
    if selector:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def deployment(name: str, namespace: str, labels: Dict[str, str]) -> Dict[str, Any]:
    container = {"name": "app", "image": "x", "ports": [{"containerPort": 80}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


def dr(name: str, namespace: str, host: str, subsets: List[str]) -> Dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"host": host, "subsets": [{"name": s, "labels": {"version": s}} for s in subsets]}}


INGRESS = {"istio": "ingressgateway"}


def planted() -> List[Dict[str, Any]]:
    """One small object group per code; the comment says what each adds (conflicts count every party)."""
    return [
        vs("p101", ["p101.example.com"], [route(svc(0))], ["istio-system/no-such-gateway"]),        # 101 (+107)
        vs("p102", ["p102.internal"], [dict(route(svc(0)), weight=50), dict(route("ghost-102"), weight=50)]),  # 102
        vs("p103", ["p103.internal"], [route(svc(0), subset="v9")]),                                  # 103
        vs("p104", ["p104.internal"], [route(svc(0), 81)]),                                           # 104
        service("multi-105", "planted", [{"name": "http", "port": 80}, {"name": "http-b", "port": 81}]),
        vs("p105", ["p105.example.com"], [{"destination": {"host": "multi-105"}}], ["istio-system/g-0"]),  # 105
        dr("p106", "planted", "nothing-106", []),                                                     # 106
        vs("p107", ["p107.example.com"], [route(svc(1))], ["istio-system/g-1"]),                      # 107
        vs("p108", ["p108.internal"], [route("ghost-108")]),                                          # 108 (+102)
        gateway("tls-109", INGRESS, 443, ["p109.example.com"], credentialName="missing-cert"),
        vs("p109", ["p109.example.com"], [route(svc(2))], ["istio-system/tls-109"]),                  # 109
        gateway("dup-201", INGRESS, 80, ["p201.example.com", "svc-0.example.com"]),
        vs("p201", ["p201.example.com"], [route(svc(3))], ["istio-system/dup-201"]),                  # 201 (and g-0)
        vs("p202", ["svc-5.example.com"], [route(svc(5))], ["istio-system/g-5"]),                     # 202 (and svc-5)
        dr("p203", "ns-6", "svc-6", ["v1"]),                                                          # 203 (and svc-6)
        {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "se-204a", "namespace": "planted"},
         "spec": {"hosts": ["api.p204.example.com"], "ports": [{"number": 443, "name": "https", "protocol": "HTTPS"}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "se-204b", "namespace": "planted"},
         "spec": {"hosts": ["api.p204.example.com"], "ports": [{"number": 443, "name": "https", "protocol": "HTTPS"}]}},  # 204 x2
        service("dup-205", "planted", [{"name": "http", "port": 80}, {"name": "http", "port": 81}]),  # 205
        vs("p301", ["p301.internal"], [dict(route(svc(7)), weight=60), dict(route(svc(8)), weight=30)]),  # 301
        vs("p302", ["p302.internal"], [dict(route(svc(9)), weight=50), dict(route(svc(9)), weight=50)]),  # 302 x2
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "p303", "namespace": "planted"},
         "spec": {"hosts": ["p303.internal"],
                  "http": [{"match": [{"uri": {"prefix": "/x"}}], "route": [route(svc(10))]},
                           {"match": [{"uri": {"prefix": "/x"}}], "route": [route(svc(10))]},  # 304
                           {"route": [route(svc(10))]}, {"route": [route(svc(10))]}]}},  # 303
        gateway("g-401", {"istio": "nothing"}, 80, ["p401.example.com"]),
        vs("p401", ["p401.example.com"], [route(svc(11))], ["istio-system/g-401"]),                   # 401
        service("lonely-402", "planted", [{"name": "http", "port": 80}], {"app": "lonely-402"}),
        deployment("lonely-402", "planted", {"app": "lonely-402", "version": "v1"}),
        dr("p402", "planted", "lonely-402", ["v2"]),                                                  # 402
        gateway("g-403", INGRESS, 9443, ["p403.example.com"]),
        vs("p403", ["p403.example.com"], [route(svc(12))], ["istio-system/g-403"]),                   # 403
        gateway("g-501", INGRESS, 80, ["p501.example.com"]),                                          # 501
        service("badname-502", "planted", [{"name": "web", "port": 80}]),                             # 502
        vs("p110", ["p110.example.com"], [route(svc(13))], ["istio-system/web-istio-autogenerated-k8s-gateway-http"]),  # 110
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "p503", "namespace": "planted"},
         "spec": {"host": svc(14), "subsets": [{"name": "all"}]}},                                  # 503
        {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "se-507", "namespace": "planted"},
         "spec": {"hosts": ["db.p507.example.com"], "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}]}},  # 507
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "p601", "namespace": "planted"},
         "spec": {"host": "api.p204.example.com", "trafficPolicy": {"tls": {"mode": "SIMPLE"}}}},       # 601
    ]


def generate(directory: Path, services: int) -> None:
    """Write the mesh: one file per namespace plus istio-system and the planted faults."""
    directory.mkdir(parents=True, exist_ok=True)
    per_namespace: Dict[int, List[Dict[str, Any]]] = {}
    gateway_hosts: Dict[int, List[str]] = {}
    for i in range(services):
        namespace, name, host = "ns-%d" % (i % NAMESPACES), "svc-%d" % i, "svc-%d.example.com" % i
        labels = {"app": name, "version": "v1"}
        gateway_hosts.setdefault(i % GATEWAYS, []).append(host)
        per_namespace.setdefault(i % NAMESPACES, []).extend([
            service(name, namespace, [{"name": "http", "port": 80}], {"app": name}),
            deployment(name, namespace, labels),
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": {"name": name, "namespace": namespace},
             "spec": {"hosts": [host], "gateways": ["istio-system/g-%d" % (i % GATEWAYS)],
                      "http": [{"route": [{"destination": {"host": name, "subset": "v1", "port": {"number": 80}}}]}]}},
            dr(name, namespace, name, ["v1"]),
        ])
    gateway_hosts[0].append("p105.example.com")
    system = [deployment("istio-ingressgateway", "istio-system", INGRESS),
              service("istio-ingressgateway", "istio-system",
                      [{"name": "http2", "port": 80}, {"name": "https", "port": 443}], INGRESS)]
    system.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ingress-cert", "namespace": "istio-system"}})
    system += [gateway("g-%d" % g, INGRESS, 80, hosts) for g, hosts in sorted(gateway_hosts.items())]
    files = {"istio-system.yaml": system, "planted.yaml": planted()}
    files.update({"ns-%d.yaml" % n: docs for n, docs in per_namespace.items()})
    for name, docs in files.items():
        with open(directory / name, "w", encoding="utf-8") as handle:
            yaml.dump_all(docs, handle, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def measure(kind: str, directory: str) -> Dict[str, Any]:
    """Runs in a fresh process: parse-only floor, or the whole offline integrity run."""
    started = time.perf_counter()
    if kind == "html":
        from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import (  # pylint: disable=import-outside-toplevel
            IntegrityRequest, run_integrity)
        from ansible_collections.meshops.istio_integrity.plugins.module_utils.reports.html import to_html  # pylint: disable=import-outside-toplevel
        facts = run_integrity(IntegrityRequest(src=[directory], include_objects=False, graph="all"))
        checked = time.perf_counter()
        page = to_html(facts)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".html") as handle:
            handle.write(page)
        result = {"check_s": checked - started, "render_s": time.perf_counter() - checked,
                  "mib": len(page.encode("utf-8")) / 1048576, "nodes": len(facts["graph"]["nodes"]),
                  "edges": len(facts["graph"]["edges"])}
    elif kind == "floor":
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        documents = 0
        for path in sorted(Path(directory).glob("*.yaml")):
            documents += sum(1 for _document in yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader))
        result: Dict[str, Any] = {"documents": documents}
    else:
        from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import (  # pylint: disable=import-outside-toplevel
            IntegrityRequest, run_integrity)
        facts = run_integrity(IntegrityRequest(src=[directory], include_objects=False,
                                               schema_validation=kind != "engine-without-schema"))
        result = {"by_code": facts["summary"]["by_code"], "objects": sum(facts["summary"]["scanned"].values()),
                  "complete": facts["summary"]["complete"]}
    result["seconds"] = time.perf_counter() - started
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure_checks(directory: str) -> Dict[str, Any]:
    """Each check's query alone on the loaded model, slowest first (runs in a fresh process)."""
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import checks as catalogue  # pylint: disable=import-outside-toplevel
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import MeshModel  # pylint: disable=import-outside-toplevel
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import loading  # pylint: disable=import-outside-toplevel
    model = MeshModel()
    loading.load_paths(model, [directory])
    model.mark_scanned(("PeerAuthentication", "ReferenceGrant", "GatewayClass", "Namespace", "KubernetesGateway"))
    model.assume_istio_defaults("istio-system")
    database = model.finish().db
    mesh = model.mesh("istio-system")
    parameters = {"domain": model.domain, "root_namespace": mesh.root_namespace or "istio-system",
                  "auto_mtls": int(mesh.enable_auto_mtls), "namespaces_scanned": 0, "live": 0}
    seconds = {}
    for check in catalogue.CATALOGUE:
        started = time.perf_counter()
        database.execute(check.sql, parameters).fetchall()
        seconds[check.code] = time.perf_counter() - started
    return {"slowest": sorted(seconds.items(), key=lambda item: -item[1])[:10], "total": sum(seconds.values()),
            "checks": len(seconds), "seconds": sum(seconds.values())}


def timed(command: List[str], **options: Any) -> Dict[str, Any]:
    """Wall time and peak memory (the largest max RSS in the process tree, as wait4 reports it) of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, "rc": process.returncode,
            "stdout": stdout.decode("utf-8", "replace"), "stderr": stderr.decode("utf-8", "replace")}


def isolated(kind: str, *arguments: str) -> Dict[str, Any]:
    """One ``timed`` measurement in a fresh Python process, so its peak memory is its own."""
    return json.loads(subprocess.run([sys.executable, __file__, "--timed", kind] + list(arguments), check=True,
                                     capture_output=True, text=True).stdout)


def istioctl_binary() -> str:
    """istioctl built from the pinned Istio module (once: it is cached outside the repository)."""
    return subprocess.run(["bash", str(REPO / "tools" / "istioctl" / "build.sh")], check=True,
                          capture_output=True, text=True).stdout.strip()


def run_timed(kind: str, directory: str) -> Dict[str, Any]:
    """istioctl or our module (auto or pyyaml loader) through ansible-playbook, on the mesh's files."""
    if kind == "istioctl":
        istioctl = istioctl_binary()
        paths = sorted(str(path) for path in Path(directory).glob("*.yaml"))
        result = timed([istioctl, "analyze", "--use-kube=false", "-A"] + paths)
        codes: Dict[str, int] = {}
        for line in result["stdout"].splitlines():
            if line.startswith(("Error [", "Warning [", "Info [")):
                code = line.split("[", 1)[1].split("]", 1)[0]
                codes[code] = codes.get(code, 0) + 1
        return {"seconds": result["seconds"], "peak_mib": result["peak_mib"], "by_code": codes}
    with tempfile.TemporaryDirectory(prefix="meshops-bench-") as workdir:
        playbook = Path(workdir) / "check.yml"
        playbook.write_text(json.dumps([{"name": "Check", "hosts": "localhost", "connection": "local",
                                         "gather_facts": False, "tasks": [{
                                             "name": "Collect integrity facts",
                                             "meshops.istio_integrity.istio_integrity_facts": {
                                                 "src": directory, "yaml_loader": kind}}]}]))
        # The facts reach the bench through Ansible's JSON fact cache: no second task to time.
        env = dict(playbook_env(), ANSIBLE_CACHE_PLUGIN="ansible.builtin.jsonfile",
                   ANSIBLE_CACHE_PLUGIN_CONNECTION=str(Path(workdir) / "facts"))
        result = timed([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook)],
                       cwd=workdir, env=env)
        if result["rc"] != 0:
            raise RuntimeError("ansible-playbook failed: %s" % result["stdout"][-2000:])
        (cached,) = (Path(workdir) / "facts").glob("*localhost")
        facts = json.loads(cached.read_text())
        if "__payload__" in facts:  # ansible-core 2.19 wraps what it caches
            facts = json.loads(facts["__payload__"])
        summary = facts["istio_integrity"]["summary"]
    return {"seconds": result["seconds"], "peak_mib": result["peak_mib"], "by_code": summary["by_code"],
            "loader": summary["loader"]["files"], "complete": summary["complete"]}


def best_timed(kind: str, directory: Path, repeat: int) -> Dict[str, Any]:
    return min((isolated(kind, str(directory)) for _run in range(repeat)), key=lambda run: run["seconds"])


def playbook_env() -> Dict[str, str]:
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_LOCALHOST_WARNING="False",
                ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_PYTHON_INTERPRETER=sys.executable)


def measure_playbook(directory: Path, repeat: int = 3) -> float:
    """Best wall time of the shipped playbook on the mesh, started in a scratch directory with a relative src."""
    times = []
    for _run in range(repeat):
        with tempfile.TemporaryDirectory(prefix="meshops-bench-") as workdir:
            (Path(workdir) / "manifests").symlink_to(directory)
            started = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                            "meshops.istio_integrity.integrity_check", "-e", "integrity_src=manifests/",
                            "-e", "integrity_fail_on=never"], cwd=workdir, env=dict(playbook_env(), PWD=workdir),
                           check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    return min(times)


def measure_job_events(directory: Path) -> Dict[str, float]:
    """The shipped playbook through ansible-runner, as AWX runs it: largest job event and the whole stdout, in kB."""
    import ansible_runner  # pylint: disable=import-outside-toplevel
    # ansible-runner starts the ansible-playbook it finds on PATH: this venv's.
    os.environ["PATH"] = "%s%s%s" % (Path(sys.executable).parent, os.pathsep, os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory(prefix="meshops-runner-") as workdir:
        project = Path(workdir) / "project"
        project.mkdir()
        (project / "manifests").symlink_to(directory)
        (project / "check.yml").write_text("- import_playbook: meshops.istio_integrity.integrity_check\n")
        env = {key: value for key, value in playbook_env().items() if key.startswith("ANSIBLE_")}
        env["PWD"] = str(project)
        runner = ansible_runner.run(private_data_dir=workdir, playbook="check.yml", inventory="localhost,",
                                    extravars={"integrity_src": "manifests/", "integrity_fail_on": "never"},
                                    envvars=env, quiet=True)
        stdout = runner.stdout.read()
        if runner.rc != 0:
            raise RuntimeError("ansible-runner: rc %s: %s" % (runner.rc, stdout[-2000:]))
        sizes = [len(json.dumps(event)) for event in runner.events]
        return {"events": len(sizes), "largest_kb": max(sizes) / 1024, "stdout_kb": len(stdout) / 1024}


def run_measure(kind: str, directory: Path, repeat: int = 3) -> Dict[str, Any]:
    """Best of ``repeat`` fresh processes: the least disturbed run, as timeit does."""
    runs = [json.loads(subprocess.run([sys.executable, __file__, "--measure", kind, str(directory)], check=True,
                                      capture_output=True, text=True).stdout) for _run in range(repeat)]
    return min(runs, key=lambda run: run["seconds"])


def print_table(title: str, headers: str, row_format: str, rows: List[tuple]) -> None:
    """A Markdown table (``headers`` and ``row_format`` split on '|'); nothing without rows."""
    if not rows:
        return
    columns = headers.split("|")
    print("\n%s\n" % title)
    print("| %s |" % " | ".join(columns))
    print("|%s|" % "|".join(":---:" if column == "exact" else "---:" for column in columns))
    for row in rows:
        print("| %s |" % (" | ".join(row_format.split("|")) % tuple(row)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--timed", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per measurement")
    parser.add_argument("--side-by-side-only", action="store_true", help="only the table against istioctl")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench")
    parser.add_argument("--no-playbook", action="store_true", help="skip the ansible-playbook and ansible-runner runs")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure) if args.measure[0] != "checks" else measure_checks(args.measure[1])))
        return 0
    if args.timed:
        print(json.dumps(run_timed(*args.timed)))
        return 0
    rows, failures, job_events, html_reports, side_by_side, slowest, schema_shares = [], [], [], [], [], [], []
    istioctl_binary()  # built before any measurement, so that no peak memory measured is the Go compiler's
    for size in args.sizes:
        directory = args.workdir / ("mesh-%d" % size)
        if not (directory / "planted.yaml").exists():
            generate(directory, size)
        ours, fallback = best_timed("auto", directory, args.repeat), best_timed("pyyaml", directory, args.repeat)
        istioctl = best_timed("istioctl", directory, args.repeat)
        for name, run in (("fast loader", ours), ("PyYAML fallback", fallback)):
            if run["by_code"] != PLANTED or not run["complete"]:
                failures.append("%d Services, %s: found %s, planted %s" % (size, name, run["by_code"], PLANTED))
        if ours["by_code"] != fallback["by_code"]:
            failures.append("%d Services: the two loader paths disagree" % size)
        side_by_side.append((size, ours["seconds"], istioctl["seconds"], ours["seconds"] / istioctl["seconds"],
                             ours["peak_mib"], istioctl["peak_mib"], fallback["seconds"], fallback["peak_mib"],
                             sum(ours["by_code"].values()), sum(istioctl["by_code"].values()),
                             "+".join("%s %d" % (name.split()[0], count) for name, count in sorted(ours["loader"].items()))))
        slowest.append((size, run_measure("checks", directory, repeat=1)))
        if args.side_by_side_only:
            continue
        floor, engine = run_measure("floor", directory), run_measure("engine", directory)
        without_schema = run_measure("engine-without-schema", directory)
        schema_shares.append((size, engine["objects"], engine["seconds"], without_schema["seconds"],
                              (engine["seconds"] - without_schema["seconds"]) / without_schema["seconds"] * 100))
        exact = engine["by_code"] == PLANTED and engine["complete"]
        if not exact:
            failures.append("%d Services: found %s, planted %s" % (size, engine["by_code"], PLANTED))
        playbook = float("nan") if args.no_playbook else measure_playbook(directory)
        rows.append((size, engine["objects"], engine["seconds"], floor["seconds"], engine["seconds"] / floor["seconds"],
                     playbook, playbook / floor["seconds"],
                     engine["peak_mib"], sum(engine["by_code"].values()), sum(PLANTED.values()), exact))
        if not args.no_playbook and size >= 10000:
            job_events.append((size, engine["objects"], measure_job_events(directory)))
        if size <= 10000:
            html_reports.append((size, engine["objects"], run_measure("html", directory, repeat=1)))
    print_table("Side by side with istioctl analyze --use-kube=false -A on the same files (best of %d; peak = max RSS of\n"
                "the process tree). 'ours' is istio_integrity_facts through ansible-playbook with default options;\n"
                "istioctl drops Services and workloads from files, so it reports fewer findings" % args.repeat,
                "Services|ours s|istioctl s|ratio|ours MiB|istioctl MiB|PyYAML fallback s|fallback MiB|our findings|"
                "istioctl findings|files per loader",
                "%d|%.2f|%.2f|%.2fx|%.0f|%.0f|%.2f|%.0f|%d|%d|%s", side_by_side)
    for size, checks in slowest:
        listed = ", ".join("%s %.3f s" % (code, seconds) for code, seconds in checks["slowest"])
        print("\nTen slowest checks at %d Services (each query alone; all %d together %.2f s): %s" % (
            size, checks["checks"], checks["total"], listed))
    print_table("Offline integrity check vs. the floor (PyYAML C loader parsing the same files); 'playbook' is the shipped\n"
                "integrity_check playbook through ansible-playbook with its default options (locations and reports)",
                "Services|objects|seconds|floor s|ratio to floor|playbook s|playbook ratio|peak MiB|found|planted|exact",
                "%d|%d|%.2f|%.2f|%.2fx|%.2f|%.2fx|%.0f|%d|%d|%s", [row[:10] + ("yes" if row[10] else "NO",) for row in rows])
    print_table("Schema validation's share of the offline check (the same run with schema_validation off)",
                "Services|objects|seconds|without schema s|validation adds %", "%d|%d|%.2f|%.2f|%.0f%%",
                schema_shares)
    print_table("The same playbook through ansible-runner (as AWX runs it): job events vs AWX's default 700 kB event limit",
                "Services|objects|events|largest event kB|ratio to 700 kB|stdout kB", "%d|%d|%d|%.1f|%.3fx|%.1f",
                [(size, objects, events["events"], events["largest_kb"], events["largest_kb"] / 700, events["stdout_kb"])
                 for size, objects, events in job_events])
    print_table("HTML report: the check with the whole-mesh graph, then the page written from it",
                "Services|objects|nodes|edges|check with graph s|page s|page MiB", "%d|%d|%d|%d|%.2f|%.2f|%.1f",
                [(size, objects, page["nodes"], page["edges"], page["check_s"], page["render_s"], page["mib"])
                 for size, objects, page in html_reports])
    by_size = {row[0]: row for row in rows}
    if 1000 in by_size and 10000 in by_size:
        print("\nGrowth 1k -> 10k Services: %.1fx time (bar: at most 12x)" % (by_size[10000][2] / by_size[1000][2]))
    print("Target: ours at most 1/3 of istioctl's time (ratio <= 0.33x) at 10k and 30k Services, peak memory no higher.")
    print("Bars: ratio to floor at 10k at most 1.5x; playbook ratio at 30k at most 1.5x; peak memory at 30k under 1024 MiB;\n"
          "found == planted at every size; largest job event well under 700 kB; schema validation adds at most 20% at 30k.")
    for failure in failures:
        print("MISMATCH: " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
