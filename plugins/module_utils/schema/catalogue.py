# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schemas an object is validated against, by apiVersion and kind.

The pinned CRDs ship with the collection (``pinned.py``, generated); a live cluster's own CRDs
replace them kind by kind, so the verdict follows the versions the cluster serves. Each version's
schema is compiled on first use and kept for the run.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import pinned
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.structural import CelCompiler, Validator


def pinned_crds() -> List[Dict[str, Any]]:
    """The CRDs of the pinned modules, as ``tools/gen_schemas.py`` compacted them."""
    return json.loads(zlib.decompress(base64.b64decode("".join(pinned.DATA))).decode("utf-8"))


def compact_crd(crd: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A CustomResourceDefinition as the catalogue keeps it (None for one without names or versions)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if not spec.get("group") or not names.get("kind"):
        return None
    return {"group": spec["group"], "kind": names["kind"], "namespaced": spec.get("scope") == "Namespaced",
            "versions": {version["name"]: (version.get("schema") or {}).get("openAPIV3Schema") or {}
                         for version in spec.get("versions") or () if version.get("served")}}


class SchemaCatalogue:
    """CRD schemas by (group, kind); compiled validators by (apiVersion, kind)."""

    def __init__(self, crds: Iterable[Dict[str, Any]], cel: Optional[CelCompiler] = None, origin: str = "pinned") -> None:
        self.cel = cel
        self.crds: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self.origin: Dict[Tuple[str, str], str] = {}
        self._validators: Dict[Tuple[str, str], Validator] = {}
        self.add(crds, origin)

    def add(self, crds: Iterable[Dict[str, Any]], origin: str) -> None:
        """Add or replace CRDs (a cluster's own replace the pinned ones of the same group and kind)."""
        for crd in crds:
            key = (crd["group"], crd["kind"])
            self.crds[key] = crd
            self.origin[key] = origin
            for version in list(self._validators):
                if version[1] == crd["kind"] and version[0].split("/")[0] == crd["group"]:
                    del self._validators[version]

    def knows(self, group: str, kind: str) -> bool:
        return (group, kind) in self.crds

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
            schema = self.crds[(group, kind)]["versions"].get(version)
            if schema is None:
                return None
            self._validators[key] = Validator(schema, self.cel)
        return self._validators[key]
