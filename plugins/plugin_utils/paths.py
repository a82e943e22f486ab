# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a path the user passed lands on the controller, and the one place output must never go.

The shipped playbooks take relative paths from the directory ansible-playbook was started in; roles and
modules used from a user's own play take them from the playbook's directory. Either way, nothing is
written inside an installed copy of this collection (one with ansible-galaxy's MANIFEST.json).
"""

from __future__ import annotations

import os
from typing import Any, Optional

STDIN = "-"
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PathError(ValueError):
    """A path variable that cannot be used; the message names the variable and what to pass."""


def working_directory() -> str:
    """The directory ansible-playbook was started in (the controller never changes it): spelled as the
    shell's $PWD when that is the same directory, so that symlinked paths read as the user typed them."""
    current = os.getcwd()
    spelled = os.environ.get("PWD", "")
    try:
        if os.path.isabs(spelled) and os.path.samefile(spelled, current):
            return os.path.normpath(spelled)
    except OSError:
        pass
    return current


def installed_collection_root() -> Optional[str]:
    """This collection's folder when it is an installed copy (not a source tree someone works in)."""
    return COLLECTION_ROOT if os.path.isfile(os.path.join(COLLECTION_ROOT, "MANIFEST.json")) else None


def resolve(path: str, relative_to: Optional[str] = None, variable: str = "path", output: bool = False) -> str:
    """``path`` as an absolute, normalised controller path (a trailing '/' kept): ``~`` expanded, a relative one joined to
    ``relative_to`` (default: the working directory). With ``output``, refuses an empty path and one inside
    the installed collection."""
    base = os.path.join(working_directory(), os.path.expanduser(relative_to or ""))
    if not path:
        if output:
            raise PathError("%s is empty: pass a directory or file (a relative path is taken from %s)" % (variable, base))
        return path
    # A trailing separator stays: it is what the user typed, and a glob's '**/' means directories only.
    resolved = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
    if path.endswith(os.sep) and not resolved.endswith(os.sep):
        resolved += os.sep
    root = installed_collection_root() if output else None
    if root and _is_within(resolved, root):
        raise PathError("%s: %s is inside the installed collection meshops.istio_integrity (%s), which is never "
                        "written to: pass a path of your own (a relative path is taken from %s)"
                        % (variable, resolved, root, base))
    return resolved


def resolve_value(value: Any, relative_to: Optional[str] = None, variable: str = "path", output: bool = False) -> Any:
    """``resolve`` for a path or a list of them; '-' (standard input) and non-strings (a kubeconfig given
    as a dict, Ansible's omit) stay as they are."""
    if isinstance(value, (list, tuple)):
        return [resolve_value(item, relative_to, variable, output) for item in value]
    if not isinstance(value, str) or (value == STDIN and not output):
        return value
    return resolve(value, relative_to, variable, output)


def _is_within(path: str, directory: str) -> bool:
    real_path, real_directory = os.path.realpath(path), os.path.realpath(directory)
    return real_path == real_directory or real_path.startswith(real_directory.rstrip(os.sep) + os.sep)
