# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed, path-aware access to untrusted Kubernetes documents.

Manifests come from files people edit by hand: any field may have the wrong
type. Each accessor checks the type and, when it is wrong, raises
``InvalidDocument`` naming the field path, so the loader can report the
document and move on instead of failing with a traceback.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class InvalidDocument(ValueError):
    """A document that cannot be modelled; ``path`` names the offending field."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__("%s: %s" % (path, problem))
        self.path = path
        self.problem = problem


def _type_name(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


def _not_a_string(value: Any) -> str:
    """Why a value is not the string a field needs; an unquoted ``on`` or ``1.10`` is the usual cause."""
    problem = "expected a string, got %s" % _type_name(value)
    if isinstance(value, (bool, int, float)):
        problem += " (the API server reads this unquoted YAML value as a %s, not a string: quote it)" % (
            _type_name(value))
    return problem


def mapping(parent: Dict[str, Any], key: str, path: str) -> Dict[str, Any]:
    """A mapping field; absent or null is an empty mapping."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidDocument(_join(path, key), "expected a mapping, got %s" % _type_name(value))
    return value


def sequence(parent: Dict[str, Any], key: str, path: str) -> List[Any]:
    """A list field; absent or null is an empty list."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidDocument(_join(path, key), "expected a list, got %s" % _type_name(value))
    return value


def mappings(parent: Dict[str, Any], key: str, path: str) -> List[Dict[str, Any]]:
    """A list of mappings, each element checked."""
    items = sequence(parent, key, path)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidDocument("%s[%d]" % (_join(path, key), index), "expected a mapping, got %s" % _type_name(item))
    return items


def text(parent: Dict[str, Any], key: str, path: str, required: bool = False) -> Optional[str]:
    """A string field."""
    value = parent.get(key)
    if value is None:
        if required:
            raise InvalidDocument(_join(path, key), "is required")
        return None
    if not isinstance(value, str):
        raise InvalidDocument(_join(path, key), _not_a_string(value))
    return value


def texts(parent: Dict[str, Any], key: str, path: str) -> List[str]:
    """A list of strings."""
    items = sequence(parent, key, path)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidDocument("%s[%d]" % (_join(path, key), index), _not_a_string(item))
    return items


def integer(parent: Dict[str, Any], key: str, path: str) -> Optional[int]:
    """An integer field (booleans are not integers here, whatever Python says)."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidDocument(_join(path, key), "expected an integer, got %s" % _type_name(value))
    return value


def labels(parent: Dict[str, Any], key: str, path: str) -> Dict[str, str]:
    """A label map (string to string, as the API server requires; null is the empty string)."""
    value = mapping(parent, key, path)
    result = {}
    for label, label_value in value.items():
        if label_value is None:
            label_value = ""
        elif not isinstance(label_value, str):
            raise InvalidDocument("%s.%s" % (_join(path, key), label), _not_a_string(label_value))
        result[str(label)] = label_value
    return result


def _join(path: str, key: str) -> str:
    return "%s.%s" % (path, key) if path else key
