# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""file:line:column of findings from manifest files.

Loading records only where each object starts (``files.Place``), which costs
nothing measurable. The line of the offending field is found afterwards, for
the few objects that have findings: their document alone is composed again
from its lines and the finding's field path (``spec.http[1].route[0].destination.host``)
is walked through the nodes, following merge keys. A path that leaves the
document (a field that is missing) points at the deepest part that exists.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.files import Place

try:
    import yaml
    NodeLoader: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
except ImportError:  # the callers report the missing library
    yaml = None
    NodeLoader = object

# The line breaks YAML counts (libyaml's and PyYAML's reader), so line numbers agree with the parser's.
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
INDEX = re.compile(r"\[(\d+)\]")
MERGE_KEY = "<<"
# What annotate() puts before a message; formats that place findings apart take it off again.
LOCATION_PREFIX = re.compile(r"^\S+:\d+:\d+: ")


def without_location(message: str) -> str:
    """A finding's message without its leading ``file:line:col: ``."""
    return LOCATION_PREFIX.sub("", message or "")


class Locator:
    """Locations of objects and fields, by the source names the loader gave them."""

    def __init__(self, places: Dict[str, Place], base_dir: Optional[str] = None,
                 texts: Optional[Dict[str, str]] = None) -> None:
        self.places = places
        self.base_dir = os.path.abspath(base_dir) if base_dir else None
        # Sources read from text rather than a file (standard input), by name.
        self._lines: Dict[str, List[str]] = {name: LINE_BREAK.split(text) for name, text in (texts or {}).items()}
        self._texts = set(self._lines)
        self._roots: Dict[Tuple[str, int], Any] = {}

    def display(self, path: str) -> str:
        """The path findings show: relative to ``base_dir`` when the file is under it, else as loaded."""
        if path in self._texts:
            return path
        if self.base_dir:
            absolute = os.path.abspath(path)
            if absolute.startswith(self.base_dir + os.sep):
                return os.path.relpath(absolute, self.base_dir)
        return os.path.normpath(path)

    def display_source(self, source: str) -> str:
        """A loader source name (``path#document...``) with its path as findings show it."""
        path, hash_sign, rest = source.partition("#")
        return self.display(path) + hash_sign + rest

    def locate(self, source: str, field_path: str = "") -> Optional[Dict[str, Any]]:
        """``file``, 1-based ``line``/``column`` of the object, and ``field_line``/``field_column`` of the field."""
        place = self.places.get(source)
        if place is None:
            return None
        location: Dict[str, Any] = {"file": self.display(place.path), "line": place.line + 1, "column": place.column + 1}
        field = self._field(place, field_path) if field_path else None
        if field is not None:
            location["field_line"], location["field_column"] = field[0] + 1, field[1] + 1
        return location

    def annotate(self, violations: List[Dict[str, Any]]) -> None:
        """Add locations to findings (and their related parties) from files; messages lead with file:line:col."""
        for violation in violations:
            location = self.locate(violation["source"], violation["path"])
            if location is None:
                continue
            violation.update(location)
            violation["source"] = self.display_source(violation["source"])
            violation["message"] = "%s:%d:%d: %s" % (
                location["file"], location.get("field_line", location["line"]),
                location.get("field_column", location["column"]), violation["message"])
            for party in violation["related"]:
                party_location = self.locate(party.get("source", ""), party.get("path", ""))
                if party_location is not None:
                    party.update(party_location)
                    party["source"] = self.display_source(party["source"])

    def _field(self, place: Place, field_path: str) -> Optional[Tuple[int, int]]:
        root = self._root(place)
        if root is None:
            return None
        if place.item is not None:
            items = _member(root, "items")
            if items is None or items[1].id != "sequence" or place.item >= len(items[1].value):
                return None
            root = items[1].value[place.item]
        mark = _walk(root, field_path).start_mark
        return place.first_line + mark.line, mark.column

    def _root(self, place: Place) -> Any:
        """The document's root node, composed from its own lines only (cached per document)."""
        key = (place.path, place.document)
        if key not in self._roots:
            self._roots[key] = self._compose(place)
        return self._roots[key]

    def _compose(self, place: Place) -> Any:
        lines = self._file_lines(place.path)
        if lines is None or place.first_line >= len(lines):
            return None
        # The root may start mid-line (after '--- '): blank what precedes it, keeping columns.
        first = " " * place.first_column + lines[place.first_line][place.first_column:]
        text = "\n".join([first] + lines[place.first_line + 1:place.last_line + 1])
        loader = NodeLoader(text)
        try:
            return loader.get_node() if loader.check_node() else None
        except yaml.YAMLError:
            return None
        finally:
            loader.dispose()

    def _file_lines(self, path: str) -> Optional[List[str]]:
        if path not in self._lines:
            try:
                with open(path, "rb") as handle:
                    self._lines[path] = LINE_BREAK.split(handle.read().decode("utf-8"))
            except (OSError, UnicodeDecodeError):
                self._lines[path] = None  # type: ignore[assignment]
        return self._lines[path]


def _walk(node: Any, path: str) -> Any:
    """The node for ``path`` under ``node``: a mapping member's key, a list item; the deepest found."""
    found, rest = node, path
    while rest:
        if node.id == "mapping":
            member = _member(node, rest)
            if member is None:
                break
            found, node, used = member
        elif node.id == "sequence":
            index = INDEX.match(rest)
            if index is None or int(index.group(1)) >= len(node.value):
                break
            found = node = node.value[int(index.group(1))]
            used = index.end()
        else:
            break
        rest = rest[used:]
        rest = rest[1:] if rest.startswith(".") else rest
    return found


def _member(node: Any, rest: str) -> Optional[Tuple[Any, Any, int]]:
    """(key node, value node, length of ``rest`` it matches) of the longest key that starts ``rest``.

    Keys of the mapping itself win over keys merged in with ``<<`` (YAML's rule).
    """
    best: Optional[Tuple[Any, Any, int]] = None
    merged: List[Any] = []
    for key, value in node.value:
        name = key.value if key.id == "scalar" else None
        if name == MERGE_KEY:
            merged += value.value if value.id == "sequence" else [value]
        elif isinstance(name, str) and (rest == name or rest.startswith((name + ".", name + "["))):
            if best is None or len(name) > best[2]:
                best = (key, value, len(name))
    for mapping in merged:
        if best is None and mapping.id == "mapping":
            best = _member(mapping, rest)
    return best
