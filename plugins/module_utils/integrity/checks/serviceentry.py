# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ServiceEntry checks: host/port clashes, addresses."""

from __future__ import annotations

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.checks.base import (
    WARNING, Check, exports_intersect)


def _entry(name: str, port: int, protocol: str, extra: str = "") -> str:
    return """
---
kind: ServiceEntry
metadata: {name: %s, namespace: default}
spec: {hosts: [api.example.com], ports: [{number: %d, name: p, protocol: %s}], resolution: DNS%s}
""" % (name, port, protocol, extra)


MSH204 = Check(
    code="MSH204", severity=WARNING, istio_code="IST0177", kiali_code="KIA1211",
    title="Several ServiceEntries for the same host and port",
    reads=("ServiceEntry",),
    resolution="ServiceEntries listing the same host (short hosts resolve in their namespace) with the same port "
               "number, in any namespaces: one finding per port of each party (`spec.ports[i]`), naming the others. "
               "With the same protocol (compared without case) the duplicate is redundant (Kiali KIA1211, a "
               "warning); when the parties of a host and port disagree on the protocol, every party is KIA1212, "
               "and where two of them are visible from a common namespace (exportTo) Istio can use only one "
               "protocol there (IST0177, an error). Kiali compares hosts as written and ignores exportTo: we "
               "follow it on exportTo (a duplicate nobody sees together is still a duplicate to clean up), but "
               "resolve short hosts, so `api` in two namespaces (two different Services) is no duplicate.",
    sql="""
        WITH entry AS (
            SELECT r.object_id, r.host, p.idx AS port_idx, p.number, p.protocol
            FROM registry r
            JOIN object o ON o.id = r.object_id AND o.kind = 'ServiceEntry'
            JOIN port p ON p.object_id = r.object_id
            WHERE p.number IS NOT NULL),
        clash AS (
            SELECT b.object_id, b.port_idx, b.host, b.number, b.protocol,
                   group_concat(DISTINCT a.object_id) AS related_ids,
                   max(a.protocol <> b.protocol) AS conflicting,
                   max(a.protocol <> b.protocol AND """ + exports_intersect("a.object_id", "b.object_id") + """)
                       AS conflicting_together,
                   group_concat(DISTINCT CASE WHEN a.protocol <> b.protocol THEN a.protocol END) AS other_protocols
            FROM entry b
            JOIN entry a ON a.host = b.host AND a.number = b.number AND a.object_id <> b.object_id
            GROUP BY b.object_id, b.port_idx, b.host)
        SELECT c.object_id, 'spec.ports[' || c.port_idx || ']' AS path, c.host, c.number, c.related_ids,
               -- where any two parties differ, each party differs from one of the others
               CASE WHEN c.conflicting THEN 'KIA1212' ELSE 'KIA1211' END AS kiali_code,
               CASE WHEN c.conflicting_together THEN 'error' ELSE 'warning' END AS severity,
               CASE WHEN c.conflicting_together THEN 'IST0177' ELSE '' END AS istio_code,
               CASE WHEN c.conflicting THEN ' with conflicting protocols (' || c.other_protocols || ' there, '
                         || c.protocol || ' here)' END AS hint
        FROM clash c""",
    message="{path} (host '{host}', port {number}) is also defined by another ServiceEntry",
    examples=(_entry("api-http", 443, "HTTP") + _entry("api-tls", 443, "TLS"),
              _entry("api-http", 80, "HTTP") + _entry("api-tls", 443, "TLS")))

MSH507 = Check(
    code="MSH507", severity=WARNING, istio_code="IST0134",
    title="ServiceEntry without addresses for a TCP port",
    reads=("ServiceEntry",),
    resolution="A ServiceEntry with neither `addresses` nor allocated status addresses and a port whose protocol is "
               "TCP or unset: TCP traffic carries no host name, so the entry cannot be matched without an address.",
    sql="""
        SELECT se.object_id, 'spec.ports[' || p.idx || ']' AS path, p.number
        FROM service_entry se JOIN port p ON p.object_id = se.object_id
        WHERE se.addressed = 0 AND p.protocol = 'TCP'""",
    message="{path} {number} serves TCP but the ServiceEntry has no addresses",
    examples=(_entry("db", 5432, "TCP"), _entry("db", 5432, "TCP", ", addresses: [10.0.0.5]")))

CHECKS = (MSH204, MSH507)
