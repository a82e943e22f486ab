# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DestinationRule checks: hosts, overlapping rules, subsets, client TLS."""

from __future__ import annotations

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.checks.base import (
    ERROR, WARNING, WORKLOADS, Check, labels_subset, near_host, registry_covers)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import TOPOLOGY_LABELS

_SERVICE = """
kind: Service
metadata: {name: reviews, namespace: default}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
"""
_TOPOLOGY = ", ".join("'%s'" % label for label in TOPOLOGY_LABELS)

MSH106 = Check(
    code="MSH106", severity=WARNING, istio_code="IST0174", kiali_code="KIA0202",
    title="DestinationRule host matches no Service or ServiceEntry",
    reads=("DestinationRule", "Service", "ServiceEntry"), target_kind="host",
    resolution="`spec.host` resolves like a destination host, in the rule's namespace; it must match a Service or "
               "ServiceEntry host visible from there, wildcards either way (Istio's analyzer misses wildcard rule "
               "hosts over Services; we, like Kiali, accept them).",
    sql="""
        SELECT r.object_id, 'spec.host' AS path, r.raw_host, r.host AS target,
               (SELECT ' (did you mean ''' || near || '''?)' FROM (SELECT """ + near_host("r.host") + """ AS near)
                WHERE near IS NOT NULL) AS hint
        FROM destination_rule r JOIN object o ON o.id = r.object_id
        WHERE NOT """ + registry_covers("r.host", "o.namespace"),
    message="{path} '{raw_host}' resolves to '{target}', which matches no Service or ServiceEntry (orphaned DestinationRule)",
    examples=("""
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec: {host: reveiws}
""", _SERVICE + """---
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec: {host: "*.default.svc.cluster.local"}
"""))

MSH203 = Check(
    code="MSH203", severity=WARNING, kiali_code="KIA0201",
    title="Several DestinationRules for the same host and overlapping subsets",
    reads=("DestinationRule",),
    resolution="Rules in any namespace (as Kiali compares them; Istio would pick one per namespace, client's, "
               "service's, root) whose resolved hosts are equal or one wildcard covers the other, where one has no "
               "subsets or both define a subset of the same name. Wildcard rules enabling ISTIO_MUTUAL (mesh- or "
               "namespace-wide mTLS) are not compared. Every party is reported.",
    sql="""
        SELECT b.object_id, 'spec.host' AS path, b.host, group_concat(DISTINCT a.object_id) AS related_ids
        FROM destination_rule b
        JOIN host_key k ON k.host = b.host OR k.key = b.host
        JOIN destination_rule a ON a.host = (CASE WHEN k.host = b.host THEN k.key ELSE k.host END)
                                AND a.object_id <> b.object_id
        WHERE NOT EXISTS (SELECT 1 FROM dr_tls t WHERE t.dr_id IN (a.object_id, b.object_id) AND t.port IS NULL
                            AND t.mode = 'ISTIO_MUTUAL'
                            AND substr((SELECT r.host FROM destination_rule r WHERE r.object_id = t.dr_id), 1, 1) = '*')
          AND (NOT EXISTS (SELECT 1 FROM dr_subset s WHERE s.dr_id = a.object_id)
               OR NOT EXISTS (SELECT 1 FROM dr_subset s WHERE s.dr_id = b.object_id)
               OR EXISTS (SELECT 1 FROM dr_subset sa JOIN dr_subset sb ON sb.name = sa.name
                          WHERE sa.dr_id = a.object_id AND sb.dr_id = b.object_id))
        GROUP BY b.object_id""",
    message="{path} '{host}' is also configured by another DestinationRule with overlapping subsets",
    examples=(_SERVICE + """---
kind: DestinationRule
metadata: {name: dr1, namespace: default}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
---
kind: DestinationRule
metadata: {name: dr2, namespace: other}
spec: {host: reviews.default.svc.cluster.local, subsets: [{name: v1, labels: {version: v1}}]}
""", _SERVICE + """---
kind: DestinationRule
metadata: {name: dr1, namespace: default}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
---
kind: DestinationRule
metadata: {name: dr2, namespace: default}
spec: {host: reviews, subsets: [{name: canary, labels: {track: canary}}]}
"""))

MSH402 = Check(
    code="MSH402", severity=WARNING, istio_code="IST0173", kiali_code="KIA0203",
    title="DestinationRule subset labels select no workload",
    reads=("DestinationRule", "Service", "Pod"), requires=(WORKLOADS,), target_kind="host",
    resolution="For a rule whose host resolves, each subset with labels: Istio (IST0173) looks for any pod carrying "
               "them, ignoring the topology labels it adds from nodes; Kiali (KIA0203), stricter, among the "
               "workloads the host's Services select (topology labels ignored too). An error when a route sends traffic to the subset.",
    sql="""
        SELECT object_id, path, subset, target,
               CASE WHEN routed THEN 'error' ELSE 'warning' END AS severity,
               CASE WHEN routed THEN ' and routes send traffic to it' END AS hint,
               CASE WHEN anywhere THEN '' END AS istio_code,
               CASE WHEN by_service IS NULL OR by_service THEN '' END AS kiali_code
        FROM (
            SELECT dr.object_id, 'spec.subsets[' || s.idx || '].labels' AS path, s.name AS subset, dr.host AS target,
                   EXISTS (SELECT 1 FROM destination d WHERE d.host = dr.host AND d.subset = s.name) AS routed,
                   (NOT EXISTS (SELECT 1 FROM subset_label f WHERE f.subset_id = s.id AND f.key NOT IN (""" + _TOPOLOGY
    + """)) OR EXISTS (
                        SELECT 1 FROM subset_label f
                        JOIN workload_label wl ON wl.key = f.key AND wl.value = f.value
                        WHERE f.subset_id = s.id AND f.key NOT IN (""" + _TOPOLOGY + """)
                          AND """ + labels_subset("subset_label", "s.id", "wl.workload_id", _TOPOLOGY) + """)) AS anywhere,
                   (SELECT max(EXISTS (
                        SELECT 1 FROM selection sel WHERE sel.object_id = sv.object_id
                          AND """ + labels_subset("subset_label", "s.id", "sel.workload_id", _TOPOLOGY) + """))
                    FROM registry g JOIN service sv ON sv.object_id = g.object_id AND sv.selector <> ''
                    WHERE g.host = dr.host) AS by_service
            FROM destination_rule dr
            JOIN object o ON o.id = dr.object_id
            JOIN dr_subset s ON s.dr_id = dr.object_id
            WHERE EXISTS (SELECT 1 FROM subset_label l WHERE l.subset_id = s.id)
              AND """ + registry_covers("dr.host", "o.namespace") + """)
        WHERE NOT anywhere OR NOT by_service""",
    message="{path} of subset '{subset}' select no workload of '{target}'",
    examples=(_SERVICE + """---
kind: Pod
metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
---
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}, {name: v4, labels: {version: v4}}]}
""", _SERVICE + """---
kind: Pod
metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
---
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v1-zone-a, labels: {version: v1, topology.kubernetes.io/zone: zone-a}}
"""))

MSH503 = Check(
    code="MSH503", severity=WARNING, kiali_code="KIA0209",
    title="DestinationRule subset without labels",
    reads=("DestinationRule",),
    resolution="A subset with no labels selects every endpoint of the host: not a version.",
    sql="""
        SELECT s.dr_id AS object_id, 'spec.subsets[' || s.idx || ']' AS path, s.name AS subset
        FROM dr_subset s
        WHERE NOT EXISTS (SELECT 1 FROM subset_label l WHERE l.subset_id = s.id)""",
    message="{path} '{subset}' has no labels: it selects every endpoint of the host",
    examples=(_SERVICE + """---
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, subsets: [{name: v1}]}
""", _SERVICE + """---
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
"""))

_TLS_SQL = """
        SELECT t.dr_id AS object_id, t.path, t.mode, t.port, r.raw_host
        FROM dr_tls t JOIN destination_rule r ON r.object_id = t.dr_id
        WHERE t.mode IN ('SIMPLE', 'MUTUAL') AND t.verified = 0 AND t.port IS %s NULL"""
_TLS_RESOLUTION = ("As Istio's analyzer decides it: `tls.mode` SIMPLE or MUTUAL without `caCertificates`, unless "
                   "`credentialName` (which carries the CA) is set and the rule has a `workloadSelector` (without one, "
                   "sidecars do not read the credential). `insecureSkipVerify: true` does not silence it: the "
                   "certificate is not verified, as Istio warns.")

MSH601 = Check(
    code="MSH601", severity=WARNING, istio_code="IST0128",
    title="DestinationRule TLS without server certificate verification",
    reads=("DestinationRule",), resolution=_TLS_RESOLUTION, sql=_TLS_SQL % "",
    message="{path} mode {mode} sets no caCertificates: the certificate of '{raw_host}' is not verified",
    examples=("""
kind: DestinationRule
metadata: {name: api, namespace: default}
spec: {host: api.example.com, trafficPolicy: {tls: {mode: SIMPLE}}}
""", """
kind: DestinationRule
metadata: {name: api, namespace: default}
spec: {host: api.example.com, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /etc/certs/ca.pem}}}
"""))

MSH602 = Check(
    code="MSH602", severity=WARNING, istio_code="IST0129",
    title="DestinationRule port-level TLS without server certificate verification",
    reads=("DestinationRule",), resolution=_TLS_RESOLUTION, sql=_TLS_SQL % "NOT",
    message="{path} mode {mode} sets no caCertificates: the certificate of '{raw_host}' port {port} is not verified",
    examples=("""
kind: DestinationRule
metadata: {name: api, namespace: default}
spec:
  host: api.example.com
  trafficPolicy: {portLevelSettings: [{port: {number: 443}, tls: {mode: MUTUAL, credentialName: api-client}}]}
""", """
kind: DestinationRule
metadata: {name: api, namespace: default}
spec:
  host: api.example.com
  workloadSelector: {matchLabels: {app: client}}
  trafficPolicy: {portLevelSettings: [{port: {number: 443}, tls: {mode: MUTUAL, credentialName: api-client}}]}
"""))

# Mesh-wide and namespace-wide DestinationRules, as Kiali recognises them by host.
_MESH_WIDE = "r.host = '*.local'"
_NAMESPACE_WIDE = "r.host = '*.' || o.namespace || '.svc.' || :domain"
# PeerAuthentications without selector: the mesh's (in the root namespace) and the DestinationRule's namespace's.
_MESH_PA = ("EXISTS (SELECT 1 FROM peer_authentication pa WHERE pa.namespace = :root_namespace AND pa.selects = 0"
            " AND pa.mode IN (%s))")
_NAMESPACE_PA = ("EXISTS (SELECT 1 FROM peer_authentication pa WHERE pa.namespace = o.namespace AND pa.selects = 0"
                 " AND pa.mode IN (%s))")
_ENABLING = "'STRICT', 'PERMISSIVE'"
_MTLS_SQL = """
        SELECT t.dr_id AS object_id, t.path || '.mode' AS path, t.mode, r.raw_host%s
        FROM dr_tls t JOIN destination_rule r ON r.object_id = t.dr_id JOIN object o ON o.id = r.object_id
        WHERE t.port IS NULL AND """
_MTLS_RESOLUTION = ("Kiali's reading: a mesh-wide DestinationRule has host `*.local`, a namespace-wide one "
                    "`*.<its namespace>.svc.<domain>`, and only their `trafficPolicy.tls.mode` counts; a mesh-wide "
                    "PeerAuthentication is one without selector in the root namespace (MeshConfig `rootNamespace`, "
                    "else `istio_namespace`), a namespace-wide one has no selector; workload PeerAuthentications "
                    "and port-level modes do not take part. A PeerAuthentication without `mtls.mode` (UNSET) "
                    "neither enables nor disables. ")


def _mtls_examples(rule_host: str, rule_mode: str, policies: str, fixed: str) -> tuple:
    rule = """
kind: DestinationRule
metadata: {name: mtls, namespace: shop}
spec: {host: "%s", trafficPolicy: {tls: {mode: %s}}}
""" % (rule_host, rule_mode)
    return rule + policies, rule + fixed


def _peer_authentication(namespace: str, mode: str) -> str:
    return """
---
kind: PeerAuthentication
metadata: {name: default, namespace: %s}
spec: {mtls: {mode: %s}}
""" % (namespace, mode)


MSH605 = Check(
    code="MSH605", severity=WARNING, kiali_code="KIA0204",
    title="DestinationRule without TLS settings overrides mesh- or namespace-wide mTLS",
    reads=("DestinationRule",),
    resolution=(_MTLS_RESOLUTION + "A DestinationRule with no TLS settings at all (no `trafficPolicy`, or one "
                "without `tls` at the top or any port), while another DestinationRule enables ISTIO_MUTUAL for "
                "it: the mesh-wide `*.local` rule (Kiali applies it to every host), the namespace-wide rule of "
                "the host's namespace (`*.<ns>.svc.<domain>`, in any namespace), or another rule for the same "
                "host. The most specific rule wins, so its missing TLS replaces theirs. Every enabling rule is "
                "named."),
    sql="""
        WITH subject AS (
            SELECT r.object_id, r.host, substr(r.host, instr(r.host, '.') + 1) AS parent
            FROM destination_rule r
            WHERE NOT EXISTS (SELECT 1 FROM dr_tls t WHERE t.dr_id = r.object_id))
        SELECT s.object_id, 'spec.trafficPolicy' AS path, group_concat(DISTINCT m.object_id) AS related_ids
        FROM subject s
        JOIN destination_rule m ON m.object_id <> s.object_id
             AND m.host IN ('*.local', s.host,
                            CASE WHEN s.parent LIKE '%.svc.' || :domain THEN '*.' || s.parent END)
        JOIN dr_tls mt ON mt.dr_id = m.object_id AND mt.port IS NULL AND mt.mode = 'ISTIO_MUTUAL'
        GROUP BY s.object_id""",
    message="{path} sets no TLS: it overrides the mutual TLS another DestinationRule enables for this host",
    examples=("""
kind: DestinationRule
metadata: {name: mesh-mtls, namespace: istio-system}
spec: {host: "*.local", trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
---
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, trafficPolicy: {connectionPool: {tcp: {maxConnections: 10}}}}
""", """
kind: DestinationRule
metadata: {name: mesh-mtls, namespace: istio-system}
spec: {host: "*.local", trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
---
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, trafficPolicy: {connectionPool: {tcp: {maxConnections: 10}}, tls: {mode: ISTIO_MUTUAL}}}
"""))


def _mtls_check(code: str, kiali_code: str, title: str, rule: str, condition: str, message: str,
                examples: tuple, columns: str = "") -> Check:
    """A check of a mesh- or namespace-wide DestinationRule's TLS mode against the PeerAuthentications."""
    return Check(code=code, severity=ERROR, kiali_code=kiali_code, title=title,
                 reads=("DestinationRule", "PeerAuthentication"), requires=("PeerAuthentication",),
                 resolution=_MTLS_RESOLUTION + rule, sql=_MTLS_SQL % columns + condition,
                 message="{path} {mode} for '{raw_host}' " + message, examples=examples)


MSH606 = _mtls_check(
    "MSH606", "KIA0205", "Mesh-wide DestinationRule enables mTLS but no mesh-wide PeerAuthentication does",
    "A mesh-wide rule with ISTIO_MUTUAL needs a mesh-wide PeerAuthentication in STRICT or PERMISSIVE mode "
    "(auto mTLS does not excuse it, as in Kiali).",
    "t.mode = 'ISTIO_MUTUAL' AND " + _MESH_WIDE + " AND NOT " + _MESH_PA % _ENABLING,
    "but no mesh-wide PeerAuthentication enables mutual TLS",
    _mtls_examples("*.local", "ISTIO_MUTUAL", _peer_authentication("istio-system", "DISABLE"),
                   _peer_authentication("istio-system", "STRICT")))

MSH607 = _mtls_check(
    "MSH607", "KIA0206", "Namespace-wide DestinationRule enables mTLS but no PeerAuthentication does",
    "A namespace-wide rule with ISTIO_MUTUAL needs a namespace-wide or mesh-wide PeerAuthentication in STRICT or "
    "PERMISSIVE mode, unless auto mTLS is on (MeshConfig `enableAutoMtls`, Istio's default: true; from the "
    "`istio` ConfigMap's `mesh` key or a MeshConfig document in the files, or live), which encrypts without one.",
    ("t.mode = 'ISTIO_MUTUAL' AND " + _NAMESPACE_WIDE + " AND :auto_mtls = 0 AND NOT " + _NAMESPACE_PA % _ENABLING
     + " AND NOT " + _MESH_PA % _ENABLING),
    "but no PeerAuthentication of the namespace or mesh enables mutual TLS (and auto mTLS is off)",
    _mtls_examples("*.shop.svc.cluster.local", "ISTIO_MUTUAL", _peer_authentication("shop", "DISABLE") + """
---
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data: {mesh: "enableAutoMtls: false"}
""", _peer_authentication("shop", "DISABLE")))

_NAMESPACE_PA_DECIDES = ("EXISTS (SELECT 1 FROM peer_authentication pa WHERE pa.namespace = o.namespace "
                         "AND pa.selects = 0 AND pa.mode IN ('STRICT', 'PERMISSIVE', 'DISABLE'))")
MSH608 = _mtls_check(
    "MSH608", "KIA0207", "Namespace-wide DestinationRule disables mTLS where a PeerAuthentication requires it",
    "A namespace-wide rule with DISABLE while the namespace's PeerAuthentication is STRICT (KIA0207), or, when no "
    "namespace-wide PeerAuthentication sets a mode, the mesh's is STRICT (KIA0208, as Kiali reports it): clients "
    "send plain text servers refuse.",
    ("t.mode = 'DISABLE' AND " + _NAMESPACE_WIDE + " AND (" + _NAMESPACE_PA % "'STRICT'"
     + " OR (NOT " + _NAMESPACE_PA_DECIDES + " AND " + _MESH_PA % "'STRICT'" + "))"),
    "while a PeerAuthentication requires mutual TLS (STRICT): make it PERMISSIVE",
    _mtls_examples("*.shop.svc.cluster.local", "DISABLE", _peer_authentication("shop", "STRICT"),
                   _peer_authentication("shop", "PERMISSIVE")),
    columns=", CASE WHEN %s THEN 'KIA0207' ELSE 'KIA0208' END AS kiali_code" % (_NAMESPACE_PA % "'STRICT'"))

MSH609 = _mtls_check(
    "MSH609", "KIA0208", "Mesh-wide DestinationRule disables mTLS where the mesh-wide PeerAuthentication requires it",
    "A mesh-wide rule with DISABLE while the mesh-wide PeerAuthentication is STRICT.",
    "t.mode = 'DISABLE' AND " + _MESH_WIDE + " AND " + _MESH_PA % "'STRICT'",
    "while the mesh-wide PeerAuthentication requires mutual TLS: make it PERMISSIVE",
    _mtls_examples("*.local", "DISABLE", _peer_authentication("istio-system", "STRICT"),
                   _peer_authentication("istio-system", "PERMISSIVE")))

CHECKS = (MSH106, MSH203, MSH402, MSH503, MSH601, MSH602, MSH605, MSH606, MSH607, MSH608, MSH609)
