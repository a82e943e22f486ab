# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check catalogue: one module per family, one ``Check`` per code.

``CATALOGUE`` is the registry the engine runs and ``docs/checks.md`` is
generated from (``tools/gen_checks_doc.py``, kept current by a unit test).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.checks import (
    destinationrule, gateway, gatewayapi, schema, serviceentry, sidecar, virtualservice, workload)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.checks.base import (  # noqa: F401
    ERROR, INFO, SEVERITY_ORDER, WARNING, WORKLOADS, Check)

FAMILIES = (
    ("VirtualService", virtualservice),
    ("DestinationRule", destinationrule),
    ("Gateway", gateway),
    ("ServiceEntry", serviceentry),
    ("Sidecar", sidecar),
    ("Service and workload", workload),
    ("Kubernetes Gateway API", gatewayapi),
    ("API server schema", schema),
)

CATALOGUE: Tuple[Check, ...] = tuple(sorted(
    (replace(check, family=family) for family, module in FAMILIES for check in module.CHECKS),
    key=lambda check: check.code))
BY_CODE: Dict[str, Check] = {check.code: check for check in CATALOGUE}
