# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Path variables of the shipped playbooks and roles resolved one way (see plugin_utils/paths.py)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.meshops.istio_integrity.plugins.plugin_utils.paths import PathError, resolve_value


def resolve_path(value: Any, relative_to: Optional[str] = None, variable: str = "path", output: bool = False) -> Any:
    try:
        return resolve_value(value, relative_to, variable, output)
    except PathError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    """Controller paths."""

    def filters(self) -> Dict[str, Callable[..., Any]]:
        return {"resolve_path": resolve_path}
