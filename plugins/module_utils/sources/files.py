# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifest files as decoded documents: directories, multi-document YAML, JSON, List kinds.

Nothing a file contains raises: what cannot be decoded is a problem of its file naming the document,
for the loader (``integrity.loading``) to record as a skip. Each document carries where it starts
(file, document, line, column), so findings can point at it (``locations``).
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import parallel
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import yaml_loader

try:
    import yaml
    YAML_IMPORT_ERROR: Optional[ImportError] = None
except ImportError as import_error:
    yaml = None
    YAML_IMPORT_ERROR = import_error

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_MAX_FILE_SIZE = 16 * 1024 * 1024
# Why files were not read by the fast loader: the first few are enough to act on.
MAX_FALLBACKS_SHOWN = 5
UNDECODABLE = "the API server cannot decode this document"


class SourceError(ValueError):
    """A source path the user gave cannot be read at all."""


class Place(NamedTuple):
    """Where an object starts (0-based line and column) and where its document's root node spans, to re-read it."""

    path: str
    document: int
    line: int
    column: int
    first_line: int
    first_column: int
    last_line: int
    item: Optional[int] = None


class LoadReport:
    """What a load read, ignored and skipped, and where each object read from a file starts."""

    def __init__(self) -> None:
        self.files = 0
        self.documents = 0
        self.ignored_kinds: Dict[str, int] = {}
        self.skipped: List[Dict[str, Any]] = []
        self.places: Dict[str, Place] = {}
        # Files read by each loader, and why the fast one was not used for the others (first few).
        self.loaders: Dict[str, int] = {}
        self.fallbacks: List[str] = []
        # The schema layer's gate (schema.admission.SchemaGate), when documents from files are validated, and
        # the verdicts reached where the files were parsed, by source name, until their objects are loaded.
        self.schema: Any = None
        self.reviews: Dict[str, Any] = {}

    def loader_summary(self) -> Dict[str, Any]:
        return {"fast": yaml_loader.FAST_LOADER, "files": dict(self.loaders), "fallbacks": self.fallbacks}

    def skip(self, source: str, reason: str, document: Optional[int] = None, field: Optional[str] = None) -> None:
        """Record a skipped document; ``field`` is the path of the field at fault, to locate it."""
        entry: Dict[str, Any] = {"source": source, "reason": reason}
        if document is not None:
            entry["document"] = document
        if field:
            entry["field"] = field
        self.skipped.append(entry)

    def ignore(self, kind: Any) -> None:
        key = kind if isinstance(kind, str) else "(no kind)"
        self.ignored_kinds[key] = self.ignored_kinds.get(key, 0) + 1


def manifest_files(paths: List[str]) -> Iterator[str]:
    """Every manifest file under the given paths, in a stable order, each once (paths and patterns overlap)."""
    seen = set()
    for path in paths:
        for found in _files_under(path):
            real = os.path.realpath(found)
            if real not in seen:
                seen.add(real)
                yield found


def _files_under(path: str) -> Iterator[str]:
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


def list_items(obj: Dict[str, Any], source: str, document: int, place: Optional[Place],
               item_starts: Sequence[Tuple[int, int]]) -> Optional[List[Tuple[Any, str, Optional[Place]]]]:
    """(item, source, place) of each item of a List document; None for any other document."""
    kind = obj.get("kind")
    if not (isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list)):
        return None
    items = []
    for index, item in enumerate(obj["items"]):
        item_place = None
        if place is not None and index < len(item_starts):
            line, column = item_starts[index]
            item_place = place._replace(line=line, column=column, item=index)
        items.append((item, "%s#%d.items[%d]" % (source.split("#")[0], document, index), item_place))
    return items


def _reviewable(obj: Any, source: str, document: int, place: Optional[Place],
                item_starts: Sequence[Tuple[int, int]]) -> Iterator[Tuple[Dict[str, Any], str]]:
    """The objects of a document the schema gate validates when they are loaded, with their source names."""
    if not isinstance(obj, dict) or place is None:
        return
    items = list_items(obj, source, document, place, item_starts)
    if items is not None:
        for item, item_source, item_place in items:
            yield from _reviewable(item, item_source, document, item_place, ())
    elif isinstance(obj.get("kind"), str) and obj["kind"]:
        yield obj, source


def reviewed(parsed: "ParsedFile", gate: Any) -> "ParsedFile":
    """A parsed file with the schema gate's verdict on each of its objects (where it was parsed: in parallel)."""
    reviews = {}
    for number, obj, place, item_starts in parsed.documents:
        for item, source in _reviewable(obj, "%s#%d" % (parsed.path, number), number, place, item_starts):
            reviews[source] = gate.review(item, source)
    return parsed._replace(reviews=reviews)


class ParsedFile(NamedTuple):
    """One file, decoded: (number, object, place, List item starts) per document, and why the rest was not;
    which loader read it, and why not the fast one; the schema gate's verdicts by source name, when asked for."""

    path: str
    documents: List[Tuple[int, Any, Place, List[Tuple[int, int]]]]
    problems: List[Tuple[str, Optional[int]]]
    loader: str = yaml_loader.PYYAML_LOADER
    fallback: Optional[str] = None
    reviews: Optional[Dict[str, Any]] = None


def parse_file(path: str, max_file_size: int, fast: bool = True) -> ParsedFile:
    """Decode every document of a file; a problem ends the file (the parser cannot resynchronise)."""
    parsed = ParsedFile(path, [], [])
    size = os.path.getsize(path)
    if size > max_file_size:
        parsed.problems.append(("file is %d bytes, over the max_file_size limit of %d" % (size, max_file_size), None))
        return parsed
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        parsed.problems.append(("cannot read file: %s" % error, None))
        return parsed
    return parse_text(path, text, fast)


def parse_text(name: str, text: str, fast: bool = True) -> ParsedFile:
    """Decode every document of a text named ``name`` (a file, or ``stdin``), with the API server's values.

    The fast parser reads it when it is installed, ``fast`` and the text is one it reads exactly as the
    API server does; PyYAML otherwise, with the same result.
    """
    if not fast:
        return _parse_with_pyyaml(name, text, "the PyYAML loader was asked for")
    documents, refusal = yaml_loader.fast_documents(text)
    if documents is None:
        return _parse_with_pyyaml(name, text, refusal)
    parsed = ParsedFile(name, [], [], yaml_loader.FAST_LOADER or "")
    for number, (obj, (line, column, last_line)) in enumerate(documents, 1):
        parsed.documents.append((number, obj, Place(name, number, line, column, line, column, last_line), []))
    return parsed


def _parse_with_pyyaml(name: str, text: str, fallback: Optional[str]) -> ParsedFile:
    parsed = ParsedFile(name, [], [], yaml_loader.PYYAML_LOADER, fallback)
    number = 0
    loader = yaml_loader.KubeLoader(text)
    try:
        while loader.check_data():
            number += 1  # from here on, a problem is in this document
            try:
                obj = loader.get_data()
            except yaml_loader.DecodeError as error:
                parsed.problems.append(("%s: %s" % (UNDECODABLE, error), number))
                continue
            node = loader.document_node
            start = node.start_mark
            place = Place(name, number, start.line, start.column, start.line, start.column, node.end_mark.line)
            kind = obj.get("kind") if isinstance(obj, dict) else None
            item_starts = _list_item_starts(node) if isinstance(kind, str) and kind.endswith("List") else []
            parsed.documents.append((number, obj, place, item_starts))
    except yaml.YAMLError as error:
        parsed.problems.append(("invalid YAML (this and any later documents skipped): %s" % _yaml_problem(error),
                                _failing(parsed, number)))
    except RecursionError:
        parsed.problems.append(("document nests too deeply to be a Kubernetes object", _failing(parsed, number)))
    finally:
        loader.dispose()
    return parsed


def _failing(parsed: ParsedFile, number: int) -> int:
    """The document a parse problem is in: the one being read, or the next when the last one was complete."""
    done = parsed.documents[-1][0] if parsed.documents else 0
    problem = parsed.problems[-1][1] if parsed.problems else 0
    return number if number > max(done, problem or 0) else number + 1


def _plain(parsed: ParsedFile) -> Any:
    """A parsed file as builtin types only, to cross a process boundary."""
    return (parsed.path, [(number, obj, tuple(place), starts) for number, obj, place, starts in parsed.documents],
            parsed.problems, parsed.loader, parsed.fallback, parsed.reviews)


def _from_plain(plain: Any) -> ParsedFile:
    path, documents, problems, loader, fallback, reviews = plain
    return ParsedFile(path, [(number, obj, Place(*place), starts) for number, obj, place, starts in documents], problems,
                      loader, fallback, reviews)


def parse_files(paths: List[str], max_file_size: int, fast: bool = True, gate: Any = None) -> Iterator[ParsedFile]:
    """Every file parsed (and reviewed by the schema ``gate``, if any), in order; on two or more CPUs, big loads
    are parsed by two processes."""
    def parse(path: str) -> ParsedFile:
        parsed = parse_file(path, max_file_size, fast)
        return parsed if gate is None else reviewed(parsed, gate)
    sizes = [_size(path) for path in paths]
    return parallel.ordered_map(parse, paths, sizes, _plain, _from_plain)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _list_item_starts(node: Any) -> List[Tuple[int, int]]:
    """(line, column) of each item of a List document's ``items``; empty for other documents."""
    if node.id != "mapping":
        return []
    for key, value in node.value:
        if key.value == "items" and value.id == "sequence":
            return [(item.start_mark.line, item.start_mark.column) for item in value.value]
    return []


def _yaml_problem(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        return "%s at line %d, column %d" % (problem, mark.line + 1, mark.column + 1)
    return problem
