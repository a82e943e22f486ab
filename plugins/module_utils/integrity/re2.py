# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a regular expression is valid RE2 syntax, as Envoy and Istio's analyzer (Go regexp) read it.

Python's ``re`` is the parser at hand; RE2 differs from it in a few known places, handled here: it rejects
look-around, back-references, atomic groups and conditionals, and repeat counts over 1000, and it accepts
Unicode classes (``\\pL``) and ``\\Q...\\E`` quoting, which Python does not.
"""

from __future__ import annotations

import re
import warnings
from typing import Optional

_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "look-around is not supported"),
    (re.compile(r"\(\?>"), "atomic groups are not supported"),
    (re.compile(r"\(\?\("), "conditionals are not supported"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]|\(\?P="), "back-references are not supported"),
)
_REPEAT = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")
_RE2_ONLY_ESCAPES = re.compile(r"\\[pPQE]")


def problem(pattern: str) -> Optional[str]:
    """Why RE2 would refuse the pattern, or None."""
    for construct, reason in _UNSUPPORTED:
        if construct.search(pattern):
            return reason
    for low, high in _REPEAT.findall(pattern):
        if int(low) > 1000 or (high and int(high) > 1000):
            return "repeat count over 1000"
    if _RE2_ONLY_ESCAPES.search(pattern):
        return None  # Unicode classes or quoting: valid RE2 that Python cannot parse
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except re.error as error:
        return str(error)
    return None
