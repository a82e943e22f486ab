# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schemas an object is validated against, by apiVersion and kind.

The pinned CRDs and built-in kinds ship with the collection (``pinned.py``, generated); a live cluster's
own CRDs and OpenAPI replace them group by group, so the verdict follows the versions the cluster serves.
Each version's schema is compiled on first use and kept for the run: a CRD's for structural validation,
a built-in kind's for what Go's JSON decoder refuses (``builtin``).
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import pinned
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.structural import (
    CelCompiler, DecodingValidator, Validator)

PINNED = "pinned"
CLUSTER = "cluster"


def pinned_schemas() -> List[Dict[str, Any]]:
    """The CRDs and built-in kinds of the pinned modules, as ``tools/gen_schemas.py`` compacted them."""
    return json.loads(zlib.decompress(base64.b64decode("".join(pinned.DATA))).decode("utf-8"))


def compact_crd(crd: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """What validation needs of a CustomResourceDefinition: group, kind, scope and each served version's
    openAPIV3Schema without descriptions and examples (None for one without a group or kind).

    The one conversion for both sources: ``tools/gen_schemas.py`` compacts the pinned CRDs with it, and
    ``schema.cluster`` a cluster's own.
    """
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if not spec.get("group") or not names.get("kind"):
        return None
    return {"group": spec["group"], "kind": names["kind"], "namespaced": spec.get("scope") == "Namespaced",
            "versions": {version["name"]: _strip((version.get("schema") or {}).get("openAPIV3Schema") or {})
                         for version in spec.get("versions") or () if version.get("served")}}


def _strip(schema: Any) -> Any:
    """The schema without what only documents it (a property may itself be named ``description``)."""
    if isinstance(schema, dict):
        return {key: (_strip(value) if key != "properties" else {name: _strip(sub) for name, sub in value.items()})
                for key, value in schema.items() if key not in ("description", "example")}
    if isinstance(schema, list):
        return [_strip(item) for item in schema]
    return schema


class SchemaCatalogue:
    """CRD and built-in kinds' schemas by (group, kind); compiled validators by (apiVersion, kind)."""

    def __init__(self, crds: Iterable[Dict[str, Any]], cel: Optional[CelCompiler] = None) -> None:
        self.cel = cel
        self.crds: Dict[Tuple[str, str], Dict[str, Any]] = {}
        # Where each group's schemas come from: PINNED, or CLUSTER once the cluster's own replaced them.
        self.group_sources: Dict[str, str] = {}
        # The groups of built-in kinds ("" is the core group): their kinds are not CRDs.
        self.builtin_groups: Set[str] = set()
        self._validators: Dict[Tuple[str, str], Validator] = {}
        for crd in crds:
            self.crds[(crd["group"], crd["kind"])] = crd
            self.group_sources[crd["group"]] = PINNED
            if crd.get("builtin"):
                self.builtin_groups.add(crd["group"])

    @property
    def crd_groups(self) -> List[str]:
        return sorted(set(self.group_sources) - self.builtin_groups)

    def sources(self) -> Dict[str, str]:
        """Where each group's schemas come from, the core group named ``core``."""
        return {group or "core": source for group, source in sorted(self.group_sources.items())}

    def adopt_cluster(self, crds: Iterable[Dict[str, Any]]) -> None:
        """The cluster's CRDs (or built-in kinds, from its OpenAPI) replace the pinned ones of every group the
        cluster has them of.

        A CRD group's kinds are then the cluster's: a pinned kind the cluster has no CRD for is refused, as the
        API server refuses it. A group the cluster has no CRD of at all keeps the pinned schemas (its CRDs
        may come with the very change being checked).
        """
        by_group: Dict[str, List[Dict[str, Any]]] = {}
        for crd in crds:
            by_group.setdefault(crd["group"], []).append(crd)
        for group, group_crds in by_group.items():
            for key in [key for key in self.crds if key[0] == group]:
                del self.crds[key]
            self.crds.update(((crd["group"], crd["kind"]), crd) for crd in group_crds)
            self.group_sources[group] = CLUSTER
            if any(crd.get("builtin") for crd in group_crds):
                self.builtin_groups.add(group)
            for key in [key for key in self._validators if key[0].split("/")[0] == group]:
                del self._validators[key]

    def knows(self, group: str, kind: str) -> bool:
        return (group, kind) in self.crds

    def source(self, group: str) -> Optional[str]:
        """PINNED or CLUSTER for a group of the catalogue, None for another."""
        return self.group_sources.get(group)

    def builtin(self, group: str) -> bool:
        """Whether the group's kinds are built in (not CRDs: the catalogue holds only some of them)."""
        return group in self.builtin_groups

    def served_versions(self, group: str, kind: str) -> List[str]:
        return sorted(self.crds[(group, kind)]["versions"])

    def experimental(self, group: str, kind: str, version: str) -> bool:
        """Whether only the Gateway API's experimental channel serves this version (pinned catalogue only)."""
        return version in self.crds[(group, kind)].get("experimental", ())

    def namespaced(self, group: str, kind: str) -> bool:
        return self.crds[(group, kind)]["namespaced"]

    def validator(self, group: str, version: str, kind: str) -> Optional[Validator]:
        """The compiled schema of a served version, or None when the CRD does not serve it."""
        key = ("%s/%s" % (group, version), kind)
        if key not in self._validators:
            crd = self.crds[(group, kind)]
            schema = crd["versions"].get(version)
            if schema is None:
                return None
            self._validators[key] = DecodingValidator(schema) if crd.get("builtin") else Validator(schema, self.cel)
        return self._validators[key]
