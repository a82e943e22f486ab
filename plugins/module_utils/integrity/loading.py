# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decoded documents into the model: what the sources read (files, standard input, a live scan) is taken
in here, validated by the schema gate where it comes from a file, and recorded as a skip where it cannot
be modelled. The sources hand documents over; only this module writes them into the model.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import mesh_config
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import DuplicateObject, MeshModel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import files
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.documents import InvalidDocument
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.files import LoadReport, ParsedFile, Place


def load_object(model: MeshModel, report: LoadReport, obj: Any, source: str, document: int,
                place: Optional[Place] = None, item_starts: Sequence[Tuple[int, int]] = ()) -> None:
    """Model one decoded document (or the items of a List); record why it is skipped.

    ``place`` says where the document starts in its file, ``item_starts`` where each List item does.
    """
    report.documents += 1
    if obj is None:
        return
    if not isinstance(obj, dict):
        report.skip(source, "document is a %s, not a Kubernetes object" % type(obj).__name__, document)
        return
    items = files.list_items(obj, source, document, place, item_starts)
    if items is not None:
        for item, item_source, item_place in items:
            load_object(model, report, item, item_source, document, item_place)
        return
    kind = obj.get("kind")
    if place is not None:
        report.places[source] = place
    if not isinstance(kind, str) or not kind:
        if mesh_config.is_mesh_config_document(obj):
            try:
                model.add_mesh_config(obj, source)
            except InvalidDocument as error:
                report.skip(source, str(error), document)
            return
        report.skip(source, "document has no kind", document)
        return
    if report.schema is not None and place is not None:
        obj = report.schema.admit(obj, source, report.reviews.pop(source, None))
        if obj is None:  # refused where its meaning lies: the schema finding says why
            return
    try:
        modelled = model.add(obj, source)
    except InvalidDocument as error:
        report.skip(source, "%s: %s" % (kind, error), document, error.path)
        return
    except DuplicateObject as error:
        report.skip(source, str(error), document)
        return
    if modelled is None:
        report.ignore(kind)


def add_parsed(model: MeshModel, report: LoadReport, parsed: ParsedFile) -> None:
    """Model a decoded file, in document order."""
    report.files += 1
    report.loaders[parsed.loader] = report.loaders.get(parsed.loader, 0) + 1
    if parsed.reviews:
        report.reviews.update(parsed.reviews)
    if parsed.fallback and len(report.fallbacks) < files.MAX_FALLBACKS_SHOWN:
        report.fallbacks.append("%s: %s" % (parsed.path, parsed.fallback))
    for number, obj, place, item_starts in parsed.documents:
        load_object(model, report, obj, "%s#%d" % (parsed.path, number), number, place, item_starts)
    for reason, document in parsed.problems:
        if reason.startswith(files.UNDECODABLE):
            report.documents += 1  # read, but not an object
        report.skip(parsed.path, reason, document)


def load_paths(model: MeshModel, paths: List[str], max_file_size: int = files.DEFAULT_MAX_FILE_SIZE,
               report: Optional[LoadReport] = None, fast: bool = True) -> LoadReport:
    """Load every manifest under ``paths`` into the model, recording into ``report`` (a new one by default)."""
    report = report if report is not None else LoadReport()
    for parsed in files.parse_files(list(files.manifest_files(paths)), max_file_size, fast, report.schema):
        add_parsed(model, report, parsed)
    return report


class ModelSink:
    """Where a live scan (``sources.live.LiveScan``) hands the objects it lists: this model."""

    def __init__(self, model: MeshModel, report: LoadReport) -> None:
        self.model = model
        self.report = report

    def load(self, obj: Any) -> None:
        load_object(self.model, self.report, obj, "cluster", None)

    def defined(self, kind: str, namespace: str, name: str) -> bool:
        """Whether the object came from files already (the file is what is about to be applied)."""
        return self.model.defined(kind, namespace, name)

    def has_mesh_config(self, istio_namespace: str) -> bool:
        return istio_namespace in self.model.mesh_configs or "" in self.model.mesh_configs

    def mark_scanned(self, kinds: Iterable[str]) -> None:
        self.model.mark_scanned(kinds)
