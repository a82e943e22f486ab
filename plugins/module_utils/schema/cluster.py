# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CRDs a live cluster serves, so that documents are validated against the cluster's versions.

Only the CRDs of the catalogue's groups are fetched: their names come from a metadata-only list (a CRD's
name is ``<plural>.<group>``, which the API server enforces), then each is read whole. A cluster with
hundreds of other operators' CRDs is not downloaded. Reading needs ``list`` and ``get`` on
``customresourcedefinitions`` (apiextensions.k8s.io); where RBAC forbids it, the pinned schemas stay and
the returned note says so.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional
from urllib.parse import quote

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import (
    METADATA_ONLY, Forbidden, KubernetesAPI, NotFound)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.catalogue import (
    SchemaCatalogue, compact_crd)

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
PARALLEL_READS = 8


def crd_names(api: KubernetesAPI, groups: List[str], page_size: int) -> List[str]:
    """Names of the cluster's CRDs of these groups."""
    wanted = set(groups)
    return sorted(item["metadata"]["name"] for item in api.list_pages(CRD_PATH, page_size, accept=METADATA_ONLY)
                  if item.get("metadata", {}).get("name", "").partition(".")[2] in wanted)


def read_crds(api: KubernetesAPI, groups: List[str], page_size: int = 500) -> List[Dict[str, Any]]:
    """The cluster's CRDs of these groups, compacted as the pinned ones are; raises Forbidden or NotFound."""
    def read(name: str) -> Optional[Dict[str, Any]]:
        try:
            return compact_crd(api.request("GET", "%s/%s" % (CRD_PATH, quote(name, safe=""))) or {})
        except NotFound:  # deleted between the list and the read: the cluster no longer has it
            return None
    with ThreadPoolExecutor(PARALLEL_READS) as pool:
        return [crd for crd in pool.map(read, crd_names(api, groups, page_size)) if crd is not None]


def follow_cluster(catalogue: SchemaCatalogue, api: KubernetesAPI, page_size: int = 500) -> Optional[str]:
    """Replace the catalogue's pinned CRDs by the cluster's own; a note when the cluster's cannot be read."""
    try:
        catalogue.adopt_cluster(read_crds(api, catalogue.groups, page_size))
    except (Forbidden, NotFound) as error:
        return ("schemas: the cluster's CustomResourceDefinitions could not be read (%s), documents were validated "
                "against the schemas pinned in the collection; grant get and list on customresourcedefinitions "
                "(apiextensions.k8s.io) to validate them against the cluster's own" % error)
    return None
