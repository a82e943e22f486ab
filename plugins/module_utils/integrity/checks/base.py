# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a check is, and the SQL fragments several families share.

A check is one SQL query over the model returning one row per finding with at
least ``object_id`` (the object at fault) and ``path`` (the field), plus the
columns its message template names. Optional columns:

* ``hint``: appended to the message;
* ``related_ids`` (comma-separated) and ``related_path``: the other parties
  of a conflict, or the object a reference reaches, each named in the finding;
* ``repair_target``: for conflicts, 1 on the party a repair changes (the newer);
* ``severity``, ``istio_code``, ``kiali_code``: override the check's defaults
  for this row ('' drops the equivalent code where that tool would not report);
* ``target``: the missing or conflicting target, as Istio resolves it;
* ``unverifiable``: 1 when the sources cannot tell (counted in the summary's
  ``unverifiable_references``, not reported).

Parameters: ``:domain``, ``:root_namespace``, ``:namespaces_scanned`` and
``:live`` (1 when the model was read from a cluster: what it lacks does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

# A pseudo-kind for ``requires``: Pods or the pod templates of workload controllers.
WORKLOADS = "workloads"
ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class Check:
    code: str
    severity: str
    title: str
    reads: Tuple[str, ...]
    sql: str
    message: str
    # One manifest set that triggers the check and a near miss that does not (docs and tests use both).
    examples: Tuple[str, str]
    istio_code: str = ""
    kiali_code: str = ""
    # How references resolve, and where Istio and Kiali differ, for the catalogue.
    resolution: str = ""
    # Where the check departs on purpose from the tools whose codes it carries (a fixed upstream bug, a case the
    # files cannot decide), and why: the catalogue lists every such departure.
    differs: str = ""
    # Kinds that must have been scanned for the check to mean anything (live data).
    requires: Tuple[str, ...] = field(default_factory=tuple)
    # Checking files, the kinds needed instead of ``requires`` (None: the same), for a check whose SQL tells what
    # the files cannot say apart itself (``unverifiable`` rows).
    offline_requires: Optional[Tuple[str, ...]] = None
    # How to read the namespace of ``target`` ("gateway" or "object": ns/name, "host": a Service FQDN).
    target_kind: str = ""
    # Istio reports no port-name or workload findings in system namespaces.
    skips_system_namespaces: bool = False
    family: str = ""


def visible(object_column: str, namespace_column: str) -> str:
    """SQL: the object is exported to the namespace (exportTo / Service annotation)."""
    return ("EXISTS (SELECT 1 FROM export e WHERE e.object_id = %s AND e.namespace IN ('*', %s))"
            % (object_column, namespace_column))


def exports_intersect(a: str, b: str) -> str:
    """SQL: two objects are visible from at least one common namespace."""
    return ("EXISTS (SELECT 1 FROM export ea JOIN export eb ON ea.namespace = eb.namespace "
            "OR ea.namespace = '*' OR eb.namespace = '*' WHERE ea.object_id = %s AND eb.object_id = %s)" % (a, b))


def registry_covers(host_column: str, namespace_column: str) -> str:
    """SQL: a Service or ServiceEntry visible from the namespace has the host, or a wildcard covers it either way."""
    return ("(EXISTS (SELECT 1 FROM host_key k JOIN registry g ON g.host = k.key WHERE k.host = {h} AND {v})"
            " OR EXISTS (SELECT 1 FROM host_key k JOIN registry g ON g.host = k.host WHERE k.key = {h} AND {v}))"
            .format(h=host_column, v=visible("g.object_id", namespace_column)))


def near_host(host_column: str) -> str:
    """SQL: a registry host the user probably meant (``reviews.default`` -> FQDN)."""
    return ("(SELECT g.host FROM registry g WHERE g.host IN ({h} || '.svc.' || :domain, {h} || '.' || :domain) LIMIT 1)"
            .format(h=host_column))


def labels_subset(inner_table: str, inner_id: str, workload_id: str, ignored: str = "") -> str:
    """SQL: every label of the inner selector (except ``ignored`` keys) is carried by the workload."""
    skip = " AND l.key NOT IN (%s)" % ignored if ignored else ""
    return ("NOT EXISTS (SELECT 1 FROM {t} l WHERE l.{c} = {i}{skip} AND NOT EXISTS ("
            "SELECT 1 FROM workload_label wl WHERE wl.workload_id = {w} AND wl.key = l.key AND wl.value = l.value))"
            .format(t=inner_table, c="subset_id" if inner_table == "subset_label" else "object_id", i=inner_id,
                    w=workload_id, skip=skip))
