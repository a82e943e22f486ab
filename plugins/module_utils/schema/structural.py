# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Structural OpenAPI v3 validation of one object, as the API server validates custom resources.

A CRD version's ``openAPIV3Schema`` is compiled once into a tree of ``Node`` objects (regular
expressions, enum sets and CEL programs prepared), then applied per object in the API server's
order: null values of non-nullable fields are dropped, defaults filled in, unknown fields refused
(strict field validation; ``x-kubernetes-preserve-unknown-fields`` honoured), then types, formats,
enums, required fields, ranges, lengths, list types and the CEL rules. Errors carry the field path
(``spec.http[0].timeout``) and the reason worded as the API server words it.

``DecodingValidator`` applies a built-in kind's schema (``schema.builtin``) as the API server reads such
an object instead: with Go's strict JSON decoder, which refuses unknown fields and types only.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import re
from datetime import datetime
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

Rules = Callable[[Dict[str, Any]], Any]


class SchemaError(NamedTuple):
    """One reason the API server refuses an object: the field and its wording."""

    path: str
    reason: str
    # "schema" (structural) or "cel" (an x-kubernetes-validations rule).
    origin: str = "schema"


class Unvalidated(NamedTuple):
    """A rule that could not be evaluated offline, and why."""

    path: str
    reason: str


def go_quote(value: Any) -> str:
    """A value as the API server's errors print it (Go's %q for strings, JSON-ish otherwise)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return str(value)


def unquoted_hint(value: Any) -> str:
    """What to do about a string field that YAML read as another type; an unquoted ``on`` or ``1.10`` is the usual
    cause."""
    if isinstance(value, (bool, int, float)):
        return " (the API server reads this unquoted YAML value as a %s: quote it)" % (
            "boolean" if isinstance(value, bool) else "number")
    return ""


_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value)) or ("null" if value is None else type(value).__name__)


def _is_type(value: Any, wanted: str) -> bool:
    actual = _TYPE_NAMES.get(type(value))
    return actual == wanted or (wanted == "number" and actual == "integer")


def _date_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in text.upper()


def _base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _ip(version: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False
    return check


# String formats the API server checks (kube-openapi's registry); number formats (int32, double) are not range-checked.
STRING_FORMATS: Dict[str, Callable[[str], bool]] = {
    "date-time": _date_time, "byte": _base64, "ipv4": _ip(4), "ipv6": _ip(6),
}


def _path(parent: str, key: str) -> str:
    return "%s.%s" % (parent, key) if parent else key


class CelRule(NamedTuple):
    program: Any
    rule: str
    message: str
    message_expression: Any
    field_path: str
    reason: str


class Node:
    """One compiled schema node."""

    __slots__ = ("type", "properties", "additional", "items", "required", "enum", "pattern", "format", "nullable",
                 "preserve_unknown", "int_or_string", "embedded", "minimum", "maximum", "exclusive_minimum",
                 "exclusive_maximum", "min_length", "max_length", "min_items", "max_items", "min_properties",
                 "max_properties", "list_type", "map_keys", "one_of", "any_of", "all_of", "not_", "rules",
                 "defaults", "raw_enum", "fixups", "scalar_rules", "combined", "format_name")

    def __init__(self, schema: Dict[str, Any], cel: Optional["CelCompiler"], unvalidated: List[Unvalidated],
                 path: str) -> None:
        self.type = schema.get("type")
        self.properties = {name: Node(sub, cel, unvalidated, _path(path, name))
                           for name, sub in (schema.get("properties") or {}).items()}
        additional = schema.get("additionalProperties")
        self.additional = Node(additional, cel, unvalidated, path + "[*]") if isinstance(additional, dict) else None
        self.items = Node(schema["items"], cel, unvalidated, path + "[*]") if isinstance(schema.get("items"), dict) else None
        self.required = tuple(schema.get("required") or ())
        self.raw_enum = schema.get("enum")
        self.enum = None if self.raw_enum is None else [json.dumps(v, sort_keys=True) for v in self.raw_enum]
        self.pattern = re.compile(schema["pattern"]) if schema.get("pattern") else None
        self.format_name = schema.get("format")
        self.format = STRING_FORMATS.get(self.format_name or "")
        self.nullable = bool(schema.get("nullable"))
        self.preserve_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        self.int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
        self.embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        self.minimum = schema.get("minimum")
        self.maximum = schema.get("maximum")
        self.exclusive_minimum = bool(schema.get("exclusiveMinimum"))
        self.exclusive_maximum = bool(schema.get("exclusiveMaximum"))
        self.min_length = schema.get("minLength")
        self.max_length = schema.get("maxLength")
        self.min_items = schema.get("minItems")
        self.max_items = schema.get("maxItems")
        self.min_properties = schema.get("minProperties")
        self.max_properties = schema.get("maxProperties")
        self.list_type = schema.get("x-kubernetes-list-type")
        self.map_keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        self.one_of = [Node(sub, None, unvalidated, path) for sub in schema.get("oneOf") or ()]
        self.any_of = [Node(sub, None, unvalidated, path) for sub in schema.get("anyOf") or ()]
        self.all_of = [Node(sub, None, unvalidated, path) for sub in schema.get("allOf") or ()]
        self.not_ = Node(schema["not"], None, unvalidated, path) if isinstance(schema.get("not"), dict) else None
        self.defaults = {name: sub["default"] for name, sub in (schema.get("properties") or {}).items()
                         if "default" in sub}
        self.scalar_rules = any(rule is not None for rule in (
            self.max_length, self.min_length, self.pattern, self.format, self.minimum, self.maximum))
        self.combined = bool(self.one_of or self.any_of or self.all_of or self.not_)
        # Whether defaults are set here or below: only such objects are copied before validation.
        self.fixups = bool(self.defaults) or any(
            child.fixups for child in list(self.properties.values()) + [self.additional, self.items] if child)
        self.rules: List[CelRule] = []
        for rule in schema.get("x-kubernetes-validations") or ():
            if cel is None:
                unvalidated.append(Unvalidated(path or "(root)", "CEL rule %r: no CEL library" % rule.get("rule")))
                continue
            compiled = cel.compile(rule, path, unvalidated)
            if compiled is not None:
                self.rules.append(compiled)


class CelCompiler:
    """What ``Node`` needs of a CEL implementation (``cel_rules.KubernetesCel``)."""

    def compile(self, rule: Dict[str, Any], path: str, unvalidated: List[Unvalidated]) -> Optional[CelRule]:
        raise NotImplementedError

    def evaluate(self, rule: CelRule, value: Any) -> Tuple[bool, str]:
        raise NotImplementedError


class Validator:
    """A compiled schema; ``validate`` returns the errors of one object (after its defaults are applied)."""

    def __init__(self, schema: Dict[str, Any], cel: Optional[CelCompiler] = None,
                 meta_properties: Sequence[str] = ("apiVersion", "kind", "metadata")) -> None:
        self.unvalidated: List[Unvalidated] = []
        self.cel = cel
        self.root = Node(schema, cel, self.unvalidated, "")
        self.meta_properties = frozenset(meta_properties)

    def validate(self, obj: Dict[str, Any]) -> Tuple[Dict[str, Any], List[SchemaError]]:
        """The object as the API server would store it (nulls dropped, defaults set) and its errors."""
        errors: List[SchemaError] = []
        if self.root.fixups:
            obj = _prune_and_default(self.root, copy.deepcopy(obj), True)
        self._check(self.root, obj, "", errors, root=True)
        return obj, errors

    def _check(self, node: Node, value: Any, path: str, errors: List[SchemaError], root: bool = False) -> None:
        if not self._type_ok(node, value, path, errors):
            return
        if isinstance(value, dict):
            self._check_object(node, value, path, errors, root)
        elif isinstance(value, list):
            self._check_array(node, value, path, errors)
        elif node.scalar_rules:
            self._check_scalar(node, value, path, errors)
        if node.enum is not None and json.dumps(value, sort_keys=True) not in node.enum:
            errors.append(SchemaError(path, "Unsupported value: %s: supported values: %s" % (
                go_quote(value), ", ".join(go_quote(v) for v in node.raw_enum))))
        if node.combined:
            for reason in self._combinators(node, value, path):
                errors.append(SchemaError(path, reason))
        if node.rules and self.cel is not None and not errors_under(errors, path):
            for rule in node.rules:
                ok, message = self.cel.evaluate(rule, value)
                if not ok:
                    errors.append(SchemaError(_path(path, rule.field_path.lstrip(".")) if rule.field_path else path,
                                              "%s: %s" % (_invalid(rule.reason, value), message), "cel"))

    def _type_ok(self, node: Node, value: Any, path: str, errors: List[SchemaError]) -> bool:
        if value is None:
            if node.nullable or node.preserve_unknown and not node.type:
                return False
            errors.append(SchemaError(path, 'Invalid value: "null": %s in body must be of type %s: "null"'
                                      % (path, node.type or "object")))
            return False
        if node.int_or_string:
            if type_name(value) not in ("integer", "string"):
                errors.append(SchemaError(path, "Invalid value: %s: %s in body must be of type integer,string: %s"
                                          % (go_quote(value), path, go_quote(type_name(value)))))
                return False
            return True
        if node.type and not _is_type(value, node.type):
            errors.append(SchemaError(path, "Invalid value: %s: %s in body must be of type %s: %s" % (
                go_quote(value), path, node.type, go_quote(type_name(value)))))
            return False
        return True

    def _check_object(self, node: Node, value: Dict[str, Any], path: str, errors: List[SchemaError],
                      root: bool) -> None:
        for name in node.required:
            if value.get(name) is None and not (name in value and node.properties.get(name, node).nullable):
                errors.append(SchemaError(_path(path, name), "Required value"))
        for name, item in value.items():
            key = str(name)
            child = node.properties.get(key)
            if item is None and not (child or node.additional or node).nullable and (child or node.additional):
                continue  # a null of a non-nullable field is dropped before validation
            if root and key in self.meta_properties:
                continue  # apiVersion and kind chose this schema; metadata is ObjectMeta (core.object_meta)
            if child is not None:
                self._check(child, item, _path(path, key), errors)
            elif node.additional is not None:
                self._check(node.additional, item, _path(path, key), errors)
            elif not node.preserve_unknown and (node.properties or node.type == "object" or root):
                errors.append(SchemaError(_path(path, key), 'unknown field "%s"' % _path(path, key)))
        count = len(value)
        if node.max_properties is not None and count > node.max_properties:
            errors.append(SchemaError(path, "Too many: %d: must have at most %d items" % (count, node.max_properties)))
        if node.min_properties is not None and count < node.min_properties:
            errors.append(SchemaError(path, "Invalid value: %d: %s in body should have at least %d properties"
                                      % (count, path, node.min_properties)))

    def _check_array(self, node: Node, value: List[Any], path: str, errors: List[SchemaError]) -> None:
        if node.max_items is not None and len(value) > node.max_items:
            errors.append(SchemaError(path, "Too many: %d: must have at most %d items" % (len(value), node.max_items)))
        if node.min_items is not None and len(value) < node.min_items:
            errors.append(SchemaError(path, "Invalid value: %d: %s in body should have at least %d items"
                                      % (len(value), path, node.min_items)))
        if node.items is not None:
            for index, item in enumerate(value):
                self._check(node.items, item, "%s[%d]" % (path, index), errors)
        if node.list_type in ("set", "map"):
            seen = set()
            for index, item in enumerate(value):
                if node.list_type == "map" and isinstance(item, dict):
                    key = json.dumps([item.get(name) for name in node.map_keys], sort_keys=True)
                    shown = "map[string]interface {}{%s}" % ", ".join(
                        '"%s":%s' % (name, go_quote(item.get(name))) for name in node.map_keys if name in item)
                else:
                    key = json.dumps(item, sort_keys=True)
                    shown = go_quote(item)
                if key in seen:
                    errors.append(SchemaError("%s[%d]" % (path, index), "Duplicate value: %s" % shown))
                seen.add(key)

    def _check_scalar(self, node: Node, value: Any, path: str, errors: List[SchemaError]) -> None:
        if isinstance(value, str):
            length = len(value)
            if node.max_length is not None and length > node.max_length:
                errors.append(SchemaError(path, "Too long: may not be more than %d bytes" % node.max_length))
            if node.min_length is not None and length < node.min_length:
                errors.append(SchemaError(path, "Invalid value: %s: %s in body should be at least %d chars long"
                                          % (go_quote(value), path, node.min_length)))
            if node.pattern is not None and not node.pattern.search(value):
                errors.append(SchemaError(path, "Invalid value: %s: %s in body should match '%s'"
                                          % (go_quote(value), path, node.pattern.pattern)))
            if node.format is not None and not node.format(value):
                errors.append(SchemaError(path, "Invalid value: %s: %s in body must be of type %s: %s"
                                          % (go_quote(value), path, node.format_name, go_quote(value))))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if node.minimum is not None and (value <= node.minimum if node.exclusive_minimum else value < node.minimum):
                errors.append(SchemaError(path, "Invalid value: %s: %s in body should be greater than %s%s" % (
                    value, path, "" if node.exclusive_minimum else "or equal to ", _number(node.minimum))))
            if node.maximum is not None and (value >= node.maximum if node.exclusive_maximum else value > node.maximum):
                errors.append(SchemaError(path, "Invalid value: %s: %s in body should be less than %s%s" % (
                    value, path, "" if node.exclusive_maximum else "or equal to ", _number(node.maximum))))

    def _combinators(self, node: Node, value: Any, path: str) -> List[str]:
        reasons = []
        if node.one_of:
            matching = sum(1 for sub in node.one_of if self._passes(sub, value))
            if matching != 1:
                reasons.append("Invalid value: %s: %s in body must validate one and only one schema (oneOf)"
                               % (go_quote(value), path) + ("" if matching else
                                                            ". " + self._first_reason(node.one_of, value, path)))
        if node.any_of and not any(self._passes(sub, value) for sub in node.any_of):
            reasons.append("Invalid value: %s: %s in body must validate at least one schema (anyOf)"
                           % (go_quote(value), path))
        for sub in node.all_of:
            sub_errors: List[SchemaError] = []
            self._check(sub, value, path, sub_errors)
            reasons += [error.reason for error in sub_errors]
        if node.not_ is not None and self._passes(node.not_, value):
            reasons.append("Invalid value: %s: %s in body must not validate the schema (not)" % (go_quote(value), path))
        return reasons

    def _passes(self, node: Node, value: Any) -> bool:
        errors: List[SchemaError] = []
        self._check(node, value, "", errors)
        return not errors

    def _first_reason(self, nodes: List[Node], value: Any, path: str) -> str:
        errors: List[SchemaError] = []
        self._check(nodes[0], value, path, errors)
        return errors[0].reason if errors else ""


# Go's names of JSON values in its decoding errors, and the ranges of the integer formats.
_GO_VALUES = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}
_INT_RANGES = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}
# What resource.ParseQuantity accepts (its message quotes a looser expression).
_QUANTITY = re.compile(r"^[+-]?[0-9]*(\.[0-9]*)?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
QUANTITY_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class DecodingValidator(Validator):
    """The schema of a built-in kind, applied as the API server reads such an object: with Go's strict JSON
    decoder, not structural validation. Unknown fields and types are refused; a null is any field's zero value;
    integers must be integral and within int32 or int64; an int-or-string takes either, a quantity a number or
    a quantity string. No enums, required fields or patterns (``schema.core`` checks what the API server's
    hand-written validation refuses). The object's own metadata is decoded too."""

    def __init__(self, schema: Dict[str, Any]) -> None:
        super().__init__(schema, None, meta_properties=("apiVersion", "kind"))

    def _type_ok(self, node: Node, value: Any, path: str, errors: List[SchemaError]) -> bool:
        if value is None:
            return False
        reason = _decoding_error(node, value, path)
        if reason:
            errors.append(SchemaError(path, reason))
            return False
        return isinstance(value, (dict, list)) and not node.preserve_unknown


def _decoding_error(node: Node, value: Any, path: str) -> str:
    """Why Go's JSON decoder refuses this value for the node ("" when it does not), worded as it words it."""
    wanted, actual = _decoded_type(node), _GO_VALUES.get(type(value), "object")
    if node.format_name == "quantity":
        if actual == "number" or actual == "string" and _QUANTITY.match(value.strip()) and value.strip():
            return ""
        return QUANTITY_MESSAGE
    if node.preserve_unknown or wanted is None or node.int_or_string and actual == "string":
        return ""
    refused = "json: cannot unmarshal %s into Go struct field %s of type %s"
    if wanted in _INT_RANGES:
        low, high = _INT_RANGES[wanted]
        if actual != "number":
            return refused % (actual, path, wanted)
        if isinstance(value, float) and not value.is_integer() or not low <= value <= high:
            return refused % ("number %s" % json.dumps(value), path, wanted)
        return ""
    expected = {"float64": "number", "bool": "bool", "string": "string"}.get(
        wanted, "array" if wanted.startswith("[]") else "object")
    if actual != expected:
        return refused % (actual, path, wanted) + (unquoted_hint(value) if expected == "string" else "")
    if node.format_name == "byte" and not _base64(value.replace("\r", "").replace("\n", "")):
        return "illegal base64 data in %s" % path
    if node.format_name == "date-time" and not (_RFC3339.match(value) and _date_time(value)):
        return 'parsing time %s as "2006-01-02T15:04:05Z07:00": not RFC 3339' % json.dumps(value)
    return ""


def _decoded_type(node: Node) -> Optional[str]:
    """The Go type a node decodes into, as Go's errors name it (structs and maps without their type's name)."""
    if node.int_or_string:
        return "int32"
    if node.type == "integer":
        return node.format_name if node.format_name in _INT_RANGES else "int64"
    if node.type in ("number", "boolean", "string"):
        return {"number": "float64", "boolean": "bool", "string": "string"}[node.type]
    if node.type == "array":
        return "[]%s" % (_decoded_type(node.items) if node.items is not None else "interface {}")
    if node.type == "object" or node.properties:
        if node.properties or node.additional is None:
            return "struct"
        return "map[string]%s" % (_decoded_type(node.additional) or "interface {}")
    return None


def errors_under(errors: List[SchemaError], path: str) -> bool:
    """Whether a structural error was found at or below ``path`` (CEL rules only run on valid values)."""
    return any(e.origin == "schema" and (not path or e.path == path or e.path.startswith((path + ".", path + "[")))
               for e in errors)


def _invalid(reason: str, value: Any) -> str:
    if reason == "FieldValueRequired":
        return "Required value"
    if reason == "FieldValueForbidden":
        return "Forbidden"
    if reason == "FieldValueDuplicate":
        return "Duplicate value: %s" % go_quote(value)
    return "Invalid value: %s" % go_quote(value)


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _prune_and_default(node: Node, value: Any, root: bool = False) -> Any:
    """Drop nulls of non-nullable fields and set defaults, depth first, as the API server does before validating."""
    if isinstance(value, dict):
        for name in [key for key, item in value.items() if item is None]:
            child = node.properties.get(str(name)) or node.additional
            if child is not None and not child.nullable:
                del value[name]
        for name, default in node.defaults.items():
            if name not in value:
                value[name] = copy.deepcopy(default)
        for name, item in value.items():
            child = node.properties.get(str(name)) or node.additional
            if child is not None and isinstance(item, (dict, list)):
                _prune_and_default(child, item)
    elif isinstance(value, list) and node.items is not None:
        for item in value:
            if isinstance(item, (dict, list)):
                _prune_and_default(node.items, item)
    return value
