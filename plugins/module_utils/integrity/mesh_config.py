# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parts of Istio's mesh configuration (MeshConfig) the checks read, with Istio's defaults.

It comes from the ``mesh`` key of the ``istio`` ConfigMap in Istio's namespace (live or in the files), or from a
MeshConfig document as ``istioctl analyze --meshConfigFile`` reads it: a YAML mapping of MeshConfig fields
without ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.kinds import MESH_CONFIG_MAP_NAME

try:
    import yaml
except ImportError:  # the file and live sources say so first
    yaml = None

CONFIG_MAP_NAME = MESH_CONFIG_MAP_NAME
CONFIG_MAP_KEY = "mesh"
# Fields a MeshConfig document is recognised by (a kind-less mapping with one of them and no other fields).
MESH_CONFIG_FIELDS = frozenset((
    "rootNamespace", "enableAutoMtls", "defaultConfig", "meshMTLS", "outboundTrafficPolicy", "trustDomain",
    "trustDomainAliases", "accessLogFile", "accessLogEncoding", "accessLogFormat", "enableTracing",
    "enablePrometheusMerge", "extensionProviders", "defaultProviders", "ingressClass", "ingressService",
    "ingressControllerMode", "ingressSelector", "localityLbSetting", "discoverySelectors", "defaultServiceExportTo",
    "defaultVirtualServiceExportTo", "defaultDestinationRuleExportTo", "connectTimeout", "protocolDetectionTimeout",
    "tcpKeepalive", "dnsRefreshRate", "proxyListenPort", "proxyInboundListenPort", "proxyHttpPort",
    "serviceSettings", "h2UpgradePolicy", "inboundClusterStatName", "outboundClusterStatName", "caCertificates",
    "certificates", "enableEnvoyAccessLogService", "configSources", "defaultHttpRetryPolicy", "pathNormalization",
    "tlsDefaults", "verifyCertificateAtClient", "ca", "thriftConfig"))


class MeshConfigError(ValueError):
    """The mesh configuration is not a mapping of MeshConfig fields."""


@dataclass(frozen=True)
class MeshConfig:
    """``root_namespace`` None means Istio's own namespace (Istio's default)."""

    enable_auto_mtls: bool = True
    root_namespace: Optional[str] = None
    source: str = "(Istio's defaults)"


def is_mesh_config_document(obj: Any) -> bool:
    """A kind-less YAML mapping of MeshConfig fields (istioctl's --meshConfigFile format)."""
    return (isinstance(obj, dict) and bool(obj) and "kind" not in obj and "apiVersion" not in obj
            and set(obj) <= MESH_CONFIG_FIELDS)


def is_mesh_config_map(obj: Dict[str, Any]) -> bool:
    """A ConfigMap named ``istio`` (its namespace decides whether it is the control plane's)."""
    metadata = obj.get("metadata")
    return obj.get("kind") == "ConfigMap" and isinstance(metadata, dict) and metadata.get("name") == CONFIG_MAP_NAME


def from_fields(fields: Any, source: str) -> MeshConfig:
    """The checks' view of MeshConfig fields; absent fields take Istio's defaults."""
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise MeshConfigError("the mesh configuration must be a mapping of MeshConfig fields, got %s"
                              % type(fields).__name__)
    auto_mtls = fields.get("enableAutoMtls", True)
    if auto_mtls is None:
        auto_mtls = True
    if not isinstance(auto_mtls, bool):
        raise MeshConfigError("enableAutoMtls must be true or false, got %r" % (auto_mtls,))
    root = fields.get("rootNamespace")
    if root is not None and (not isinstance(root, str) or not root.strip()):
        raise MeshConfigError("rootNamespace must be a namespace name, got %r" % (root,))
    return MeshConfig(enable_auto_mtls=auto_mtls, root_namespace=root.strip() if root else None, source=source)


def from_config_map(obj: Dict[str, Any], source: str) -> MeshConfig:
    """The mesh configuration in the ``mesh`` key (YAML text) of Istio's ConfigMap."""
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise MeshConfigError("data must be a mapping")
    text = data.get(CONFIG_MAP_KEY)
    if text is None:
        return MeshConfig(source=source)
    if not isinstance(text, str):
        raise MeshConfigError("data.%s must be MeshConfig YAML text" % CONFIG_MAP_KEY)
    try:
        fields = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MeshConfigError("data.%s is not YAML: %s" % (CONFIG_MAP_KEY, str(error).splitlines()[0])) from None
    try:
        return from_fields(fields, source)
    except MeshConfigError as error:
        raise MeshConfigError("data.%s: %s" % (CONFIG_MAP_KEY, error)) from None
