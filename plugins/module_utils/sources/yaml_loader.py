# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifest text to objects, with the values the Kubernetes API server decodes.

The API server reads YAML with sigs.k8s.io/yaml: go-yaml v2 resolves each plain
scalar (YAML 1.1 booleans ``yes``/``no``/``on``/``off``/``y``/``n``, Go's
``strconv`` number syntax: ``017`` and ``0o17`` octal, ``1_000``, ``1e3``,
``-.5``; timestamps stay strings), and the result goes through JSON, so map keys
become strings and a float with an integral value becomes an integer
(``weight: 1e2`` is 100). Neither PyYAML (YAML 1.1 with other number rules,
dates, ``=``) nor the YAML 1.2 parsers (``yes`` is a string) read manifests so.

Two ways to the same objects:

* ``KubeLoader``, on PyYAML's C parser: every plain scalar is resolved here by
  go-yaml's rules (once per distinct value), mappings and sequences are built
  directly, aliases stay shared (alias bombs stay linear), merge keys merge in
  go-yaml's order.
* ``fast_documents``, on fastyaml-rs (Rust) when it is installed: used for a
  file only when a scan of its text proves that no scalar in it is one where
  YAML 1.2 and go-yaml differ (ambiguous words, numbers other than plain
  decimals, non-string keys, anchors, aliases, tags, merge keys), and its
  document boundaries are plain ``---`` lines; otherwise, or when it refuses
  the text, the file goes through ``KubeLoader``.
"""

from __future__ import annotations

import base64
import decimal
import math
import re
from typing import Any, Dict, List, Optional, Tuple

try:
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode
    BaseLoader: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    YAMLError: Any = yaml.YAMLError
except ImportError:  # the callers report the missing library
    yaml = None
    BaseLoader = object
    YAMLError = ValueError

try:
    import fast_yaml
    FAST_LOADER: Optional[str] = "fastyaml-rs %s" % fast_yaml.__version__
except ImportError:  # optional: the PyYAML path gives the same objects
    fast_yaml = None
    FAST_LOADER = None

PYYAML_LOADER = "PyYAML %s%s" % (getattr(yaml, "__version__", "?"), " (libyaml)" if getattr(yaml, "__with_libyaml__", False) else "")

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
STR_TAG = "tag:yaml.org,2002:str"
# Given to plain (unquoted, untagged) scalars, which this module resolves itself.
PLAIN_TAG = "tag:meshops.io,2026:plain"
YAML_TAG_PREFIX = "tag:yaml.org,2002:"
# Distinct plain scalars resolved once and remembered; beyond this many, they are resolved each time.
RESOLVED_CACHE_SIZE = 65536
INT64 = (-(1 << 63), (1 << 63) - 1)
UINT64_MAX = (1 << 64) - 1
# encoding/json writes floats this large with an exponent: the API server then keeps them as floats.
JSON_EXPONENT_FROM = 1e21

_BOOLS = {word: True for word in ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")}
_BOOLS.update({word: False for word in ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")})
_NULLS = ("", "~", "null", "Null", "NULL")
_SPECIAL_FLOATS = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan, ".inf": math.inf, ".Inf": math.inf,
                   ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
                   "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf}
# go-yaml's float syntax for values starting with a digit or sign, and Go's ParseFloat for those starting with '.'.
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_INT_BASES = {"x": 16, "o": 8, "b": 2}


class DecodeError(ValueError):
    """A document the API server would refuse to decode (a value JSON cannot carry, a null key)."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        super().__init__(problem + where)


def _go_int(text: str) -> Optional[int]:
    """strconv.ParseInt(text, 0, 64), then ParseUint: None when neither accepts it."""
    match = _GO_INT.match(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if len(digits) > 1 and digits[0] == "0":
        base = _INT_BASES.get(digits[1].lower(), 8)
        number = int(digits[2:] if base != 8 or digits[1] in "oO" else digits[1:], base)
    else:
        number = int(digits)
    number = -number if sign == "-" else number
    if INT64[0] <= number <= INT64[1] or (not sign and number <= UINT64_MAX):
        return number
    return None


def go_yaml_scalar(text: str) -> Any:
    """The value go-yaml v2 gives a plain scalar decoded into ``interface{}`` (before JSON)."""
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _NULLS:
        return None
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    first = text[0]
    if first == ".":
        return float(text) if _DOT_FLOAT.match(text) else text
    if first not in "+-0123456789":
        return text
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.match(plain):
        value = float(plain)
        if not math.isinf(value):  # Go's ParseFloat reports a range error: the scalar stays a string
            return value
    return text  # timestamps too: go-yaml hands them to interface{} as the string they are


def json_value(value: Any) -> Any:
    """A decoded scalar as the API server keeps it after its JSON round trip."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise DecodeError("%s cannot be represented in JSON, so the API server refuses the document" % value)
        if value.is_integer() and abs(value) < JSON_EXPONENT_FROM and INT64[0] <= value <= INT64[1]:
            return int(value)
        return value
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        return float(value)  # beyond int64 the API server's JSON decoder keeps a float
    return value


def json_key(key: Any, mark: Any = None) -> str:
    """A map key as sigs.k8s.io/yaml writes it into JSON."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _go_float_key(key)
    type_name = "null" if key is None else type(key).__name__
    raise DecodeError("a map key of type %s is not supported by the API server" % type_name, mark)


def _go_float_key(number: float) -> str:
    """strconv.FormatFloat(number, 'g', -1, 32), as sigs.k8s.io/yaml formats float keys (shortest digits)."""
    if math.isinf(number) or math.isnan(number):
        return ".nan" if math.isnan(number) else (".inf" if number > 0 else "-.inf")
    sign, digits, exponent = decimal.Decimal(repr(number)).normalize().as_tuple()
    text = "".join(map(str, digits))
    power = len(text) + int(exponent) - 1
    if power < -4 or power >= 6:  # Go's rule for the shortest 'g' form
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return "%s%se%s%02d" % ("-" if sign else "", mantissa, "-" if power < 0 else "+", abs(power))
    return format(decimal.Decimal(repr(number)).normalize(), "f")


_RESOLVED: Dict[str, Any] = {}
_KEYS: Dict[str, str] = {}


def plain_value(text: str) -> Any:
    """A plain scalar in value position, as the API server keeps it (cached per distinct text)."""
    try:
        return _RESOLVED[text]
    except KeyError:
        pass
    value = json_value(go_yaml_scalar(text))
    if len(_RESOLVED) < RESOLVED_CACHE_SIZE:
        _RESOLVED[text] = value
    return value


class KubeLoader(BaseLoader):  # type: ignore[misc,valid-type]
    """``yaml.load_all(text, Loader=KubeLoader)``: PyYAML's parser, the API server's values."""

    document_node: Any = None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return PLAIN_TAG if implicit[0] else STR_TAG
        return MAP_TAG if kind is MappingNode else SEQ_TAG

    def construct_document(self, node: Any) -> Any:
        self.document_node = node
        return self._build(node, {})

    def _build(self, node: Any, memo: Dict[int, Any]) -> Any:
        known = memo.get(id(node), memo)
        if known is not memo:
            return known
        cls = node.__class__
        if cls is ScalarNode:
            value: Any = plain_value(node.value) if node.tag == PLAIN_TAG else (
                node.value if node.tag == STR_TAG else _tagged_scalar(node))
        elif cls is MappingNode:
            value = memo[id(node)] = {}
            for key_node, value_node in node.value:
                if key_node.tag == PLAIN_TAG and key_node.value == "<<":
                    self._merge(value, value_node, memo)
                    continue
                key = key_node.value if key_node.tag == STR_TAG else self._key(key_node, memo)
                value[key] = self._build(value_node, memo)
        else:
            value = memo[id(node)] = []
            value.extend([self._build(child, memo) for child in node.value])
        memo[id(node)] = value
        return value

    def _key(self, node: Any, memo: Dict[int, Any]) -> str:
        if node.__class__ is not ScalarNode:
            raise DecodeError("a map key must be a scalar", node.start_mark)
        if node.tag != PLAIN_TAG:
            return json_key(self._build(node, memo), node.start_mark)
        key = _KEYS.get(node.value)
        if key is None:
            key = json_key(go_yaml_scalar(node.value), node.start_mark)
            if len(_KEYS) < RESOLVED_CACHE_SIZE:
                _KEYS[node.value] = key
        return key

    def _merge(self, target: Dict[str, Any], node: Any, memo: Dict[int, Any]) -> None:
        """go-yaml's ``<<``: merged keys overwrite what precedes them; of a list, the earlier mapping wins."""
        sources = [node] if node.__class__ is MappingNode else list(reversed(node.value)) \
            if node.__class__ is SequenceNode else None
        if sources is None or any(source.__class__ is not MappingNode for source in sources):
            raise DecodeError("map merge requires a map or a sequence of maps as the value", node.start_mark)
        for source in sources:
            target.update(self._build(source, memo))


def _tagged_scalar(node: Any) -> Any:
    """A scalar with an explicit tag: go-yaml checks the standard ones and ignores any other."""
    tag = node.tag
    if not tag.startswith(YAML_TAG_PREFIX):
        return node.value
    name = tag[len(YAML_TAG_PREFIX):]
    if name == "binary":
        try:
            return base64.b64decode(node.value, validate=False).decode("utf-8", "replace")
        except ValueError:
            raise DecodeError("!!binary value is not base64", node.start_mark) from None
    if name == "timestamp":
        return node.value
    value = go_yaml_scalar(node.value)
    expected = {"bool": (bool,), "int": (int,), "float": (float, int), "null": (type(None),)}.get(name)
    if expected is None or (isinstance(value, bool) and name != "bool") or not isinstance(value, expected):
        raise DecodeError("cannot decode %r as !!%s" % (node.value, name), node.start_mark)
    return json_value(float(value) if name == "float" else value)


# ---- the fast path ------------------------------------------------------------------------------------------

# A scalar starts after a space, a line break or a flow bracket or comma (after "key: ", "- ", an anchor "&a "),
# with one of the characters a scalar read differently can start with. (Consuming the delimiter first lets the
# regular expression engine skip ahead fast.) Aliases repeat what their anchor's text holds: that text is
# scanned where it stands.
_SCALAR_START = r"[ \t\n\[{,](?=[yYnNoO.+\-0-9~tTfF!?<])"
_SCALAR_END = r"(?=[ \t]*(?:$|#|[,\]}]|:(?:[ \t]|$)))"
# Read the same by both: YAML 1.2 core booleans and nulls, and plain decimals, except as keys.
_SAME_WORDS = ("true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~")
_AMBIGUOUS_WORDS = "|".join(re.escape(word) for word in sorted((set(_BOOLS) | set(_SPECIAL_FLOATS)) - set(_SAME_WORDS),
                                                               key=len, reverse=True))
_NUMBER_LIKE = r"[-+]?[.0-9][0-9a-fA-FxXoObB_.:eE+-]*"
_SAFE_DECIMAL = r"(?:0|-?[1-9][0-9]{0,17})"
_KEY_END = r"(?=[ \t]*:(?:[ \t]|$))"
# Anything a YAML 1.2 parser and go-yaml could read differently, in any scalar position: tags, complex keys,
# merge keys, ambiguous words and numbers, non-string keys. (Block scalars are text to both; their lines are
# scanned all the same: a false alarm only costs the fast path.)
_GUARD = re.compile(_SCALAR_START + r"(?:[!?]|<<|(?:" + _AMBIGUOUS_WORDS + r")" + _SCALAR_END
                    + r"|(?!" + _SAFE_DECIMAL + _SCALAR_END + r")" + _NUMBER_LIKE + _SCALAR_END
                    + r"|(?:" + "|".join(map(re.escape, _SAME_WORDS)) + "|" + _SAFE_DECIMAL + r")" + _KEY_END + ")",
                    re.M)
_MARKER = re.compile(r"^(?:---|\.\.\.|%)", re.M)
# The first line of a document's content: not blank, not a comment; its indentation.
_CONTENT = re.compile(r"^([ \t]*)[^ \t\n#]", re.M)
_UNUSUAL_BREAKS = re.compile("[\r\x85\u2028\u2029\ufeff]")
_LIST_KIND = re.compile(r"^kind:[ \t]*['\"]?\w*List\b", re.M)


def fast_refusal(text: str) -> Optional[str]:
    """Why the fast parser cannot be trusted with this text (None when it can)."""
    if fast_yaml is None:
        return "fastyaml-rs is not installed"
    if _UNUSUAL_BREAKS.search(text):
        return "line breaks other than LF, or a byte order mark"
    if _LIST_KIND.search(text):
        return "a List document (its items' lines are read by the PyYAML path)"
    match = _GUARD.search("\n" + text)
    if match is not None:
        return "scalar %r at line %d is one YAML 1.2 and the API server may read differently" % (
            match.group(0).strip(" \t\n-:[{,"), text.count("\n", 0, match.start()) + 1)
    return None


# A document's root node: where it starts (0-based line, column) and the line its node ends on.
Span = Tuple[int, int, int]


def document_spans(text: str) -> Optional[List[Span]]:
    """Where each document's root starts, from its plain ``---`` lines; None when the layout is not that simple."""
    markers: List[Tuple[int, int]] = []  # (line of a '---', where the line after it starts)
    line, position = 0, 0
    for match in _MARKER.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        if text[position:end].rstrip(" \t") != "---":
            return None  # '...', directives, or content on the marker line
        markers.append((line, end + 1))
    line_count = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    spans: List[Span] = []
    for index, (marker_line, after) in enumerate([(-1, 0)] + markers):
        next_marker = markers[index][0] if index < len(markers) else line_count
        content = _CONTENT.search(text, after)
        start = marker_line + 1 + text.count("\n", after, content.start()) if content else next_marker
        if start >= next_marker:
            if index == 0 and markers:
                continue  # comments before the first '---' are not a document
            return None  # an empty document: PyYAML and the fast parser count those differently
        if "\t" in content.group(1):
            return None
        spans.append((start, len(content.group(1)), next_marker))
    return spans


def fast_documents(text: str) -> Tuple[Optional[List[Tuple[Any, Span]]], Optional[str]]:
    """(documents with their spans, None) from the fast parser, or (None, why not) to use ``KubeLoader``."""
    refusal = fast_refusal(text)
    if refusal is not None:
        return None, refusal
    spans = document_spans(text)
    if spans is None:
        return None, "document markers other than plain '---' lines, or empty documents"
    try:
        documents = list(fast_yaml.safe_load_all(text))
    except Exception as error:  # pylint: disable=broad-exception-caught  # any refusal: PyYAML explains it
        return None, "fastyaml-rs refused it (%s)" % str(error).splitlines()[0][:120]
    if len(documents) != len(spans):
        return None, "fastyaml-rs found %d documents, the layout %d" % (len(documents), len(spans))
    return list(zip(documents, spans)), None
