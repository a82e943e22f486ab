# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schemas of the built-in kinds the collection reads, from the API server's OpenAPI v3.

The API server does not validate a built-in object against a schema: it decodes it with Go's JSON decoder
(strict field validation: every unknown field is refused) and then runs its hand-written validation
(``schema.core``). What the decoder refuses is what the OpenAPI describes: the fields and their types.
``compact_openapi`` turns one OpenAPI v3 document (``/openapi/v3/api/v1``, ``/openapi/v3/apis/apps/v1``,
``/openapi/v3/apis/batch/v1``) into the catalogue's form, one tree per kind with every ``$ref`` resolved, and
keeps only what the decoder checks: properties, maps, lists, types and the formats that change decoding
(int32 and int64 ranges, base64 bytes, RFC 3339 times, int-or-string, quantities). Enums, required fields,
defaults and list types of the OpenAPI are not enforced by the decoder and are dropped (``schema.core``
checks what the hand-written validation refuses).

The one conversion for both sources: ``tools/gen_schemas.py`` converts the pinned Kubernetes module's
OpenAPI with it, ``schema.cluster`` the cluster's own.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

# OpenAPI v3 document (its path under /openapi/v3) -> API group, version and the kinds the collection reads.
DOCUMENTS: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {
    "api/v1": ("", "v1", ("Namespace", "Pod", "Secret", "Service")),
    "apis/apps/v1": ("apps", "v1", ("DaemonSet", "Deployment", "ReplicaSet", "StatefulSet")),
    "apis/batch/v1": ("batch", "v1", ("Job",)),
}
CLUSTER_SCOPED = frozenset((("", "Namespace"),))
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
REF_PREFIX = "#/components/schemas/"
# Formats the decoder checks (a quantity is marked with a format of the catalogue's own).
DECODED_FORMATS = frozenset(("int32", "int64", "byte", "date-time"))
QUANTITY_FORMAT = "quantity"


class OpenAPIError(ValueError):
    """The document is not an OpenAPI v3 document of built-in kinds (a message, never a traceback)."""


def compact_openapi(document: Any, path: str) -> List[Dict[str, Any]]:
    """The catalogue records (group, kind, scope, the version's schema, ``builtin``) of the kinds ``DOCUMENTS``
    names for ``path``, found in the document by their x-kubernetes-group-version-kind; absent kinds are left out."""
    group, version, kinds = DOCUMENTS[path]
    schemas = (document.get("components") or {}).get("schemas") if isinstance(document, dict) else None
    if not isinstance(schemas, dict):
        raise OpenAPIError("/openapi/v3/%s has no components.schemas" % path)
    records = []
    for name, schema in sorted(schemas.items()):
        kind = _kind_of(schema, group, version)
        if kind in kinds:
            records.append({"group": group, "kind": kind, "namespaced": (group, kind) not in CLUSTER_SCOPED,
                            "builtin": True, "versions": {version: _convert(schema, schemas, (name,))}})
    return sorted(records, key=lambda record: record["kind"])


def _kind_of(schema: Any, group: str, version: str) -> Optional[str]:
    for gvk in (schema.get("x-kubernetes-group-version-kind") or ()) if isinstance(schema, dict) else ():
        if gvk.get("group", "") == group and gvk.get("version") == version:
            return gvk.get("kind")
    return None


def _convert(schema: Any, schemas: Dict[str, Any], seen: Tuple[str, ...]) -> Dict[str, Any]:
    """One node: references resolved (a reference to one of its own ancestors, which built-in kinds do not
    have, accepts anything), what the decoder does not check left out."""
    if not isinstance(schema, dict):
        return {}
    refs = [schema["$ref"]] if "$ref" in schema else []
    refs += [part["$ref"] for part in schema.get("allOf") or () if isinstance(part, dict) and "$ref" in part]
    if refs:
        name = str(refs[0])[len(REF_PREFIX):]
        if name == QUANTITY:
            return {"format": QUANTITY_FORMAT}
        if name in seen or name not in schemas:
            return {"x-kubernetes-preserve-unknown-fields": True}
        return _convert(schemas[name], schemas, seen + (name,))
    if schema.get("format") == "int-or-string" or schema.get("x-kubernetes-int-or-string"):
        return {"x-kubernetes-int-or-string": True}
    node: Dict[str, Any] = {}
    if isinstance(schema.get("type"), str):
        node["type"] = schema["type"]
    if schema.get("format") in DECODED_FORMATS:
        node["format"] = schema["format"]
    if isinstance(schema.get("properties"), dict):
        node["properties"] = {key: _convert(sub, schemas, seen) for key, sub in schema["properties"].items()}
    if isinstance(schema.get("additionalProperties"), dict):
        node["additionalProperties"] = _convert(schema["additionalProperties"], schemas, seen)
    if isinstance(schema.get("items"), dict):
        node["items"] = _convert(schema["items"], schemas, seen)
    if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node \
            or schema.get("x-kubernetes-preserve-unknown-fields"):
        node["x-kubernetes-preserve-unknown-fields"] = True  # RawExtension, FieldsV1: any JSON
    return node
