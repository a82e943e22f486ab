# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a live cluster: each object listed is handed to a sink (``integrity.loading.ModelSink``).

Each kind is listed once for all namespaces (paginated with limit/continue).
When RBAC forbids that, the scan falls back to the namespaces the user may
list, and every namespace or kind it could not read is reported: a partial
scan is never passed off as complete.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import (
    JSON, METADATA_ONLY, ClusterError, Forbidden, KubernetesAPI, NotFound, namespaced_path)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.kinds import (
    DISPLAY_KINDS, GATEWAY_API_GROUP, KUBERNETES_GATEWAY, MESH_CONFIG_MAP_NAME as MESH_CONFIG_MAP,
    TARGETABLE_POLICY_KINDS)

ISTIO_GROUP = "networking.istio.io"
ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")
CORE = "/api/v1"
ISTIO = "istio"

GATEWAY_API = "gateway-api"
# Newest first: a kind is read at the newest of these versions the cluster serves it at.
GATEWAY_API_VERSIONS = ("v1", "v1beta1", "v1alpha2")

# kind -> (API base, plural, Accept). Pods, Secrets and Namespaces are read as metadata only:
# labels and names are all the checks need, and secret data must never be fetched.
LIVE_KINDS: Dict[str, Tuple[str, str, str]] = {
    "Gateway": (ISTIO, "gateways", JSON),
    "VirtualService": (ISTIO, "virtualservices", JSON),
    "DestinationRule": (ISTIO, "destinationrules", JSON),
    "ServiceEntry": (ISTIO, "serviceentries", JSON),
    "Sidecar": (ISTIO, "sidecars", JSON),
    "Service": (CORE, "services", JSON),
    "Pod": (CORE, "pods", METADATA_ONLY),
    "Deployment": ("/apis/apps/v1", "deployments", JSON),
    "Secret": (CORE, "secrets", METADATA_ONLY),
    "Namespace": (CORE, "namespaces", METADATA_ONLY),
    KUBERNETES_GATEWAY: (GATEWAY_API, "gateways", JSON),
    "GatewayClass": (GATEWAY_API, "gatewayclasses", JSON),
    "HTTPRoute": (GATEWAY_API, "httproutes", JSON),
    "GRPCRoute": (GATEWAY_API, "grpcroutes", JSON),
    "TCPRoute": (GATEWAY_API, "tcproutes", JSON),
    "TLSRoute": (GATEWAY_API, "tlsroutes", JSON),
    "ReferenceGrant": (GATEWAY_API, "referencegrants", JSON),
    "PeerAuthentication": ("/apis/security.istio.io/v1", "peerauthentications", JSON),
}
# Istio's policies read for their selectors: (version every supported Istio serves, plural); WasmPlugin has no v1.
POLICY_RESOURCES = {"AuthorizationPolicy": ("v1", "authorizationpolicies"),
                    "RequestAuthentication": ("v1", "requestauthentications"),
                    "Telemetry": ("v1", "telemetries"), "WasmPlugin": ("v1alpha1", "wasmplugins")}
LIVE_KINDS.update((kind, ("/apis/%s/%s" % (group, POLICY_RESOURCES[kind][0]), POLICY_RESOURCES[kind][1], JSON))
                  for kind, group in TARGETABLE_POLICY_KINDS.items())
# Kinds that help resolve references but whose absence leaves no check blind: a user who may not list
# Namespaces or GatewayClasses (cluster-scoped), or a cluster without Istio's security APIs, is read without them.
OPTIONAL_KINDS = {"Namespace": "namespaces", "PeerAuthentication": "PeerAuthentications",
                  "GatewayClass": "Gateway API GatewayClasses", "AuthorizationPolicy": "AuthorizationPolicies",
                  "RequestAuthentication": "RequestAuthentications", "Telemetry": "Telemetries",
                  "WasmPlugin": "WasmPlugins"}


def istio_base(api: KubernetesAPI) -> str:
    """The API path of Istio's networking group at the newest version the cluster serves."""
    try:
        group = api.request("GET", "/apis/" + ISTIO_GROUP) or {}
    except NotFound:
        raise ClusterError("Istio's CRDs are not installed in the cluster at %s: the API group %s is not served "
                           "(install Istio's base chart or its CRDs first)" % (api.host, ISTIO_GROUP)) from None
    served = [entry.get("version") for entry in group.get("versions") or []]
    for version in ISTIO_VERSIONS:
        if version in served:
            return "/apis/%s/%s" % (ISTIO_GROUP, version)
    raise ClusterError("the cluster at %s serves %s only at versions %s, none of which this collection reads (%s)"
                       % (api.host, ISTIO_GROUP, ", ".join(map(str, served)), ", ".join(ISTIO_VERSIONS)))


def gateway_api_bases(api: KubernetesAPI) -> Dict[str, str]:
    """Plural -> API path of the newest Gateway API version serving it (empty when the group is not served)."""
    bases: Dict[str, str] = {}
    for version in reversed(GATEWAY_API_VERSIONS):
        path = "/apis/%s/%s" % (GATEWAY_API_GROUP, version)
        try:
            resources = (api.request("GET", path) or {}).get("resources") or []
        except NotFound:
            continue
        bases.update((resource["name"], path) for resource in resources if "/" not in resource.get("name", "/"))
    return bases


class LiveScan:
    """Lists the kinds into a sink; ``incomplete`` says what could not be read.

    The sink takes each object (``load``), says whether an object of that identity came from files
    (``defined``) and whether a mesh configuration did (``has_mesh_config``), and records the kinds read
    completely (``mark_scanned``).
    """

    def __init__(self, api: KubernetesAPI, sink: Any, page_size: int = 500,
                 namespaces: Optional[Iterable[str]] = None, mesh_wide_kinds: Iterable[str] = ()) -> None:
        self.api = api
        # Kinds read in every namespace even when the scan is limited to some: what claims hosts mesh-wide,
        # so a write conflicts visibly with objects in namespaces it does not reference.
        self.mesh_wide_kinds = set(mesh_wide_kinds)
        self.sink = sink
        self.page_size = page_size
        self.requested = None if namespaces is None else list(dict.fromkeys(namespaces))
        self.incomplete: List[str] = []
        self.overridden = 0
        self.forbidden_namespaces: Set[str] = set()
        self._namespaces: Optional[List[str]] = None
        self._per_namespace = False
        self._istio: Optional[str] = None
        self._gateway_api: Optional[Dict[str, str]] = None
        self.notes: List[str] = []

    def run(self, kinds: Iterable[str]) -> None:
        """List each kind; only kinds read everywhere they were asked for count as scanned."""
        self.sink.mark_scanned([kind for kind in kinds if self._list_kind(kind)])

    @property
    def scanned_namespaces(self) -> Optional[Set[str]]:
        """Namespaces every kind was read from; None means all of them."""
        if self.requested is None and not self._per_namespace:
            return None
        return set(self.requested if self.requested is not None else self._namespaces or []) - self.forbidden_namespaces

    def _base(self, kind: str) -> Tuple[str, str, str]:
        base, plural, accept = LIVE_KINDS[kind]
        if base == ISTIO:
            if self._istio is None:
                self._istio = istio_base(self.api)
            base = self._istio
        elif base == GATEWAY_API:
            if self._gateway_api is None:
                self._gateway_api = gateway_api_bases(self.api)
            if plural not in self._gateway_api:
                raise ClusterError("the cluster at %s does not serve %s %s" % (self.api.host, GATEWAY_API_GROUP, plural))
            base = self._gateway_api[plural]
        return base, plural, accept

    def _list_kind(self, kind: str) -> bool:
        if kind in OPTIONAL_KINDS:
            return self._list_optional(kind)
        try:
            base, plural, accept = self._base(kind)
        except ClusterError as error:
            if LIVE_KINDS[kind][0] != GATEWAY_API:
                raise
            # A cluster without the Gateway API has none of its objects: nothing to check, nothing missed.
            self.notes.append("Gateway API %ss not read (%s)" % (DISPLAY_KINDS.get(kind, kind), error))
            return False
        if self.requested is not None and kind in self.mesh_wide_kinds:
            try:
                self._load(kind, namespaced_path(base, None, plural), accept)
                return True
            except Forbidden as error:
                self.notes.append("%ss read in namespaces %s only (%s): conflicts with others are not seen"
                                  % (kind, ", ".join(self.requested), error))
        if self.requested is None and not self._per_namespace:
            try:
                self._load(kind, namespaced_path(base, None, plural), accept)
                return True
            except Forbidden:
                self._per_namespace = True
        namespaces = self._target_namespaces()
        complete = self._namespaces != [] or self.requested is not None
        for namespace in namespaces:
            try:
                self._load(kind, namespaced_path(base, namespace, plural), accept)
            except Forbidden as error:
                complete = False
                self.forbidden_namespaces.add(namespace)
                self.incomplete.append("cannot list %ss in namespace %s: %s" % (kind, namespace, error))
        return complete

    def _list_optional(self, kind: str) -> bool:
        """List a kind cluster-wide when it is served and allowed; say so when it is not."""
        try:
            base, plural, accept = self._base(kind)
            self._load(kind, namespaced_path(base, None, plural), accept)
            return True
        except (Forbidden, ClusterError) as error:
            self.notes.append("%s not read (%s): references to them are not resolved" % (OPTIONAL_KINDS[kind], error))
            return False

    def _load(self, kind: str, path: str, accept: str) -> None:
        # /apis/<group>/<version>/... or /api/v1/...
        parts = path.split("/")
        api_version = "%s/%s" % (parts[2], parts[3]) if parts[1] == "apis" else parts[2]
        try:
            for item in self.api.list_pages(path, self.page_size, accept=accept):
                # List items carry no kind (or PartialObjectMetadata): set what the model tells kinds apart by.
                item["kind"] = DISPLAY_KINDS.get(kind, kind)
                item["apiVersion"] = api_version
                metadata = item.get("metadata") or {}
                if self.sink.defined(kind, metadata.get("namespace", ""), metadata.get("name", "")):
                    # The same object from files: the file is what is about to be applied.
                    self.overridden += 1
                    continue
                self.sink.load(item)
        except NotFound:
            raise ClusterError("%s are not served by the cluster at %s (GET %s returned 404): is the CRD installed?"
                               % (kind + "s", self.api.host, path)) from None

    def read_mesh_config(self, istio_namespace: str) -> None:
        """Istio's mesh configuration, the ``istio`` ConfigMap of its namespace (unless the files gave one)."""
        if self.sink.has_mesh_config(istio_namespace):
            return
        path = "%s/%s" % (namespaced_path(CORE, istio_namespace, "configmaps"), MESH_CONFIG_MAP)
        try:
            config_map = self.api.request("GET", path)
        except NotFound:
            self.notes.append("no ConfigMap %s/%s: Istio's default mesh configuration assumed"
                              % (istio_namespace, MESH_CONFIG_MAP))
            return
        except Forbidden as error:
            self.notes.append("the mesh configuration (ConfigMap %s/%s) not read (%s): Istio's defaults assumed"
                              % (istio_namespace, MESH_CONFIG_MAP, error))
            return
        config_map.update(kind="ConfigMap", apiVersion="v1")
        self.sink.load(config_map)

    def _target_namespaces(self) -> List[str]:
        if self.requested is not None:
            return self.requested
        if self._namespaces is None:
            try:
                self._namespaces = [item["metadata"]["name"] for item in self.api.list_pages(
                    "/api/v1/namespaces", self.page_size, accept=METADATA_ONLY)]
            except Forbidden as error:
                self._namespaces = []
                self.incomplete.append(
                    "cannot list objects cluster-wide nor list namespaces (%s): set 'namespaces' to the "
                    "namespaces you may read" % error)
        return self._namespaces
