# -*- coding: utf-8 -*-
"""resolve_path: relative paths from the working directory (or a given one), never into an installed collection."""

from __future__ import annotations

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.meshops.istio_integrity.plugins.filter.paths import FilterModule
from ansible_collections.meshops.istio_integrity.plugins.plugin_utils import paths

resolve_path = FilterModule().filters()["resolve_path"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    return tmp_path


def test_relative_paths_are_taken_from_the_working_directory(workdir):
    assert resolve_path("reports") == str(workdir / "reports")
    assert resolve_path("./a/../manifests") == str(workdir / "manifests")
    assert resolve_path("manifests/**/") == str(workdir / "manifests" / "**") + "/"
    assert resolve_path(".") == str(workdir)
    assert resolve_path(["a", "/abs/b", "-"]) == [str(workdir / "a"), "/abs/b", "-"]


def test_a_given_directory_is_the_base_and_absolute_and_home_paths_stay_theirs(workdir, monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    assert resolve_path("reports", "/srv/play") == "/srv/play/reports"
    assert resolve_path("reports", "plays") == str(workdir / "plays" / "reports")
    assert resolve_path("/var/reports", "/srv/play") == "/var/reports"
    assert resolve_path("~/reports", "/srv/play") == "/home/someone/reports"


def test_values_that_are_not_paths_pass_through(workdir):
    kubeconfig = {"apiVersion": "v1", "clusters": []}
    assert resolve_path(kubeconfig) is kubeconfig
    assert resolve_path(None) is None
    assert resolve_path("") == ""


def test_a_stale_pwd_does_not_move_the_working_directory(workdir, tmp_path_factory, monkeypatch):
    """A process started with another cwd keeps its parent's PWD (Python's subprocess, ansible-runner)."""
    monkeypatch.setenv("PWD", str(tmp_path_factory.mktemp("elsewhere")))
    assert resolve_path("reports") == str(workdir / "reports")


def test_pwd_spells_a_symlinked_working_directory_as_the_user_typed_it(workdir, monkeypatch):
    (workdir / "real").mkdir()
    (workdir / "link").symlink_to(workdir / "real")
    monkeypatch.chdir(workdir / "link")
    monkeypatch.setenv("PWD", str(workdir / "link"))
    assert resolve_path("reports") == str(workdir / "link" / "reports")


def test_an_empty_output_path_is_refused_naming_the_variable(workdir):
    with pytest.raises(AnsibleFilterError, match=r"^integrity_report_dir is empty: pass a directory"):
        resolve_path("", None, "integrity_report_dir", output=True)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """This collection as ansible-galaxy installs it: its folder holds MANIFEST.json."""
    root = tmp_path / "ansible_collections" / "meshops" / "istio_integrity"
    (root / "playbooks").mkdir(parents=True)
    (root / "MANIFEST.json").write_text("{}")
    monkeypatch.setattr(paths, "COLLECTION_ROOT", str(root))
    return root


def test_output_inside_the_installed_collection_is_refused(installed, monkeypatch):
    monkeypatch.chdir(installed / "playbooks")
    for path, base in (("reports", None), ("reports", str(installed / "playbooks")), (str(installed), None),
                       ("../roles/x/../../reports", None)):
        with pytest.raises(AnsibleFilterError, match=r"^integrity_report_dir: .* is inside the installed collection"):
            resolve_path(path, base, "integrity_report_dir", output=True)
    # Reading from it (the CRD manifest the install playbook applies) is fine, and so is a sibling folder.
    assert resolve_path("files/crd.yaml", str(installed / "playbooks")) == str(installed / "playbooks" / "files" / "crd.yaml")
    sibling = str(installed) + "-reports"
    assert resolve_path(sibling, output=True) == sibling


def test_output_inside_the_collection_through_a_symlink_is_refused(installed, tmp_path):
    (tmp_path / "shortcut").symlink_to(installed / "playbooks")
    with pytest.raises(AnsibleFilterError, match="is inside the installed collection"):
        resolve_path(str(tmp_path / "shortcut" / "reports"), output=True)


def test_a_source_tree_is_not_an_installed_collection(installed, monkeypatch):
    """Developers' links to the project's own tree write reports into it (build/), as the demo does."""
    (installed / "MANIFEST.json").unlink()
    assert paths.installed_collection_root() is None
    assert resolve_path(str(installed / "build" / "report"), output=True) == str(installed / "build" / "report")


def test_the_real_collection_root_is_this_tree():
    assert os.path.isfile(os.path.join(paths.COLLECTION_ROOT, "galaxy.yml"))
