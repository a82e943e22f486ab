# -*- coding: utf-8 -*-
"""Paths land where the user asked: the shipped playbooks of a collection installed as ansible-galaxy installs it
(a built tarball, a copy, not the project's link), run from a scratch repository outside the project with every
path variable relative.

Every run compares the installed collection's tree (names and SHA-256 of every file) before and after, and
the scratch repository's files with the ones the run is expected to create.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from conftest import REPO

BIN = Path(sys.executable).parent
MESH = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: storefront, namespace: shop}
spec:
  hosts: [shop.example.com]
  http:
  - route:
    - destination: {host: ghost}
"""
ALL_FORMATS = ["json", "junit", "markdown", "sarif", "github", "gitlab", "html"]
REPORTS = ("integrity.json", "junit.xml", "summary.md", "integrity.sarif", "github-annotations.txt",
           "gl-code-quality-report.json", "integrity.html", "graph.json")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """ansible_collections/ of a fresh install of this tree's collection tarball."""
    work = tmp_path_factory.mktemp("installed")
    for command in (["collection", "build", str(REPO), "--output-path", str(work)],
                    ["collection", "install", "--no-deps", "--force", "-p", str(work / "collections"),
                     str(work / ("meshops-istio_integrity-%s.tar.gz" % _version()))]):
        result = subprocess.run([str(BIN / "ansible-galaxy")] + command, capture_output=True, text=True, check=False,
                                timeout=300, env=clean_env(work / "collections"))
        assert result.returncode == 0, result.stdout + result.stderr
    root = work / "collections" / "ansible_collections" / "meshops" / "istio_integrity"
    assert (root / "MANIFEST.json").is_file()
    return root


@pytest.fixture
def repository(tmp_path):
    """A user's GitOps repository, outside the project."""
    (tmp_path / "repo" / "manifests").mkdir(parents=True)
    (tmp_path / "repo" / "manifests" / "shop.yaml").write_text(MESH)
    return tmp_path / "repo"


def _version() -> str:
    return next(line.split(":", 1)[1].strip() for line in (REPO / "galaxy.yml").read_text().splitlines()
                if line.startswith("version:"))


def clean_env(collections: Path) -> Dict[str, str]:
    """The environment with ``collections`` as the only collections path: not the project's link."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("K8S_AUTH_")}
    return dict(env, ANSIBLE_COLLECTIONS_PATH=str(collections))


def tree(root: Path) -> Dict[str, str]:
    """Every file and directory under ``root``: relative name -> SHA-256 ('dir' for directories)."""
    listing = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        listing[name] = "dir" if path.is_dir() and not path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
    return listing


def run(installed: Path, playbook: str, cwd: Path, variables: Dict[str, Any], *extra: str,
        pwd: Optional[str] = None, inventory: str = "localhost,") -> subprocess.CompletedProcess:
    """ansible-playbook as a user starts it in ``cwd``; only the installed copy of the collection is reachable
    (no PYTHONPATH to the project), and ``pwd`` as $PWD (default: ``cwd``, as a shell sets it)."""
    env = clean_env(installed.parents[2])
    env.update(ANSIBLE_NOCOLOR="1", PWD=pwd or str(cwd),
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False", KUBECONFIG="/nonexistent")
    extra_vars = installed.parents[3] / ("vars-%d.json" % os.getpid())
    extra_vars.write_text(json.dumps(dict({"ansible_python_interpreter": sys.executable}, **variables)))
    try:
        return subprocess.run([str(BIN / "ansible-playbook"), "-i", inventory, playbook, "-e", "@%s" % extra_vars,
                               *extra], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        extra_vars.unlink()


def check_lands(installed: Path, repository: Path, playbook: str, variables: Dict[str, Any], expected: set,
                *extra: str, **options: Any) -> subprocess.CompletedProcess:
    """Run, then assert the collection is unchanged and the repository gained exactly ``expected``."""
    collection_before, repository_before = tree(installed), set(tree(repository))
    result = run(installed, playbook, repository, variables, *extra, **options)
    assert tree(installed) == collection_before, "the installed collection changed"
    created = set(tree(repository)) - repository_before
    assert created == expected, (sorted(created), result.stdout + result.stderr)
    return result


def dir_and_files(directory: str, names=REPORTS) -> set:
    """``directory``, its parents up to the repository, and ``names`` in it, as tree() names them."""
    parts = Path(directory).parts
    return {str(Path(*parts[:index])) for index in range(1, len(parts) + 1)} | {str(Path(directory, n)) for n in names}


@pytest.mark.parametrize("variables,directory", [
    ({"integrity_report_dir": "reports"}, "reports"),
    ({"integrity_report_dir": "./ci/../reports/"}, "reports"),
    ({"integrity_report_root": "out/ci"}, "out/ci"),
    ({}, "integrity-report"),
], ids=["report_dir", "report_dir-unnormalised", "report_root", "default"])
def test_check_writes_every_report_under_the_relative_directory_given(installed, repository, variables, directory):
    result = check_lands(installed, repository, "meshops.istio_integrity.integrity_check",
                         dict({"integrity_src": "manifests/", "integrity_report_formats": ALL_FORMATS,
                               "integrity_fail_on": "never"}, **variables), dir_and_files(directory))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reports: %s" % (repository / directory) in result.stdout
    facts = json.loads((repository / directory / "integrity.json").read_text())
    assert {(f["code"], f["file"]) for f in facts["violations"]} >= {("MSH102", "manifests/shop.yaml")}
    assert facts["graph_file"] == str(repository / directory / "graph.json")


def test_sources_baseline_and_base_dir_relative_with_a_stale_pwd(installed, repository, tmp_path):
    """The working directory is the process's, not a $PWD inherited from whatever started it (AWX's runner)."""
    (repository / "main").mkdir()
    first = run(installed, "meshops.istio_integrity.integrity_check", repository,
                {"integrity_src": "manifests/*.yaml", "integrity_report_dir": "main",
                 "integrity_report_formats": ["sarif"], "integrity_fail_on": "never"})
    assert first.returncode == 0, first.stdout + first.stderr
    (repository / "manifests" / "late.yaml").write_text(MESH.replace("storefront", "late"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = check_lands(installed, repository, "meshops.istio_integrity.integrity_check",
                         {"integrity_src": ["manifests/shop.yaml", "manifests/late.yaml"],
                          "integrity_baseline": "main/integrity.sarif", "integrity_base_dir": ".",
                          "integrity_report_dir": "reports", "integrity_fail_on": "never"},
                         dir_and_files("reports", ["integrity.json", "junit.xml", "summary.md"]), pwd=str(elsewhere))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(elsewhere.iterdir())
    facts = json.loads((repository / "reports" / "integrity.json").read_text())
    assert {(f["name"], f["file"], f["baseline"]) for f in facts["violations"] if f["code"] == "MSH102"} == {
        ("storefront", "manifests/shop.yaml", "unchanged"), ("late", "manifests/late.yaml", "new")}


@pytest.mark.parametrize("variables,named", [
    ({"integrity_report_dir": "{collection}/playbooks/reports"}, "integrity_report_dir (or integrity_report_root)"),
    ({"integrity_report_root": "{collection}"}, "integrity_report_dir (or integrity_report_root)"),
    ({"integrity_report_dir": ""}, "integrity_report_dir (or integrity_report_root) is empty"),
], ids=["inside-playbooks", "root-is-the-collection", "empty"])
def test_a_report_directory_that_cannot_be_used_is_refused_before_anything_is_written(
        installed, repository, variables, named):
    variables = {name: value.format(collection=installed) for name, value in variables.items()}
    result = check_lands(installed, repository, "meshops.istio_integrity.integrity_check",
                         dict({"integrity_src": "manifests/", "integrity_report_formats": ALL_FORMATS}, **variables), set())
    assert result.returncode != 0
    assert named in result.stdout, result.stdout
    if variables[next(iter(variables))]:
        assert "is inside the installed collection meshops.istio_integrity (%s)" % installed in result.stdout


def test_one_report_directory_for_several_clusters_is_refused_and_the_root_gives_one_each(installed, repository):
    inventory = ("-c", "local", "-e", "integrity_hosts=all")
    refused = check_lands(installed, repository, "meshops.istio_integrity.integrity_check",
                          {"integrity_src": "manifests/", "integrity_report_dir": "reports"}, set(), *inventory,
                          inventory="prod-eu,prod-us")
    assert refused.returncode != 0
    assert ("integrity_report_dir gives 2 clusters 1 report directory (%s)" % (repository / "reports")) in refused.stdout
    assert "pass integrity_report_root=DIR instead" in refused.stdout
    each = check_lands(installed, repository, "meshops.istio_integrity.integrity_check",
                       {"integrity_src": "manifests/", "integrity_report_root": "reports", "integrity_fail_on": "never"},
                       dir_and_files("reports/prod-eu", ["integrity.json", "junit.xml", "summary.md"])
                       | dir_and_files("reports/prod-us", ["integrity.json", "junit.xml", "summary.md"]), *inventory,
                       inventory="prod-eu,prod-us")
    assert each.returncode == 0, each.stdout + each.stderr


def test_the_role_in_a_users_play_takes_relative_paths_from_the_playbook_directory(installed, repository):
    """include_role with a relative integrity_report_dir, and the facts module's graph_file: beside the playbook,
    whatever directory ansible-playbook is started from (here the repository's root)."""
    plays = repository / "plays"
    plays.mkdir()
    (plays / "check.yml").write_text(json.dumps([{
        "name": "Check", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [
            {"name": "Facts", "meshops.istio_integrity.istio_integrity_facts": {
                "src": [str(repository / "manifests")], "graph": "all", "graph_file": "graph/mesh.json"}},
            {"name": "Reports", "ansible.builtin.include_role": {"name": "meshops.istio_integrity.integrity_report"},
             "vars": {"integrity_report_dir": "reports", "integrity_report_formats": ["json", "html"],
                      "integrity_report_fail_on": "never"}}]}]))
    result = check_lands(installed, repository, "plays/check.yml", {},
                         {"plays/graph", "plays/graph/mesh.json"}
                         | dir_and_files("plays/reports", ["integrity.json", "integrity.html"]) - {"plays"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reports: %s" % (plays / "reports") in result.stdout
    assert json.loads((plays / "reports" / "integrity.json").read_text())["graph_file"] == str(plays / "graph" / "mesh.json")


def test_the_cluster_playbooks_take_relative_kubeconfigs_and_report_directories(installed, repository, control_plane):
    """install_meshservice_crd, reconcile_meshservices, integrity_repair and a traffic playbook, each with its
    kubeconfig relative to the repository (there is no other kubeconfig: KUBECONFIG points nowhere)."""
    (repository / "kube").mkdir()
    shutil.copy(control_plane.kubeconfig, repository / "kube" / "config")
    crd = check_lands(installed, repository, "meshops.istio_integrity.install_meshservice_crd",
                      {"crd_kubeconfig": "kube/config"}, set())
    assert crd.returncode == 0, crd.stdout + crd.stderr
    reconcile = check_lands(installed, repository, "meshops.istio_integrity.reconcile_meshservices",
                            {"reconcile_kubeconfig": "kube/config"}, set())
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    repair = check_lands(installed, repository, "meshops.istio_integrity.integrity_repair",
                         {"integrity_kubeconfig": "kube/config", "integrity_report_dir": "repair/reports",
                          "integrity_fail_on": "never"},
                         dir_and_files("repair/reports", ["integrity.json", "junit.xml", "summary.md"]))
    assert repair.returncode == 0, repair.stdout + repair.stderr
    control_plane.kubectl("create", "namespace", "report-paths")
    canary = check_lands(installed, repository, "meshops.istio_integrity.canary",
                         {"traffic_kubeconfig": "kube/config", "canary_weight": 20, "traffic_meshservice": {
                             "name": "reviews", "namespace": "report-paths", "ports": [{"port": 9080, "name": "http"}],
                             "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                         {"name": "v2", "labels": {"version": "v2"}}]}}, set())
    assert canary.returncode == 0, canary.stdout + canary.stderr
    assert "canary 20: weights v1=80 v2=20" in canary.stdout
