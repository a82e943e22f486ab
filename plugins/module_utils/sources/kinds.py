# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names a scan and the model share: API groups, kinds that need telling apart, Istio's ConfigMap."""

from __future__ import annotations

GATEWAY_API_GROUP = "gateway.networking.k8s.io"
# Internal name of the Kubernetes Gateway API Gateway: it shares its kind with Istio's Gateway.
KUBERNETES_GATEWAY = "KubernetesGateway"
# How internal kind names are shown (and what the API server calls them).
DISPLAY_KINDS = {KUBERNETES_GATEWAY: "Gateway"}
# Istio policies that select workloads (or target Gateways), by kind: their API group.
TARGETABLE_POLICY_KINDS = {"AuthorizationPolicy": "security.istio.io", "RequestAuthentication": "security.istio.io",
                           "Telemetry": "telemetry.istio.io", "WasmPlugin": "extensions.istio.io"}
# Istio's mesh configuration lives in this ConfigMap of its namespace.
MESH_CONFIG_MAP_NAME = "istio"
