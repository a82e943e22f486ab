# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes label selectors (equality- and set-based), evaluated client-side.

The facts module loads every object so that references resolve, and uses the
selector only to scope which objects' violations are reported.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List

_KEY = r"[A-Za-z0-9][A-Za-z0-9_./-]*"
_VALUE = r"[A-Za-z0-9_.-]*"
_TERM = re.compile(
    r"^\s*(?:!\s*(?P<absent>" + _KEY + r")"
    r"|(?P<key>" + _KEY + r")\s*(?:(?P<op>==|=|!=)\s*(?P<value>" + _VALUE + r")"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*$")


def _split_terms(selector: str) -> List[str]:
    """Split on commas that are not inside a ``(...)`` value set."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term for term in terms if term.strip()]


def parse(selector: str) -> Callable[[Dict[str, str]], bool]:
    """Compile a selector into a predicate over a label map; ValueError names a bad term."""
    tests: List[Callable[[Dict[str, str]], bool]] = []
    for term in _split_terms(selector or ""):
        match = _TERM.match(term)
        if not match:
            raise ValueError("invalid label selector term %r" % term.strip())
        tests.append(_compile(match))
    return lambda labels: all(test(labels) for test in tests)


def _compile(match: "re.Match[str]") -> Callable[[Dict[str, str]], bool]:
    if match.group("absent"):
        absent = match.group("absent")
        return lambda labels: absent not in labels
    key = match.group("key")
    if match.group("op"):
        value, negate = match.group("value"), match.group("op") == "!="
        return lambda labels: (labels.get(key) == value) != negate
    if match.group("setop"):
        values = {v.strip() for v in match.group("values").split(",") if v.strip()}
        negate = match.group("setop") == "notin"
        return lambda labels: (labels.get(key) in values) != negate
    return lambda labels: key in labels
