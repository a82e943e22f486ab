# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of istio_integrity_facts: manifest paths are the controller's, as for kubernetes.core.k8s.

Relative ``src`` entries and ``baseline`` are found in the role's files, the
role, the playbook's files and the playbook directory; glob patterns expand
there. On a remote host the files are copied into the task's temporary
directory, keeping their relative layout, so findings name the same files.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.files import manifest_files
from ansible_collections.meshops.istio_integrity.plugins.plugin_utils.paths import PathError, resolve

GLOB_CHARACTERS = "*?["
STDIN = "-"


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        entries = args.get("src") or []
        entries = entries if isinstance(entries, list) else [entries]
        try:
            if STDIN in entries:
                entries = [entry for entry in entries if entry != STDIN]
                args["content"] = (args.get("content") or "") + _controller_stdin()
            sources, base_dir = self._resolve_sources(entries)
            if args.get("baseline"):
                args["baseline"] = self._find(str(args["baseline"]), "baseline")[0][0]
            # Written on the controller: a relative path is the playbook's, as a copy task's dest would be.
            graph_file = resolve(str(args["graph_file"]), self._loader.get_basedir(), "graph_file",
                                 output=True) if args.get("graph_file") else None
        except AnsibleError as error:
            result.update(failed=True, msg=str(error.message))
            return result
        except PathError as error:
            result.update(failed=True, msg=str(error))
            return result
        args["src"] = sources
        if sources:
            if not args.get("base_dir") and base_dir:
                args["base_dir"] = base_dir
            if self._is_remote():
                args.update(self._copy_to_remote(sources, args.get("base_dir"), args.get("baseline")))
        result.update(self._execute_module(module_name=self._task.action, module_args=args, task_vars=task_vars))
        facts = result.get("ansible_facts", {}).get("istio_integrity")
        if graph_file and facts is not None:
            self._write_graph(facts, graph_file)
        return result

    @staticmethod
    def _write_graph(facts: Dict[str, Any], path: str) -> None:
        """The graph goes to a controller file rather than into the job's events."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(facts.pop("graph", {"nodes": [], "edges": []}), handle)
        facts["graph_file"] = path

    def _is_remote(self) -> bool:
        return self._connection.transport not in ("local", "ansible.builtin.local")

    def _resolve_sources(self, entries: List[Any]) -> Tuple[List[str], Optional[str]]:
        """Absolute controller paths, and the directory the first relative entry was found under."""
        sources: List[str] = []
        base_dir = None
        for entry in entries:
            paths, found_under = self._find(os.path.expanduser(str(entry)), "src")
            sources += paths
            base_dir = base_dir or found_under
        return sources, base_dir

    def _find(self, entry: str, option: str) -> Tuple[List[str], Optional[str]]:
        """(absolute paths, search directory they were found under or None for absolute entries)."""
        if os.path.isabs(entry):
            paths = sorted(glob.glob(entry, recursive=True)) if _is_glob(entry) else [entry]
            if not paths or not os.path.exists(paths[0]):
                raise AnsibleError("%s: %s %s" % (option, entry, "matches no file" if _is_glob(entry) else "does not exist"))
            return paths, None
        searched = self._search_directories()
        for directory in searched:
            candidate = os.path.join(directory, entry)
            paths = sorted(glob.glob(candidate, recursive=True)) if _is_glob(entry) else (
                [candidate] if os.path.exists(candidate) else [])
            if paths:
                return [os.path.normpath(path) for path in paths], directory
        raise AnsibleError("%s: %s %s (searched %s)" % (option, entry, "matches no file" if _is_glob(entry)
                                                        else "was not found", ", ".join(searched)))

    def _search_directories(self) -> List[str]:
        """Role files, role, playbook files, playbook directory: the order of kubernetes.core's src lookup."""
        directories = []
        role = getattr(self._task, "_role", None)
        if role is not None:
            directories += [os.path.join(role._role_path, "files"), role._role_path]
        basedir = self._loader.get_basedir()
        directories += [os.path.join(basedir, "files"), basedir]
        return list(dict.fromkeys(os.path.abspath(directory) for directory in directories))

    def _copy_to_remote(self, sources: List[str], base_dir: Optional[str], baseline: Optional[str]) -> Dict[str, Any]:
        """Copy every manifest (and the baseline) under the remote temporary directory, keeping relative paths."""
        if not self._connection._shell.tmpdir:
            self._make_tmp_path()
        shell = self._connection._shell
        root = shell.join_path(shell.tmpdir, "manifests")
        copies = {}
        for path in manifest_files(sources):
            relative = os.path.relpath(path, base_dir) if base_dir and _is_under(path, base_dir) else path.lstrip("/")
            copies[path] = shell.join_path(root, relative)
        directories = sorted({os.path.dirname(remote) for remote in copies.values()})
        if directories:
            self._low_level_execute_command("mkdir -p " + " ".join(shell.quote(directory) for directory in directories))
        for path, remote in copies.items():
            self._transfer_file(path, remote)
        self._fixup_perms2([shell.tmpdir] + list(copies.values()))
        moved: Dict[str, Any] = {"src": list(copies.values()), "base_dir": root}
        if baseline:
            moved["baseline"] = self._connection._shell.join_path(self._connection._shell.tmpdir, "baseline.json")
            self._transfer_file(baseline, moved["baseline"])
            self._fixup_perms2([moved["baseline"]])
        return moved


def _controller_stdin() -> str:
    """What was piped into ansible-playbook: task workers have no standard input, their parent has it."""
    try:
        with open("/proc/%d/fd/0" % os.getppid(), "rb") as handle:
            return handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AnsibleError("src: cannot read '-' (the standard input of ansible-playbook): %s" % error) from None


def _is_glob(entry: str) -> bool:
    return any(character in entry for character in GLOB_CHARACTERS)


def _is_under(path: str, directory: str) -> bool:
    return os.path.abspath(path).startswith(os.path.abspath(directory) + os.sep)
