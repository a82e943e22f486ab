# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CRDs and built-in kinds' OpenAPI a live cluster serves, so that documents are validated against the
cluster's versions.

Only the CRDs of the catalogue's groups are fetched: their names come from a metadata-only list (a CRD's
name is ``<plural>.<group>``, which the API server enforces), then each is read whole. A cluster with
hundreds of other operators' CRDs is not downloaded. Reading needs ``list`` and ``get`` on
``customresourcedefinitions`` (apiextensions.k8s.io); where RBAC forbids it, the pinned schemas stay and
the returned note says so.

The built-in kinds' fields and types come from the cluster's OpenAPI v3 (``/openapi/v3`` lists the
documents; ``/openapi/v3/api/v1``, ``/openapi/v3/apis/apps/v1`` and ``/openapi/v3/apis/batch/v1`` are read),
which every authenticated user may read by default (the ``system:discovery`` ClusterRole); where it is
forbidden or not served, the pinned built-in schemas stay and a note says so.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qsl, quote

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import (
    METADATA_ONLY, Forbidden, KubernetesAPI, NotFound)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.builtin import (
    DOCUMENTS, OpenAPIError, compact_openapi)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.catalogue import (
    SchemaCatalogue, compact_crd)

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
OPENAPI_V3 = "/openapi/v3"
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


def read_builtin(api: KubernetesAPI) -> List[Dict[str, Any]]:
    """The built-in kinds of the cluster's OpenAPI v3, converted as the pinned ones are; raises Forbidden,
    NotFound (no /openapi/v3, or not every document the collection needs) or OpenAPIError."""
    listed = (api.request("GET", OPENAPI_V3) or {}).get("paths") or {}
    missing = sorted(path for path in DOCUMENTS if path not in listed)
    if missing:
        raise NotFound("%s lists no %s" % (OPENAPI_V3, ", ".join(missing)))
    found = []
    for path in DOCUMENTS:
        # The listed URL carries the document's hash: the API server answers it from its cache.
        url, _mark, query = str((listed[path] or {}).get("serverRelativeURL") or "%s/%s" % (OPENAPI_V3, path)
                                ).partition("?")
        found += compact_openapi(api.request("GET", url, query=parse_qsl(query) or None), path)
    return found


def follow_cluster(catalogue: SchemaCatalogue, api: KubernetesAPI, page_size: int = 500) -> List[str]:
    """Replace the catalogue's pinned CRDs and built-in kinds by the cluster's own; a note for each that cannot
    be read."""
    notes = []
    try:
        catalogue.adopt_cluster(read_crds(api, catalogue.crd_groups, page_size))
    except (Forbidden, NotFound) as error:
        notes.append("schemas: the cluster's CustomResourceDefinitions could not be read (%s), documents were "
                     "validated against the schemas pinned in the collection; grant get and list on "
                     "customresourcedefinitions (apiextensions.k8s.io) to validate them against the cluster's own"
                     % error)
    try:
        catalogue.adopt_cluster(read_builtin(api))
    except (Forbidden, NotFound, OpenAPIError) as error:
        notes.append("schemas: the cluster's OpenAPI v3 could not be read (%s), the fields and types of built-in "
                     "kinds (%s) were validated against the schemas pinned in the collection; grant get on the "
                     "non-resource URLs /openapi/v3 and /openapi/v3/* (the system:discovery ClusterRole does) to "
                     "validate them against the cluster's own" % (error, ", ".join(sorted(DOCUMENTS))))
    return notes
