# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading, server-side applying and deleting the kinds a meshservice owns."""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import KubernetesAPI, NotFound, namespaced_path
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.live import istio_base
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import (
    DISPLAY_KINDS, GATEWAY_API_GROUP, KUBERNETES_GATEWAY, MANAGED_BY_LABEL, MANAGED_BY_VALUE, modelled_kind)

FIELD_MANAGER = "meshops-istio-integrity"
APPLY_PATCH = "application/apply-patch+yaml"
GATEWAY_API = "/apis/%s/v1" % GATEWAY_API_GROUP
# The model's kind -> (API base, plural); "istio" resolves to the served networking.istio.io version.
KINDS: Dict[str, Tuple[str, str]] = {
    "Service": ("/api/v1", "services"),
    "Gateway": ("istio", "gateways"),
    "VirtualService": ("istio", "virtualservices"),
    "DestinationRule": ("istio", "destinationrules"),
    "ServiceEntry": ("istio", "serviceentries"),
    KUBERNETES_GATEWAY: (GATEWAY_API, "gateways"),
    "HTTPRoute": (GATEWAY_API, "httproutes"),
}
# Rendered with api: gateway-api only: an account without rights to them can still run Istio-only tasks.
GATEWAY_API_OWNED_KINDS = (KUBERNETES_GATEWAY, "HTTPRoute")
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
    def __init__(self, api: KubernetesAPI) -> None:
        self.api = api
        self._istio: Optional[str] = None

    def _base(self, kind: str) -> Tuple[str, str]:
        base, plural = KINDS[kind]
        if base == "istio":
            if self._istio is None:
                self._istio = istio_base(self.api)
            base = self._istio
        return base, plural

    def path(self, kind: str, namespace: Optional[str], name: Optional[str] = None) -> str:
        base, plural = self._base(kind)
        path = namespaced_path(base, namespace, plural)
        return path + "/" + name if name else path

    def get(self, obj: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        metadata = obj["metadata"]
        try:
            return self.api.request("GET", self.path(resource_kind(obj), metadata["namespace"], metadata["name"]))
        except NotFound:
            return None

    def apply(self, obj: Dict[str, Any], dry_run: bool, force: bool) -> Dict[str, Any]:
        """Server-side apply under our field manager; the server validates against the CRD schemas."""
        metadata = obj["metadata"]
        query: List[Tuple[str, Any]] = [("fieldManager", FIELD_MANAGER), ("force", "true" if force else "false")]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.api.request("PATCH", self.path(resource_kind(obj), metadata["namespace"], metadata["name"]),
                                query=query, body=obj, content_type=APPLY_PATCH)

    def delete(self, obj: Dict[str, Any], dry_run: bool) -> None:
        # With a DeleteOptions body the API server reads dryRun from it, not from the query string.
        options: Dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if dry_run:
            options["dryRun"] = ["All"]
        try:
            metadata = obj["metadata"]
            self.api.request("DELETE", self.path(resource_kind(obj), metadata["namespace"], metadata["name"]),
                             body=options)
        except NotFound:
            pass

    def owned(self, kind: str, page_size: int = 500, namespace: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Every object of a kind carrying our managed-by label, in one namespace or (None) in every one;
        none when the cluster does not serve the kind (a cluster without the Gateway API)."""
        base, plural = self._base(kind)
        selector = "%s=%s" % (MANAGED_BY_LABEL, MANAGED_BY_VALUE)
        try:
            for item in self.api.list_pages(namespaced_path(base, namespace, plural), page_size,
                                            label_selector=selector):
                item.setdefault("kind", DISPLAY_KINDS.get(kind, kind))
                if kind == KUBERNETES_GATEWAY:
                    item.setdefault("apiVersion", GATEWAY_API_GROUP + "/v1")
                yield item
        except NotFound:
            return


def resource_kind(obj: Dict[str, Any]) -> str:
    """The model's kind of a manifest (``KubernetesGateway`` for the Gateway API's Gateway)."""
    return modelled_kind(obj) or obj["kind"]
