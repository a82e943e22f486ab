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
    code="MSH204", severity=WARNING, istio_code="IST0177",
    title="Several ServiceEntries for the same host and port",
    reads=("ServiceEntry",),
    resolution="ServiceEntries visible together (exportTo) listing the same host (short hosts resolve in their "
               "namespace) with the same port number. Every party is reported. With different protocols Istio can "
               "use only one (IST0177, an error here); with the same protocol the duplicate is redundant (ours).",
    sql="""
        WITH entry AS (
            SELECT r.object_id, r.idx, r.host, p.number, p.protocol
            FROM registry r
            JOIN object o ON o.id = r.object_id AND o.kind = 'ServiceEntry'
            JOIN port p ON p.object_id = r.object_id)
        SELECT b.object_id, 'spec.hosts[' || b.idx || ']' AS path, b.host, group_concat(DISTINCT b.number) AS ports,
               group_concat(DISTINCT a.object_id) AS related_ids,
               CASE WHEN max(a.protocol <> b.protocol) THEN 'error' ELSE 'warning' END AS severity,
               CASE WHEN max(a.protocol <> b.protocol) THEN 'IST0177' ELSE '' END AS istio_code,
               CASE WHEN max(a.protocol <> b.protocol)
                    THEN ' with conflicting protocols (' || group_concat(DISTINCT a.protocol) || ' there, '
                         || group_concat(DISTINCT b.protocol) || ' here)' END AS hint
        FROM entry b
        JOIN entry a ON a.host = b.host AND a.number = b.number AND a.object_id <> b.object_id
        WHERE """ + exports_intersect("a.object_id", "b.object_id") + """
        GROUP BY b.object_id, b.idx""",
    message="{path} '{host}' port {ports} is also defined by another ServiceEntry",
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
