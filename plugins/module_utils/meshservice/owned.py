# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kinds a meshservice owns, where the cluster serves them, and the objects of them that carry our label."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import KubernetesAPI
from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.resources import Base, ResourceClient
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.live import istio_base
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import (
    GATEWAY_API_GROUP, KUBERNETES_GATEWAY, MANAGED_BY_LABEL, MANAGED_BY_VALUE, modelled_kind)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.kinds import DISPLAY_KINDS

GATEWAY_API = "/apis/%s/v1" % GATEWAY_API_GROUP
# The model's kind -> (API base, plural); Istio's kinds at the networking.istio.io version the cluster serves.
KINDS: Dict[str, Tuple[Base, str]] = {
    "Service": ("/api/v1", "services"),
    "Gateway": (istio_base, "gateways"),
    "VirtualService": (istio_base, "virtualservices"),
    "DestinationRule": (istio_base, "destinationrules"),
    "ServiceEntry": (istio_base, "serviceentries"),
    KUBERNETES_GATEWAY: (GATEWAY_API, "gateways"),
    "HTTPRoute": (GATEWAY_API, "httproutes"),
}
# Rendered with api: gateway-api only: an account without rights to them can still run Istio-only tasks.
GATEWAY_API_OWNED_KINDS = (KUBERNETES_GATEWAY, "HTTPRoute")


def resource_kind(obj: Dict[str, Any]) -> str:
    """The model's kind of a manifest (``KubernetesGateway`` for the Gateway API's Gateway)."""
    return modelled_kind(obj) or obj["kind"]


def _complete(kind: str, item: Dict[str, Any]) -> None:
    item.setdefault("kind", DISPLAY_KINDS.get(kind, kind))
    if kind == KUBERNETES_GATEWAY:
        item.setdefault("apiVersion", GATEWAY_API_GROUP + "/v1")


class OwnedResources(ResourceClient):
    """The kinds a meshservice owns, read and written through one client."""

    def __init__(self, api: KubernetesAPI) -> None:
        super().__init__(api, KINDS, resource_kind, _complete)

    def owned(self, kind: str, page_size: int = 500, namespace: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Every object of a kind carrying our managed-by label, in one namespace or (None) in every one;
        none when the cluster does not serve the kind (a cluster without the Gateway API)."""
        return self.labelled(kind, "%s=%s" % (MANAGED_BY_LABEL, MANAGED_BY_VALUE), page_size, namespace)
