# -*- coding: utf-8 -*-
"""A real control plane for the session, and a helper that runs real ansible-playbook processes.

The control plane never skips: if it cannot be built or started the tests fail,
so a CI run can never pass without having talked to a real API server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "demo-mesh"
sys.path.insert(0, str(REPO / "tools" / "controlplane"))

import localcluster  # noqa: E402  pylint: disable=wrong-import-position


def start_plane(install_crds: bool = True, priority_and_fairness: bool = False,
                gateway_api: bool = True) -> localcluster.LocalControlPlane:
    try:
        return localcluster.LocalControlPlane(localcluster.build_binaries(), priority_and_fairness=priority_and_fairness
                                              ).start(install_crds=install_crds, gateway_api=gateway_api)
    except localcluster.ControlPlaneError as error:
        pytest.fail("the local control plane could not start: %s" % error, pytrace=False)


@pytest.fixture(scope="session")
def control_plane():
    plane = start_plane()
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def demo_mesh(control_plane):
    """The sample mesh with its planted faults, applied to the cluster."""
    control_plane.kubectl("apply", "-f", str(EXAMPLES / "00-namespaces.yaml"))
    control_plane.kubectl("apply", "-f", str(EXAMPLES))
    return control_plane


@dataclass
class PlaybookRun:
    rc: int
    output: str
    facts: Optional[Dict[str, Any]]

    @property
    def failed(self) -> bool:
        return self.rc != 0


def run_playbook(tasks: List[Dict[str, Any]], env: Optional[Dict[str, str]] = None,
                 result_var: str = "istio_integrity", check: bool = False, extra_args: Sequence[str] = ()) -> PlaybookRun:
    """Run ``tasks`` in a local play; the value of ``result_var`` at the end comes back as ``facts``."""
    with tempfile.TemporaryDirectory(prefix="meshops-play-") as workdir:
        out = Path(workdir) / "result.json"
        play = [{
            "name": "integration", "hosts": "localhost", "connection": "local", "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": tasks + [{"name": "Save the result", "ansible.builtin.copy": {
                "content": "{{ %s | to_json }}" % result_var, "dest": str(out), "mode": "0600"},
                "when": "%s is defined" % result_var, "check_mode": False}],
        }]
        playbook = Path(workdir) / "play.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        run_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_NOCOLOR="1",
                       ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_LOCALHOST_WARNING="False",
                       ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
        run_env.update(env or {})
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook)]
        if check:
            command.append("--check")
        command += extra_args
        result = subprocess.run(command, capture_output=True, text=True, env=run_env, timeout=600, check=False)
        facts = json.loads(out.read_text()) if out.exists() else None
        return PlaybookRun(result.returncode, result.stdout + result.stderr, facts)


def run_collection_playbook(name: str, variables: Dict[str, Any], *extra: str, cwd: Optional[Path] = None,
                            stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    """One of the collection's playbooks, by its FQCN, as a user would run it (variables as extra vars),
    started in ``cwd`` with ``stdin`` piped in."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    with tempfile.TemporaryDirectory(prefix="meshops-vars-") as workdir:
        extra_vars = Path(workdir) / "vars.json"
        extra_vars.write_text(json.dumps(dict({"ansible_python_interpreter": sys.executable}, **variables)))
        return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                               "meshops.istio_integrity." + name, "-e", "@%s" % extra_vars, *extra],
                              env=dict(env, PWD=str(cwd)) if cwd else env, cwd=cwd, input=stdin,
                              capture_output=True, text=True, timeout=600, check=False)


def install_meshservice_crd(plane) -> subprocess.CompletedProcess:
    return run_collection_playbook("install_meshservice_crd", {"crd_kubeconfig": str(plane.kubeconfig)})


def facts_task(**options: Any) -> Dict[str, Any]:
    return {"name": "Integrity facts", "meshops.istio_integrity.istio_integrity_facts": options}


def violation_keys(facts: Dict[str, Any]) -> set:
    return {(v["code"], v["kind"], v["namespace"], v["name"], v["path"]) for v in facts["violations"]}
