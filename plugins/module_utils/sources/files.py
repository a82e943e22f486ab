# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifest files into the model: directories, multi-document YAML, JSON, List kinds.

Nothing a file contains raises: each unusable document is recorded as a skip
naming the file and the document number, and the scan is then incomplete.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.documents import InvalidDocument
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import DuplicateObject, MeshModel

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.yaml_loader import FastSafeLoader

try:
    import yaml
    YAML_IMPORT_ERROR: Optional[ImportError] = None
except ImportError as import_error:
    yaml = None
    YAML_IMPORT_ERROR = import_error

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_MAX_FILE_SIZE = 16 * 1024 * 1024


class SourceError(ValueError):
    """A source path the user gave cannot be read at all."""


class LoadReport:
    """What a load read, ignored and skipped."""

    def __init__(self) -> None:
        self.files = 0
        self.documents = 0
        self.ignored_kinds: Dict[str, int] = {}
        self.skipped: List[Dict[str, Any]] = []

    def skip(self, source: str, reason: str, document: Optional[int] = None) -> None:
        entry: Dict[str, Any] = {"source": source, "reason": reason}
        if document is not None:
            entry["document"] = document
        self.skipped.append(entry)

    def ignore(self, kind: Any) -> None:
        key = kind if isinstance(kind, str) else "(no kind)"
        self.ignored_kinds[key] = self.ignored_kinds.get(key, 0) + 1


def manifest_files(paths: List[str]) -> Iterator[str]:
    """Every manifest file under the given paths, in a stable order."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    if name.endswith(MANIFEST_SUFFIXES) and not name.startswith("."):
                        yield os.path.join(root, name)
        elif os.path.isfile(path):
            yield path
        else:
            raise SourceError("source path %s does not exist or is not a file or directory" % path)


def load_object(model: MeshModel, report: LoadReport, obj: Any, source: str, document: int) -> None:
    """Model one decoded document (or the items of a List); record why it is skipped."""
    report.documents += 1
    if obj is None:
        return
    if not isinstance(obj, dict):
        report.skip(source, "document is a %s, not a Kubernetes object" % type(obj).__name__, document)
        return
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        for index, item in enumerate(obj["items"]):
            load_object(model, report, item, "%s#%d.items[%d]" % (source.split("#")[0], document, index), document)
        return
    if not isinstance(kind, str) or not kind:
        report.skip(source, "document has no kind", document)
        return
    try:
        modelled = model.add(obj, source)
    except InvalidDocument as error:
        report.skip(source, "%s: %s" % (kind, error), document)
        return
    except DuplicateObject as error:
        report.skip(source, str(error), document)
        return
    if modelled is None:
        report.ignore(kind)


def load_file(model: MeshModel, report: LoadReport, path: str, max_file_size: int) -> None:
    report.files += 1
    size = os.path.getsize(path)
    if size > max_file_size:
        report.skip(path, "file is %d bytes, over the max_file_size limit of %d" % (size, max_file_size))
        return
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        report.skip(path, "cannot read file: %s" % error)
        return
    number = 0
    try:
        for number, obj in enumerate(yaml.load_all(text, Loader=FastSafeLoader), start=1):
            load_object(model, report, obj, "%s#%d" % (path, number), number)
    except yaml.YAMLError as error:
        # The parser cannot resynchronise after an error: the rest of the file is lost.
        report.skip(path, "invalid YAML (this and any later documents skipped): %s" % _yaml_problem(error),
                    number + 1)
    except RecursionError:
        report.skip(path, "document nests too deeply to be a Kubernetes object", number + 1)


def _yaml_problem(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        return "%s at line %d, column %d" % (problem, mark.line + 1, mark.column + 1)
    return problem


def load_paths(model: MeshModel, paths: List[str], max_file_size: int = DEFAULT_MAX_FILE_SIZE,
               report: Optional[LoadReport] = None) -> LoadReport:
    """Load every manifest under ``paths`` into the model, recording into ``report`` (a new one by default)."""
    report = report if report is not None else LoadReport()
    for path in manifest_files(paths):
        load_file(model, report, path, max_file_size)
    return report
