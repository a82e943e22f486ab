# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema layer's one entry point for the load path: would the API server accept this document?

``SchemaGate.admit`` is called once per loaded document with its source name. It records each reason
the API server would refuse the document (a ``Rejection``: field path and wording) and returns what the
model may read: the object without the refused values, so that no other finding depends on a value the
API server would not store; or None when what is left has no clear meaning (a refused name, a version
the CRD does not serve, a refused ``spec``). ``review`` reaches the same verdict in builtin types without
recording it, so that the processes parsing files validate what they parse and the loading process only
records it. What cannot be validated offline is counted in ``not_validated`` by reason, never passed as
valid.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import cel_rules, core
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.catalogue import (
    CLUSTER, SchemaCatalogue, pinned_schemas)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.structural import SchemaError

# ``SchemaGate.review``: (what the model may read, rejections as plain tuples, what was not validated).
Review = Tuple[Optional[Dict[str, Any]], List[Tuple[str, ...]], List[str]]

# Finding codes of the schema layer (the check catalogue documents them with the SQL checks).
STRUCTURAL = "MSH801"
CEL_RULE = "MSH802"
BUILT_IN = "MSH803"
CODE_BY_ORIGIN = {"schema": STRUCTURAL, "cel": CEL_RULE, "core": BUILT_IN}
# Values whose refusal leaves the object without a clear meaning: the model does not read it then.
IDENTITY_PATHS = ("", "apiVersion", "kind", "metadata", "metadata.name", "metadata.namespace", "spec")


class Rejection(NamedTuple):
    """One reason the API server would refuse a document."""

    source: str
    kind: str
    api_group: str
    namespace: str
    name: str
    path: str
    reason: str
    code: str


def _split_api_version(api_version: Any) -> Tuple[str, str]:
    text = api_version if isinstance(api_version, str) else ""
    group, slash, version = text.rpartition("/")
    return (group, version) if slash else ("", text)


class SchemaGate:
    """Validates documents against the catalogue and core rules; collects rejections and gaps."""

    def __init__(self, catalogue: Optional[SchemaCatalogue] = None) -> None:
        if catalogue is None:
            catalogue = SchemaCatalogue(pinned_schemas(), cel_rules.cel_compiler())
        self.catalogue = catalogue
        self.rejections: List[Rejection] = []
        self.not_validated: Dict[str, int] = {}
        if catalogue.cel is None:
            self._gap("CEL rules (x-kubernetes-validations) not evaluated: the common-expression-language "
                      "Python package is not installed (%s)" % cel_rules.CEL_IMPORT_ERROR)

    def admit(self, obj: Dict[str, Any], source: str, review: Optional[Review] = None) -> Optional[Dict[str, Any]]:
        """The object the model may read, or None; rejections are recorded (``review``: already reviewed)."""
        kept, rejections, gaps = review if review is not None else self.review(obj, source)
        self.rejections.extend(Rejection(*rejection) for rejection in rejections)
        for gap in gaps:
            self._gap(gap)
        return kept

    def review(self, obj: Dict[str, Any], source: str) -> Review:
        """The verdict on one document, recorded nowhere."""
        group, version = _split_api_version(obj.get("apiVersion"))
        kind = obj.get("kind")
        gaps: List[str] = []
        errors = self._errors(obj, group, version, kind, gaps)
        if not errors:
            return obj, [], gaps
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        rejections = [tuple(Rejection(source, kind, group, str(metadata.get("namespace") or ""),
                                      str(metadata.get("name") or ""), error.path, error.reason,
                                      CODE_BY_ORIGIN[error.origin])) for error in errors]
        return _without(obj, errors), rejections, gaps

    def _errors(self, obj: Dict[str, Any], group: str, version: str, kind: str,
                gaps: List[str]) -> List[SchemaError]:
        if not self.catalogue.knows(group, kind):
            if self.catalogue.source(group) == CLUSTER and not self.catalogue.builtin(group):
                return [SchemaError("kind", 'no matches for kind "%s" in version "%s/%s" (the cluster serves no '
                                            'CustomResourceDefinition of this kind: ensure CRDs are installed first)'
                                    % (kind, group, version))]
            gaps.append("%s%s: no schema known, not validated" % (kind, " (%s)" % group if group else ""))
            return []
        validator = self.catalogue.validator(group, version, kind)
        if validator is None:
            return [SchemaError("apiVersion", 'no matches for kind "%s" in version "%s" (served: %s)' % (
                kind, "/".join(part for part in (group, version) if part),
                ", ".join(self.catalogue.served_versions(group, kind))))]
        if self.catalogue.experimental(group, kind, version):
            gaps.append("%s %s/%s: served by the Gateway API's experimental channel only, validated against it (a "
                        "cluster with the standard channel refuses it)" % (kind, group, version))
        for gap in validator.unvalidated:
            gaps.append("%s %s/%s %s: %s" % (kind, group, version, gap.path, gap.reason))
        _stored, errors = validator.validate(obj)
        if not self.catalogue.builtin(group):
            return core.object_meta(obj, self.catalogue.namespaced(group, kind)) + errors
        # A built-in kind: what the decoder refuses, then the hand-written rules on the values it reads.
        decoded = _less(obj, errors)[0] if errors else obj
        built_in = core.validate_core(group, kind, decoded)
        if built_in is None:
            built_in = core.object_meta(decoded, self.catalogue.namespaced(group, kind))
        return errors + [error._replace(origin="core") for error in built_in if not _covered(error.path, errors)]

    def _gap(self, reason: str) -> None:
        self.not_validated[reason] = self.not_validated.get(reason, 0) + 1

    def summary(self) -> List[str]:
        """What was not validated, and why (with how many documents), for the result summary."""
        return ["%s (%d document%s)" % (reason, count, "" if count == 1 else "s")
                for reason, count in sorted(self.not_validated.items())]


def _covered(path: str, errors: List[SchemaError]) -> bool:
    """Whether a decoding error was found at ``path`` or above it (the hand-written rule adds nothing then)."""
    return any(not error.path or path == error.path or path.startswith((error.path + ".", error.path + "["))
               for error in errors)


def _without(obj: Dict[str, Any], errors: List[SchemaError]) -> Optional[Dict[str, Any]]:
    """The object less every refused value (the mapping member holding it); None when its identity is refused."""
    kept, identity_refused = _less(obj, errors)
    return None if identity_refused else kept


def _less(obj: Dict[str, Any], errors: List[SchemaError]) -> Tuple[Dict[str, Any], bool]:
    """A copy of the object less every refused value, and whether one of them is part of its identity."""
    kept = copy.deepcopy(obj)
    identity_refused = False
    for error in errors:
        owner = _owning_member(kept, error.path)
        if owner is None:
            continue  # a missing value: nothing to take away
        parent, key, member_path = owner
        identity_refused = identity_refused or member_path in IDENTITY_PATHS
        if member_path:
            parent.pop(key, None)
    return kept, identity_refused


def _owning_member(obj: Any, path: str) -> Optional[Tuple[Dict[str, Any], str, str]]:
    """(mapping, key, its path) of the deepest mapping member on the way to ``path``, if the value exists."""
    node, rest, walked = obj, path, ""
    owner: Optional[Tuple[Dict[str, Any], str, str]] = None
    if not path:
        return (obj, "", "")
    while rest:
        if isinstance(node, dict):
            key = _longest_key(node, rest)
            if key is None:
                return None
            walked = "%s.%s" % (walked, key) if walked else key
            owner = (node, key, walked)
            node, rest = node[key], rest[len(key):]
        elif isinstance(node, list) and rest.startswith("["):
            index, _bracket, rest = rest[1:].partition("]")
            if not index.isdigit() or int(index) >= len(node):
                return None
            node = node[int(index)]
            walked += "[%s]" % index
        else:
            return None
        rest = rest[1:] if rest.startswith(".") else rest
    return owner


def _longest_key(node: Dict[str, Any], rest: str) -> Optional[str]:
    best = None
    for key in node:
        name = str(key)
        if (rest == name or rest.startswith((name + ".", name + "["))) and (best is None or len(name) > len(best)):
            best = name
    return best
