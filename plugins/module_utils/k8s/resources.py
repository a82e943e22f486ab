# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading, server-side applying and deleting objects of the kinds a caller names (what they are is the caller's)."""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import KubernetesAPI, NotFound, namespaced_path

FIELD_MANAGER = "meshops-istio-integrity"
APPLY_PATCH = "application/apply-patch+yaml"
# Where a kind is served: an API base path, or a function finding it on the cluster (called once).
Base = Union[str, Callable[[KubernetesAPI], str]]
# Written by the server, not by us: left out when comparing before and after.
_SERVER_METADATA = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp", "selfLink")


def comparable(obj: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The object without the fields the server maintains, for change detection and diffs."""
    if obj is None:
        return None
    result = copy.deepcopy(obj)
    result.pop("status", None)
    metadata = result.get("metadata") or {}
    for key in _SERVER_METADATA:
        metadata.pop(key, None)
    if not metadata.get("annotations"):
        metadata.pop("annotations", None)
    return result


class ResourceClient:
    """Objects of the kinds in ``kinds`` (kind -> (base, plural)); ``kind_of`` names an object's kind in that table,
    ``complete`` fills in what a list leaves out of its items (their kind and apiVersion)."""

    def __init__(self, api: KubernetesAPI, kinds: Dict[str, Tuple[Base, str]],
                 kind_of: Callable[[Dict[str, Any]], str] = lambda obj: obj["kind"],
                 complete: Callable[[str, Dict[str, Any]], None] = lambda kind, item: None) -> None:
        self.api = api
        self.kinds = kinds
        self.kind_of = kind_of
        self.complete = complete
        self._bases: Dict[str, str] = {}

    def _base(self, kind: str) -> Tuple[str, str]:
        base, plural = self.kinds[kind]
        if callable(base):
            if kind not in self._bases:
                self._bases[kind] = base(self.api)
            return self._bases[kind], plural
        return base, plural

    def path(self, kind: str, namespace: Optional[str], name: Optional[str] = None) -> str:
        base, plural = self._base(kind)
        path = namespaced_path(base, namespace, plural)
        return path + "/" + name if name else path

    def get(self, obj: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        metadata = obj["metadata"]
        try:
            return self.api.request("GET", self.path(self.kind_of(obj), metadata["namespace"], metadata["name"]))
        except NotFound:
            return None

    def apply(self, obj: Dict[str, Any], dry_run: bool, force: bool) -> Dict[str, Any]:
        """Server-side apply under our field manager; the server validates against the CRD schemas."""
        metadata = obj["metadata"]
        query: List[Tuple[str, Any]] = [("fieldManager", FIELD_MANAGER), ("force", "true" if force else "false")]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.api.request("PATCH", self.path(self.kind_of(obj), metadata["namespace"], metadata["name"]),
                                query=query, body=obj, content_type=APPLY_PATCH)

    def delete(self, obj: Dict[str, Any], dry_run: bool) -> None:
        # With a DeleteOptions body the API server reads dryRun from it, not from the query string.
        options: Dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if dry_run:
            options["dryRun"] = ["All"]
        try:
            metadata = obj["metadata"]
            self.api.request("DELETE", self.path(self.kind_of(obj), metadata["namespace"], metadata["name"]),
                             body=options)
        except NotFound:
            pass

    def labelled(self, kind: str, selector: str, page_size: int = 500,
                 namespace: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Every object of a kind matching a label selector, in one namespace or (None) in every one;
        none when the cluster does not serve the kind."""
        base, plural = self._base(kind)
        try:
            for item in self.api.list_pages(namespaced_path(base, namespace, plural), page_size,
                                            label_selector=selector):
                self.complete(kind, item)
                yield item
        except NotFound:
            return
