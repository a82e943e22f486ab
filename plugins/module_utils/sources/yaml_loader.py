# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A faster safe YAML loader for large manifest folders.

PyYAML's C loader parses in C but builds Python objects with a generic,
generator-driven constructor that dominates the time on Kubernetes manifests.
Plain mappings, sequences and strings (nearly everything in a manifest) are
built here directly; any other node (ints, booleans, timestamps, explicit tags,
merge keys) goes through PyYAML's own safe constructor, so the result is the
same as ``yaml.safe_load``. A memo keeps aliases shared, so alias bombs stay
linear.

Tag resolution is the other cost: PyYAML's resolver, called from C for every
scalar, tries regular expressions in Python. A plain scalar whose first
character no implicit resolver claims (most names and keys) is a string
without that search; the rest are resolved once per distinct value.

The root node of the last document stays readable (``document_node``) so the
caller can record where each object starts in its file.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

try:
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode
    BaseLoader: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
except ImportError:  # the callers report the missing library
    yaml = None
    BaseLoader = object

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
# Distinct plain scalars resolved once and remembered; beyond this many, the resolver just runs.
RESOLVED_CACHE_SIZE = 65536


class FastSafeLoader(BaseLoader):  # type: ignore[misc,valid-type]
    """``yaml.load_all(text, Loader=FastSafeLoader)`` gives what SafeLoader gives, faster."""

    document_node: Any = None
    _resolved: Dict[Tuple[str, bool], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not ScalarNode or self.yaml_path_resolvers or None in self.yaml_implicit_resolvers:
            return super().resolve(kind, value, implicit)
        if not implicit[0] or (value and value[0] not in self.yaml_implicit_resolvers):
            return STR_TAG  # quoted, or no resolver starts with that character
        key = (value, implicit[1])
        tag = self._resolved.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._resolved) < RESOLVED_CACHE_SIZE:
                self._resolved[key] = tag
        return tag

    def construct_document(self, node: Any) -> Any:
        self.document_node = node
        memo: Dict[int, Any] = {}
        return self._build(node, memo)

    def _build(self, node: Any, memo: Dict[int, Any]) -> Any:
        known = memo.get(id(node), memo)
        if known is not memo:
            return known
        if isinstance(node, ScalarNode) and node.tag == STR_TAG:
            value: Any = node.value
        elif isinstance(node, MappingNode) and node.tag == MAP_TAG and not any(
                key.tag == MERGE_TAG for key, _value in node.value):
            value = memo[id(node)] = {}
            for key_node, value_node in node.value:
                key = self._build(key_node, memo)
                try:
                    value[key] = self._build(value_node, memo)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, "found unhashable key",
                        key_node.start_mark) from None
        elif isinstance(node, SequenceNode) and node.tag == SEQ_TAG:
            value = memo[id(node)] = []
            value.extend(self._build(child, memo) for child in node.value)
        else:
            value = self.construct_object(node, deep=True)
        memo[id(node)] = value
        return value
