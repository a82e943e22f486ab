# -*- coding: utf-8 -*-
"""The GitOps job as a pull-request pipeline runs it: the shipped playbook, from a repository's root, relative paths.

Every location is checked against an independent reading of the YAML (ruamel.yaml's line/column
information), the SARIF log against the OASIS schema, and fingerprints across a baseline run and a
reordered file.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from ruamel.yaml import YAML

from conftest import REPO, run_collection_playbook

sys.path.insert(0, str(REPO / "tools"))
import sarif_schema  # noqa: E402  pylint: disable=wrong-import-position

MESH = """# shop: two routes and their Service in one file
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: storefront
  namespace: shop
spec:
  hosts: [shop.example.com]
  gateways:
  - istio-system/ingress          # missing
  http:
  - match:
    - uri: {prefix: /cart}
    route:
    - destination:
        host: cart                 # exists
        port: {number: 80}
  - route:
    - destination: {host: ghost}   # missing
---
apiVersion: v1
kind: Service
metadata:
  name: cart
  namespace: shop
  annotations:
    galley.istio.io/analyze-suppress: IST0118   # a known exception, kept visible
spec:
  ports:
  - {name: web, port: 80}
"""
LISTED = """apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: cart, namespace: shop}
  spec:
    host: cart
    subsets:
    - name: v1
      labels: {version: v1}
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: leftover, namespace: shop}
  spec:
    host: removed-long-ago
"""
ENTRY = """apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: shop}
spec:
  hosts: [payments.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
"""
FORMATS = ["json", "sarif", "github", "gitlab", "markdown", "junit"]


@pytest.fixture
def repository(tmp_path):
    manifests = tmp_path / "manifests"
    (manifests / "team-b").mkdir(parents=True)
    (manifests / "mesh.yaml").write_text(MESH)
    (manifests / "destination-rules.yml").write_text(LISTED)
    (manifests / "payments.yaml").write_text(ENTRY % "payments")
    (manifests / "team-b" / "payments-copy.yaml").write_text(ENTRY % "payments-copy")
    return tmp_path


def check(repository, *extra_vars, stdin=None, **variables):
    run = run_collection_playbook("integrity_check", dict({"integrity_report_formats": FORMATS, "integrity_fail_on": "never"},
                                                          **variables), *extra_vars, cwd=repository, stdin=stdin)
    report = repository / "integrity-report"
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads((report / "integrity.json").read_text()), report, run.stdout


def expected_position(repository, finding):
    """(line, column), 1-based, of the finding's field as ruamel.yaml reads the file, independently of us."""
    path, _hash, document = finding["source"].partition("#")
    number, _dot, item = document.partition(".items")
    node = list(YAML().load_all((repository / path).read_text()))[int(number) - 1]
    if item:
        node = node["items"][int(item.strip("[]"))]
    position = None
    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", finding["path"]):
        if key:
            position, node = node.lc.key(key), node[key]
        else:
            position, node = node.lc.item(int(index)), node[int(index)]
    return position[0] + 1, position[1] + 1


def test_findings_of_a_repository_with_relative_paths_point_at_their_lines(repository):
    facts, report, log = check(repository, integrity_src="manifests/")
    findings = facts["violations"] + facts["suppressed"]
    assert {(f["code"], f["name"]) for f in facts["violations"]} >= {
        ("MSH101", "storefront"), ("MSH102", "storefront"), ("MSH106", "leftover"),
        ("MSH204", "payments"), ("MSH204", "payments-copy")}
    for finding in findings:
        assert finding["file"].startswith("manifests/"), finding
        assert (finding["field_line"], finding["field_column"]) == expected_position(repository, finding), finding
        assert finding["message"].startswith("%s:%d:%d: " % (finding["file"], finding["field_line"], finding["field_column"]))
    gateway = next(f for f in findings if f["code"] == "MSH101")
    assert (gateway["file"], gateway["line"], gateway["field_line"]) == ("manifests/mesh.yaml", 2, 10)
    conflict = next(f for f in findings if f["code"] == "MSH204" and f["name"] == "payments")
    assert conflict["related"][0]["file"] == "manifests/team-b/payments-copy.yaml"
    assert [(f["code"], f["name"], f["suppressed_by"]) for f in facts["suppressed"]] == [
        ("MSH502", "cart", "annotation galley.istio.io/analyze-suppress on the object")]
    assert "1 suppressed" in log and "reports: %s" % report in log

    sarif = json.loads((report / "integrity.sarif").read_text())
    assert not [error.message for error in Draft4Validator(sarif_schema.load()).iter_errors(sarif)]
    results = sarif["runs"][0]["results"]
    assert len(results) == len(findings)
    assert [r for r in results if r.get("suppressions")][0]["ruleId"] == "MSH502"
    annotations = (report / "github-annotations.txt").read_text().splitlines()
    assert len(annotations) == len(facts["violations"])
    assert all(re.match(r"^::(error|warning|notice) file=manifests/[^,]+,line=\d+,col=\d+,title=[^:]+::.+$", a)
               for a in annotations)
    quality = json.loads((report / "gl-code-quality-report.json").read_text())
    assert sorted(q["fingerprint"] for q in quality) == sorted(f["fingerprint"] for f in facts["violations"])


def test_baseline_run_has_no_new_findings_and_reordering_keeps_fingerprints(repository):
    first, report, _log = check(repository, integrity_src="manifests/")
    (repository / "main.sarif").write_bytes((report / "integrity.sarif").read_bytes())
    again, report, log = check(repository, integrity_src="manifests/", integrity_baseline="main.sarif",
                               integrity_fail_on_new_only=True)
    assert again["summary"]["new"] == {"error": 0, "warning": 0, "info": 0}
    assert {f["baseline"] for f in again["violations"]} == {"unchanged"}
    assert {r["baselineState"] for r in json.loads((report / "integrity.sarif").read_text())["runs"][0]["results"]} == {
        "unchanged"}

    documents = MESH.split("---\n")
    (repository / "manifests" / "mesh.yaml").write_text("# reordered\n" + documents[1] + "---\n" + documents[0])
    moved, _report, _log = check(repository, integrity_src="manifests/")
    assert sorted(f["fingerprint"] for f in moved["violations"]) == sorted(f["fingerprint"] for f in first["violations"])
    assert {f["line"] for f in moved["violations"] if f["name"] == "storefront"} != {2}

    (repository / "manifests" / "late.yaml").write_text(ENTRY % "payments-late")
    run = run_collection_playbook("integrity_check", {"integrity_src": "manifests/", "integrity_baseline": "main.sarif",
                                                      "integrity_fail_on_new_only": True, "integrity_fail_on": "warning"},
                                  cwd=repository)
    assert run.returncode != 0 and "new warning(s)" in run.stdout, run.stdout


def test_manifests_from_standard_input_and_a_path_that_does_not_exist(repository):
    facts, _report, _log = check(repository, integrity_src="-", stdin=MESH)
    gateway = next(f for f in facts["violations"] if f["code"] == "MSH101")
    assert (gateway["file"], gateway["field_line"]) == ("stdin", 10)
    run = run_collection_playbook("integrity_check", {"integrity_src": "no-such-dir/"}, cwd=repository)
    assert run.returncode != 0
    assert "src: %s/no-such-dir/ does not exist" % repository in run.stdout, run.stdout


def test_globs_in_a_task_resolve_against_the_playbook_directory(repository):
    """A task's relative src is the controller's, found beside the playbook whatever the working directory."""
    playbook = repository / "check.yml"
    tasks = [{"meshops.istio_integrity.istio_integrity_facts": {"src": ["manifests/**/payments*.yaml"]}},
             {"ansible.builtin.copy": {"content": "{{ istio_integrity | to_json }}", "dest": str(repository / "out.json"),
                                       "mode": "0644"}}]
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "connection": "local",
                                     "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook)],
                         cwd="/", env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    facts = json.loads((repository / "out.json").read_text())
    assert sorted((f["code"], f["file"]) for f in facts["violations"]) == [
        ("MSH204", "manifests/payments.yaml"), ("MSH204", "manifests/team-b/payments-copy.yaml")]


@pytest.fixture
def ssh_host(tmp_path):
    """A real remote host for Ansible: OpenSSH's sshd (Debian's package) on a loopback port, key authentication."""
    sshd = Path("/usr/sbin/sshd")
    assert sshd.exists(), "sshd is missing: make integration installs Debian's openssh-server"
    keys = tmp_path / "ssh"
    keys.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (keys / "sshd_config").write_text("\n".join([
        "Port %d" % port, "ListenAddress 127.0.0.1", "HostKey %s" % (keys / "host"),
        "AuthorizedKeysFile %s" % (keys / "authorized_keys"), "PidFile %s" % (keys / "sshd.pid"),
        "PermitRootLogin prohibit-password", "PasswordAuthentication no", "StrictModes no", "UsePAM no",
        "Subsystem sftp internal-sftp"]) + "\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    server = subprocess.Popen([str(sshd), "-D", "-e", "-f", str(keys / "sshd_config")], stderr=subprocess.PIPE)
    try:
        for _attempt in range(50):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": port,
               "ansible_user": getpass.getuser(), "ansible_ssh_private_key_file": str(keys / "client"),
               "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
               "ansible_python_interpreter": sys.executable, "ansible_remote_tmp": str(tmp_path / "remote-tmp")}
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_play_on_a_remote_host_checks_copies_of_the_controller_files(repository, ssh_host, tmp_path):
    """Over SSH the module cannot read the controller's paths: the files travel with the task, names unchanged."""
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"remote": ssh_host}}}))
    playbook = repository / "remote.yml"
    tasks = [{"meshops.istio_integrity.istio_integrity_facts": {"src": ["manifests/"]}},
             {"ansible.builtin.copy": {"content": "{{ istio_integrity | to_json }}", "dest": str(repository / "out.json"),
                                       "mode": "0644"}}]
    playbook.write_text(json.dumps([{"hosts": "remote", "gather_facts": False, "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_KEEP_REMOTE_FILES="1",
               ANSIBLE_HOST_KEY_CHECKING="False")
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                         cwd="/", env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    facts = json.loads((repository / "out.json").read_text())
    gateway = next(f for f in facts["violations"] if f["code"] == "MSH101")
    assert (gateway["file"], gateway["field_line"]) == ("manifests/mesh.yaml", 10)
    task_dirs = list((tmp_path / "remote-tmp").glob("ansible-tmp-*/manifests"))
    copies = sorted(str(path.relative_to(task_dir)) for task_dir in task_dirs for path in task_dir.rglob("*.y*ml"))
    assert copies == ["manifests/destination-rules.yml", "manifests/mesh.yaml", "manifests/payments.yaml",
                      "manifests/team-b/payments-copy.yaml"], copies
