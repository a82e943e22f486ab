# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sidecar checks: selectors, overlaps, ambient, egress hosts."""

from __future__ import annotations

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.checks.base import (
    ERROR, INFO, WARNING, WORKLOADS, Check, visible)

_PODS = """
kind: Pod
metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
"""


def _sidecar(name: str, selector: str = "", egress: str = "['./*']") -> str:
    selector_field = ", workloadSelector: {labels: %s}" % selector if selector else ""
    return """
---
kind: Sidecar
metadata: {name: %s, namespace: default}
spec: {egress: [{hosts: %s}]%s}
""" % (name, egress, selector_field)


# A namespace in ambient mode as Istio reads it: labelled ambient, and neither sidecar injection nor a revision.
_AMBIENT_NAMESPACE = "n.ambient = 1 AND coalesce(n.injection, 0) <> 1"
# A workload ambient mode captures (live, Istio sees its ambient.istio.io/redirection annotation): by its own label
# or its namespace's, unless it opts out (dataplane-mode none) or gets a sidecar (injected, or to be injected).
_AMBIENT = ("((w.ambient = 1 OR EXISTS (SELECT 1 FROM namespace_info n WHERE n.name = w.namespace AND "
            + _AMBIENT_NAMESPACE + "))"
            " AND NOT EXISTS (SELECT 1 FROM workload_label l WHERE l.workload_id = w.id"
            " AND l.key = 'istio.io/dataplane-mode' AND l.value = 'none')"
            " AND w.proxied = 0 AND coalesce(w.injection, (SELECT n.injection FROM namespace_info n"
            " WHERE n.name = w.namespace), 0) <> 1)")
_NAMESPACE_AMBIENT = "EXISTS (SELECT 1 FROM namespace_info n WHERE n.name = sc.namespace AND " + _AMBIENT_NAMESPACE + ")"

MSH404 = Check(
    code="MSH404", severity=ERROR, istio_code="IST0101", kiali_code="KIA0004",
    title="Sidecar workloadSelector matches no workload",
    reads=("Sidecar", "Pod"), requires=(WORKLOADS,),
    resolution="Workloads of the Sidecar's own namespace whose labels include `workloadSelector.labels`.",
    sql="""
        SELECT sc.object_id, 'spec.workloadSelector.labels' AS path
        FROM sidecar sc
        WHERE sc.selects = 1 AND NOT EXISTS (SELECT 1 FROM selection s WHERE s.object_id = sc.object_id)""",
    message="{path} match no workload in the Sidecar's namespace",
    examples=(_PODS + _sidecar("reviews", "{app: ratings}"), _PODS + _sidecar("reviews", "{app: reviews}")))

MSH206 = Check(
    code="MSH206", severity=ERROR, istio_code="IST0110", kiali_code="KIA0003",
    title="Several Sidecars select the same workload",
    reads=("Sidecar", "Pod"), requires=(WORKLOADS,),
    resolution="Sidecars with workload selectors whose selections share a workload not in ambient mode: which one "
               "applies is undefined. Every party is reported.",
    sql="""
        SELECT a.object_id, 'spec.workloadSelector' AS path, group_concat(DISTINCT b.object_id) AS related_ids,
               min(w.name) AS workload
        FROM sidecar sa
        JOIN selection a ON a.object_id = sa.object_id
        JOIN selection b ON b.workload_id = a.workload_id AND b.object_id <> a.object_id
        JOIN sidecar sb ON sb.object_id = b.object_id
        JOIN workload w ON w.id = a.workload_id
        WHERE NOT """ + _AMBIENT + """
        GROUP BY a.object_id""",
    message="{path} selects workload '{workload}', which another Sidecar selects too",
    examples=(_PODS + _sidecar("by-app", "{app: reviews}") + _sidecar("by-version", "{version: v1}"),
              _PODS + _sidecar("by-app", "{app: reviews}") + _sidecar("by-version", "{version: v2}")))

MSH207 = Check(
    code="MSH207", severity=ERROR, istio_code="IST0111", kiali_code="KIA0002",
    title="Several Sidecars without workload selector in one namespace",
    reads=("Sidecar",),
    resolution="More than one Sidecar without `workloadSelector` in a namespace not in ambient mode: which one "
               "applies is undefined. Every party is reported.",
    sql="""
        SELECT sc.object_id, 'spec' AS path, group_concat(other.object_id) AS related_ids
        FROM sidecar sc
        JOIN sidecar other ON other.namespace = sc.namespace AND other.selects = 0 AND other.object_id <> sc.object_id
        WHERE sc.selects = 0 AND NOT """ + _NAMESPACE_AMBIENT + """
        GROUP BY sc.object_id""",
    message="{path}: another Sidecar of this namespace has no workload selector either",
    examples=(_sidecar("one") + _sidecar("two"), _PODS + _sidecar("one") + _sidecar("two", "{app: reviews}")))

MSH405 = Check(
    code="MSH405", severity=WARNING, istio_code="IST0167",
    title="Sidecar has no effect on workloads in ambient mode",
    reads=("Sidecar", "Pod", "Namespace"),
    resolution="Where Istio reports it: a Sidecar without selector (or with empty labels) in a namespace in "
               "ambient mode (`istio.io/dataplane-mode: ambient` without `istio-injection: enabled` or "
               "`istio.io/rev`), or a Sidecar selecting workloads ambient mode captures (their label or their "
               "namespace's, not opted out with `none`, and without a sidecar, injected or to be): there is no "
               "sidecar to configure.",
    sql="""
        SELECT sc.object_id, CASE WHEN sc.selects THEN 'spec.workloadSelector' ELSE 'metadata.namespace' END AS path
        FROM sidecar sc
        WHERE (sc.selects = 0 AND """ + _NAMESPACE_AMBIENT + """)
           OR (sc.selects = 1 AND EXISTS (SELECT 1 FROM selection s JOIN workload w ON w.id = s.workload_id
                                         WHERE s.object_id = sc.object_id AND """ + _AMBIENT + """))""",
    message="{path}: the selected workloads run in ambient mode, where this Sidecar has no effect",
    examples=("""
kind: Namespace
metadata: {name: default, labels: {istio.io/dataplane-mode: ambient}}
""" + _sidecar("default"), """
kind: Namespace
metadata: {name: default, labels: {istio-injection: enabled}}
""" + _sidecar("default")))

MSH112 = Check(
    code="MSH112", severity=WARNING, kiali_code="KIA1004",
    title="Sidecar egress host matches no Service or ServiceEntry",
    reads=("Sidecar", "Service", "ServiceEntry"), requires=("Service",),
    resolution="Every egress host `ns/dnsName` whose name is no wildcard, whatever its namespace part (`./`, `~/`, "
               "`*/` or a namespace), as Kiali checks it: the name (a short one is a Service of the Sidecar's "
               "namespace) must be a Service or ServiceEntry host visible to the Sidecar's namespace (exportTo), or "
               "end with a ServiceEntry host of any namespace (after its `*`). Kiali also reports a wildcard name of "
               "another namespace's Services (`*/*.ns.svc.cluster.local`), which Istio imports as a pattern: we do "
               "not, as nothing is wrong there; `*`, `ns/*` and any other wildcard name are never reported.",
    sql="""
        SELECT e.sidecar_id AS object_id, e.path, e.raw
        FROM sidecar_egress_host e JOIN sidecar sc ON sc.object_id = e.sidecar_id
        WHERE instr(e.raw, '/') > 0 AND instr(e.host, '*') = 0
          AND NOT EXISTS (
              SELECT 1 FROM registry g WHERE g.host = e.host AND """ + visible("g.object_id", "sc.namespace") + """)
          AND NOT EXISTS (
              SELECT 1 FROM registry g JOIN object o ON o.id = g.object_id AND o.kind = 'ServiceEntry'
              WHERE substr(e.host, -length(substr(g.host, instr(g.host, '*') + 1)))
                    = substr(g.host, instr(g.host, '*') + 1))""",
    message="{path} '{raw}' matches no Service or ServiceEntry visible to the Sidecar's namespace",
    examples=("""
kind: Service
metadata: {name: reviews, namespace: default}
spec: {ports: [{name: http, port: 9080}]}
""" + _sidecar("default", egress="['default/ratings.default.svc.cluster.local']"), """
kind: Service
metadata: {name: reviews, namespace: default}
spec: {ports: [{name: http, port: 9080}]}
""" + _sidecar("default", egress="['default/reviews.default.svc.cluster.local', 'istio-system/*']")))

MSH508 = Check(
    code="MSH508", severity=WARNING, kiali_code="KIA1006",
    title="The mesh-wide default Sidecar has a workload selector",
    reads=("Sidecar",),
    resolution="A Sidecar in the root namespace (`istio_namespace`) is the mesh-wide default only without "
               "`workloadSelector`; with one it configures just the workloads it selects there.",
    sql="""
        SELECT sc.object_id, 'spec.workloadSelector' AS path
        FROM sidecar sc
        WHERE sc.namespace = :root_namespace AND sc.selects = 1""",
    message="{path}: a Sidecar in the root namespace with a selector is no mesh-wide default",
    examples=(_sidecar("default", "{app: reviews}").replace("namespace: default", "namespace: istio-system"),
              _sidecar("default").replace("namespace: default", "namespace: istio-system")))

MSH510 = Check(
    code="MSH510", severity=INFO, kiali_code="KIA1007",
    title="Sidecar outboundTrafficPolicy without mode ALLOW_ANY reads as REGISTRY_ONLY",
    reads=("Sidecar",),
    resolution="A Sidecar's `outboundTrafficPolicy` whose `mode` is unset or REGISTRY_ONLY: both are the "
               "protocol's default value, so Istio (and Kiali, KIA1007) cannot tell an intended REGISTRY_ONLY from "
               "a forgotten mode; traffic to hosts outside the registry is blocked either way.",
    sql="""
        SELECT op.sidecar_id AS object_id, 'spec.outboundTrafficPolicy' AS path,
               CASE WHEN op.mode = '' THEN 'unset' ELSE op.mode END AS mode
        FROM sidecar_outbound_policy op
        WHERE op.mode <> 'ALLOW_ANY'""",
    message="{path} mode {mode} is read as REGISTRY_ONLY: set the mode explicitly, knowing it blocks unknown hosts",
    examples=(_sidecar("default").replace("spec: {egress", "spec: {outboundTrafficPolicy: {}, egress"),
              _sidecar("default").replace("spec: {egress", "spec: {outboundTrafficPolicy: {mode: ALLOW_ANY}, egress")))

CHECKS = (MSH112, MSH206, MSH207, MSH404, MSH405, MSH508, MSH510)
