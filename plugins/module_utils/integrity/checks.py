# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The integrity checks: one unit per code of the catalogue (shared/CHECKS.md).

Each check is a single SQL query over the model. It returns one row per
violation with at least ``object_id`` (the object at fault) and ``path`` (the
field), plus the columns its message template names. Optional columns:
``hint`` (appended to the message), ``related_id`` / ``related_path`` (the
other object involved), ``severity`` (overrides the default), ``target``
(the missing or conflicting target, as Istio resolves it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Tuple

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
    istio_code: str = ""
    kiali_code: str = ""
    # Kinds that must have been scanned for the check to mean anything (live data).
    requires: Tuple[str, ...] = field(default_factory=tuple)
    # How to read the namespace of ``target`` ("gateway": ns/name, "host": a Service FQDN).
    target_kind: str = ""


def _visible(object_column: str, namespace_column: str) -> str:
    """SQL: the object is exported to the namespace (exportTo / Service annotation)."""
    return ("EXISTS (SELECT 1 FROM export e WHERE e.object_id = %s AND e.namespace IN ('*', %s))"
            % (object_column, namespace_column))


def _exports_intersect(a: str, b: str) -> str:
    """SQL: two objects are visible from at least one common namespace."""
    return ("EXISTS (SELECT 1 FROM export ea JOIN export eb ON ea.namespace = eb.namespace "
            "OR ea.namespace = '*' OR eb.namespace = '*' WHERE ea.object_id = %s AND eb.object_id = %s)" % (a, b))


def _registry_covers(host_column: str) -> str:
    """SQL: some Service or ServiceEntry host equals the host or a wildcard covers it, either way."""
    return ("(EXISTS (SELECT 1 FROM host_key k JOIN registry g ON g.host = k.key WHERE k.host = {h})"
            " OR EXISTS (SELECT 1 FROM host_key k JOIN registry g ON g.host = k.host WHERE k.key = {h}))"
            .format(h=host_column))


def _near_host(host_column: str) -> str:
    """SQL: a registry host the user probably meant (``reviews.default`` -> FQDN)."""
    return ("(SELECT g.host FROM registry g WHERE g.host IN ({h} || '.svc.' || :domain, {h} || '.' || :domain) LIMIT 1)"
            .format(h=host_column))


_RESOLVED = "EXISTS (SELECT 1 FROM destination_target t WHERE t.destination_id = d.id)"

MSH101 = Check(
    code="MSH101", severity=ERROR, istio_code="IST0101", kiali_code="KIA1102",
    title="VirtualService references a Gateway that does not exist",
    reads=("VirtualService", "Gateway"), target_kind="gateway",
    sql="""
        SELECT g.vs_id AS object_id, g.path, g.gateway_key AS target,
               (SELECT ' (did you mean ''' || group_concat(x.ref_key, ''', ''') || '''?)'
                FROM gateway x WHERE x.name = substr(g.gateway_key, instr(g.gateway_key, '/') + 1)) AS hint
        FROM pragma_foreign_key_check('vs_gateway') fk
        JOIN vs_gateway g ON g.rowid = fk.rowid""",
    message="{path} references Gateway '{target}', which does not exist")

MSH102 = Check(
    code="MSH102", severity=ERROR, istio_code="IST0101", kiali_code="KIA1101",
    title="Route or mirror destination host not in the registry",
    reads=("VirtualService", "Service", "ServiceEntry"), target_kind="host",
    sql="""
        SELECT object_id, path, raw_host, target,
               CASE WHEN hidden IS NOT NULL THEN ' (' || hidden || ' exists but is not exported to namespace '
                                                  || namespace || ')'
                    WHEN near IS NOT NULL THEN ' (did you mean ''' || near || '''?)'
                    WHEN other_ns IS NOT NULL THEN ' (did you mean ''' || raw_host || '.' || other_ns || '''?)'
               END AS hint
        FROM (
            SELECT d.vs_id AS object_id, d.path || '.host' AS path, d.raw_host, d.host AS target, d.namespace,
                   (SELECT o.kind || ' ' || o.namespace || '/' || o.name FROM registry r
                    JOIN object o ON o.id = r.object_id WHERE r.host = d.host LIMIT 1) AS hidden,
                   """ + _near_host("d.host") + """ AS near,
                   (SELECT o.namespace FROM object o WHERE o.kind = 'Service' AND o.name = d.raw_host
                    AND instr(d.raw_host, '.') = 0 LIMIT 1) AS other_ns
            FROM destination d
            WHERE NOT """ + _RESOLVED + """
        )""",
    message="{path} '{raw_host}' resolves to '{target}', which matches no visible Service or ServiceEntry")

MSH103 = Check(
    code="MSH103", severity=ERROR, istio_code="IST0101", kiali_code="KIA1107",
    title="Destination subset not defined by any DestinationRule for that host",
    reads=("VirtualService", "DestinationRule"), target_kind="host",
    sql="""
        SELECT d.vs_id AS object_id, d.path || '.subset' AS path, d.subset, d.host AS target,
               (SELECT ' (defined subsets: ' || group_concat(DISTINCT s.name) || ')'
                FROM host_key k JOIN destination_rule r ON r.host = k.key
                JOIN dr_subset s ON s.dr_id = r.object_id WHERE k.host = d.host) AS hint
        FROM destination d
        WHERE d.subset IS NOT NULL AND """ + _RESOLVED + """
          AND NOT EXISTS (
              SELECT 1 FROM host_key k
              JOIN destination_rule r ON r.host = k.key
              JOIN dr_subset s ON s.dr_id = r.object_id AND s.name = d.subset
              WHERE k.host = d.host AND """ + _visible("r.object_id", "d.namespace") + """)""",
    message="{path} '{subset}' is not defined by any DestinationRule for host '{target}'")

MSH104 = Check(
    code="MSH104", severity=ERROR, istio_code="IST0101",
    title="Destination port not exposed by the destination service",
    reads=("VirtualService", "Service", "ServiceEntry"), target_kind="host",
    sql="""
        SELECT d.vs_id AS object_id, d.path || '.port.number' AS path, d.port, d.host AS target,
               (SELECT ' (exposed ports: ' || group_concat(DISTINCT p.number) || ')'
                FROM destination_target t JOIN port p ON p.object_id = t.target_id
                WHERE t.destination_id = d.id) AS hint
        FROM destination d
        WHERE d.port IS NOT NULL
          AND EXISTS (SELECT 1 FROM destination_target t JOIN port p ON p.object_id = t.target_id
                      WHERE t.destination_id = d.id)
          AND NOT EXISTS (SELECT 1 FROM destination_target t JOIN port p ON p.object_id = t.target_id
                          WHERE t.destination_id = d.id AND p.number = d.port)""",
    message="{path} {port} is not a port of '{target}'")

MSH105 = Check(
    code="MSH105", severity=ERROR, istio_code="IST0112",
    title="Destination port missing while the service exposes several ports",
    reads=("VirtualService", "Gateway", "Service", "ServiceEntry"), target_kind="host",
    # Istio needs the port only where no request port selects it: routes bound to a gateway.
    sql="""
        SELECT object_id, path, target, ports FROM (
            SELECT d.vs_id AS object_id, d.path || '.port' AS path, d.host AS target,
                   (SELECT group_concat(DISTINCT p.number) FROM destination_target t
                    JOIN port p ON p.object_id = t.target_id WHERE t.destination_id = d.id) AS ports,
                   (SELECT count(DISTINCT p.number) FROM destination_target t
                    JOIN port p ON p.object_id = t.target_id WHERE t.destination_id = d.id) AS port_count
            FROM destination d
            WHERE d.port IS NULL
              AND EXISTS (SELECT 1 FROM vs_gateway g WHERE g.vs_id = d.vs_id AND g.binds = 1
                          AND g.gateway_key IS NOT NULL))
        WHERE port_count > 1""",
    message="{path} is not set, but '{target}' exposes several ports ({ports}) and the route is bound to a gateway")

MSH106 = Check(
    code="MSH106", severity=WARNING, istio_code="IST0174", kiali_code="KIA0202",
    title="DestinationRule host matches no Service or ServiceEntry",
    reads=("DestinationRule", "Service", "ServiceEntry"), target_kind="host",
    sql="""
        SELECT r.object_id, 'spec.host' AS path, r.raw_host, r.host AS target,
               (SELECT ' (did you mean ''' || near || '''?)' FROM (SELECT """ + _near_host("r.host") + """ AS near)
                WHERE near IS NOT NULL) AS hint
        FROM destination_rule r
        WHERE NOT """ + _registry_covers("r.host"),
    message="{path} '{raw_host}' resolves to '{target}', which matches no Service or ServiceEntry (orphaned DestinationRule)")

MSH107 = Check(
    code="MSH107", severity=WARNING, istio_code="IST0132",
    title="VirtualService host is not among the hosts its Gateway serves",
    reads=("VirtualService", "Gateway"),
    sql="""
        SELECT h.vs_id AS object_id, 'spec.hosts[' || h.idx || ']' AS path, h.host, g.gateway_key AS target,
               gw.object_id AS related_id, 'spec.servers' AS related_path
        FROM vs_gateway g
        JOIN gateway gw ON gw.ref_key = g.gateway_key
        JOIN vs_host h ON h.vs_id = g.vs_id
        JOIN object v ON v.id = g.vs_id
        WHERE g.binds = 1
          AND NOT EXISTS (  -- a server host equal to the VS host, or a wildcard covering it
              SELECT 1 FROM host_key k
              JOIN server_host sh ON sh.host = k.key
              JOIN gateway_server s ON s.id = sh.server_id
              WHERE k.host = h.host AND s.gateway_id = gw.object_id AND sh.scope IN ('*', v.namespace))
          AND NOT EXISTS (  -- the VS host is a wildcard covering a server host
              SELECT 1 FROM host_key k
              JOIN server_host sh ON sh.host = k.host
              JOIN gateway_server s ON s.id = sh.server_id
              WHERE k.key = h.host AND s.gateway_id = gw.object_id AND sh.scope IN ('*', v.namespace))""",
    message="{path} '{host}' is not served by Gateway '{target}' (no server host matches it for this namespace)")

MSH108 = Check(
    code="MSH108", severity=ERROR,
    title="Orphaned VirtualService: every route destination is missing",
    reads=("VirtualService", "Service", "ServiceEntry"),
    sql="""
        SELECT d.vs_id AS object_id, 'spec' AS path, count(*) AS destinations
        FROM destination d
        WHERE d.role = 'route'
        GROUP BY d.vs_id
        HAVING max(""" + _RESOLVED + """) = 0""",
    message="{path}: all {destinations} route destination(s) are missing from the registry: the VirtualService routes nowhere")

MSH109 = Check(
    code="MSH109", severity=ERROR, istio_code="IST0101",
    title="Gateway TLS credentialName names a Secret that does not exist",
    reads=("Gateway", "Secret"), requires=("Secret",),
    sql="""
        SELECT o.id AS object_id, c.path, c.secret
        FROM server_credential c
        JOIN gateway_server s ON s.id = c.server_id
        JOIN object o ON o.id = s.gateway_id
        WHERE NOT EXISTS (
            SELECT 1 FROM secret x WHERE x.name = c.secret
              AND (x.namespace = o.namespace
                   OR x.namespace IN (SELECT w.namespace FROM selection sel JOIN workload w ON w.id = sel.workload_id
                                      WHERE sel.object_id = o.id)))""",
    message="{path} '{secret}' names a Secret that exists neither in the Gateway's namespace nor in its workloads' namespaces")

MSH201 = Check(
    code="MSH201", severity=ERROR, istio_code="IST0145", kiali_code="KIA0301",
    title="Two Gateway servers with the same selector and port claim the same host",
    reads=("Gateway",),
    sql="""
        WITH claim AS (
            SELECT gw.object_id, o.created, gw.selector, s.id AS server_id, s.idx AS server_idx, s.port,
                   sh.host, min(sh.idx) AS host_idx
            FROM gateway gw
            JOIN object o ON o.id = gw.object_id
            JOIN gateway_server s ON s.gateway_id = gw.object_id
            JOIN server_host sh ON sh.server_id = s.id
            WHERE s.port IS NOT NULL
            GROUP BY s.id, sh.host)
        SELECT x.object_id, x.path, x.host, x.port, a.object_id AS related_id,
               'spec.servers[' || a.server_idx || '].hosts[' || a.host_idx || ']' AS related_path
        FROM (
            SELECT b.object_id, 'spec.servers[' || b.server_idx || '].hosts[' || b.host_idx || ']' AS path,
                   b.host, b.port, b.selector,
                   (SELECT a.server_id FROM claim a
                    WHERE a.selector = b.selector AND a.port = b.port AND a.host = b.host
                      AND (a.created, a.object_id, a.server_idx) < (b.created, b.object_id, b.server_idx)
                    ORDER BY a.created, a.object_id, a.server_idx LIMIT 1) AS related_server
            FROM claim b) x
        JOIN claim a ON a.server_id = x.related_server AND a.host = x.host""",
    message="{path} claims host '{host}' on port {port}, already claimed by an older Gateway server with the same selector")

MSH202 = Check(
    code="MSH202", severity=ERROR, istio_code="IST0109", kiali_code="KIA1106",
    title="Two VirtualServices bound to the same gateway claim the same host",
    reads=("VirtualService",),
    sql="""
        SELECT object_id, path, host, target, related_id, 'spec.hosts' AS related_path FROM (
            SELECT b.vs_id AS object_id, 'spec.hosts[' || b.host_idx || ']' AS path, b.host, b.gateway AS target,
                   (SELECT a.vs_id FROM vs_binding a
                    WHERE a.gateway = b.gateway AND a.host = b.host AND (a.created, a.vs_id) < (b.created, b.vs_id)
                      AND """ + _exports_intersect("a.vs_id", "b.vs_id") + """
                    ORDER BY a.created, a.vs_id LIMIT 1) AS related_id
            FROM vs_binding b)
        WHERE related_id IS NOT NULL""",
    message="{path} '{host}' on gateway '{target}' is already claimed by an older VirtualService")

MSH203 = Check(
    code="MSH203", severity=WARNING, kiali_code="KIA0201",
    title="Several DestinationRules for the same host and overlapping subsets",
    # Istio picks a DestinationRule by namespace (client's, service's, root): rules collide within one.
    reads=("DestinationRule",),
    sql="""
        SELECT object_id, path, host, related_id, 'spec.host' AS related_path FROM (
            SELECT b.object_id, 'spec.host' AS path, b.host,
                   (SELECT a.object_id FROM destination_rule a JOIN object ao ON ao.id = a.object_id
                    WHERE a.host = b.host AND ao.namespace = bo.namespace
                      AND (ao.created, a.object_id) < (bo.created, b.object_id)
                      AND """ + _exports_intersect("a.object_id", "b.object_id") + """
                      AND (NOT EXISTS (SELECT 1 FROM dr_subset s WHERE s.dr_id = a.object_id)
                           OR NOT EXISTS (SELECT 1 FROM dr_subset s WHERE s.dr_id = b.object_id)
                           OR EXISTS (SELECT 1 FROM dr_subset sa JOIN dr_subset sb ON sb.name = sa.name
                                      WHERE sa.dr_id = a.object_id AND sb.dr_id = b.object_id))
                    ORDER BY ao.created, a.object_id LIMIT 1) AS related_id
            FROM destination_rule b JOIN object bo ON bo.id = b.object_id)
        WHERE related_id IS NOT NULL""",
    message="{path} '{host}' is also configured by an older DestinationRule with overlapping subsets")

MSH204 = Check(
    code="MSH204", severity=WARNING, istio_code="IST0177", kiali_code="KIA1211",
    title="Several ServiceEntries for the same host and port",
    reads=("ServiceEntry",),
    sql="""
        WITH entry AS (
            SELECT r.object_id, r.idx, r.host, p.number, p.protocol, o.created
            FROM registry r
            JOIN object o ON o.id = r.object_id AND o.kind = 'ServiceEntry'
            JOIN port p ON p.object_id = r.object_id)
        SELECT x.object_id, x.path, x.host, x.number, x.related_id, 'spec.hosts' AS related_path,
               CASE WHEN a.protocol <> x.protocol THEN 'error' ELSE 'warning' END AS severity,
               CASE WHEN a.protocol <> x.protocol
                    THEN ' with a different protocol (' || a.protocol || ' vs ' || x.protocol || ')' END AS hint
        FROM (
            SELECT b.object_id, 'spec.hosts[' || b.idx || ']' AS path, b.host, b.number, b.protocol,
                   (SELECT a.object_id FROM entry a WHERE a.host = b.host AND a.number = b.number
                      AND (a.created, a.object_id) < (b.created, b.object_id)
                      AND """ + _exports_intersect("a.object_id", "b.object_id") + """
                    ORDER BY a.created, a.object_id LIMIT 1) AS related_id
            FROM entry b) x
        JOIN entry a ON a.object_id = x.related_id AND a.host = x.host AND a.number = x.number""",
    message="{path} '{host}' port {number} is also defined by an older ServiceEntry")

MSH205 = Check(
    code="MSH205", severity=ERROR, istio_code="IST0116",
    title="Service port conflict",
    reads=("Service", "Pod"),
    sql="""
        SELECT p.object_id, 'spec.ports[' || p.idx || ']' AS path,
               'duplicates spec.ports[' || q.idx || '] (' ||
               CASE WHEN q.name = p.name THEN 'name ''' || p.name || ''''
                    ELSE 'port ' || p.number || '/' || p.protocol END || ')' AS conflict,
               NULL AS related_id, NULL AS related_path
        FROM port p
        JOIN service sv ON sv.object_id = p.object_id
        JOIN port q ON q.object_id = p.object_id AND q.idx = (
            SELECT min(x.idx) FROM port x WHERE x.object_id = p.object_id AND x.idx < p.idx
              AND (x.name = p.name OR (x.number = p.number AND x.protocol = p.protocol)))
        UNION ALL
        SELECT b.object_id, 'spec.ports[' || pb.idx || ']' AS path,
               'port ' || pb.number || ' is ' || coalesce(pb.app_protocol, pb.name_protocol) || ' here but '
               || coalesce(pa.app_protocol, pa.name_protocol) || ' in an older Service selecting the same workloads'
               AS conflict, a.object_id AS related_id, 'spec.ports[' || pa.idx || ']' AS related_path
        FROM (
            SELECT a.object_id AS a_id, b.object_id AS b_id FROM service a
            JOIN service b ON b.namespace = a.namespace AND b.selector = a.selector AND b.object_id > a.object_id
            WHERE a.selector <> ''
            UNION
            SELECT sa.object_id, sb.object_id FROM selection sa
            JOIN selection sb ON sb.workload_id = sa.workload_id AND sb.object_id > sa.object_id
            JOIN service x ON x.object_id = sa.object_id JOIN service y ON y.object_id = sb.object_id
        ) pair
        JOIN service a ON a.object_id = pair.a_id
        JOIN service b ON b.object_id = pair.b_id
        JOIN port pa ON pa.object_id = a.object_id
        JOIN port pb ON pb.object_id = b.object_id AND pb.number = pa.number
        WHERE coalesce(pa.app_protocol, pa.name_protocol) <> coalesce(pb.app_protocol, pb.name_protocol)""",
    message="{path} {conflict}")

MSH301 = Check(
    code="MSH301", severity=WARNING, kiali_code="KIA1104",
    title="Route weights do not sum to 100",
    reads=("VirtualService",),
    sql="""
        SELECT r.vs_id AS object_id, 'spec.' || r.protocol || '[' || r.idx || '].route' AS path,
               count(*) AS destinations, sum(coalesce(d.weight, 0)) AS total
        FROM route r JOIN destination d ON d.route_id = r.id AND d.role = 'route'
        GROUP BY r.id
        HAVING (count(*) > 1 AND sum(coalesce(d.weight, 0)) <> 100)
            OR (count(*) = 1 AND max(d.weight) IS NOT NULL AND max(d.weight) < 100)""",
    message="{path} weights of {destinations} destination(s) sum to {total}, not 100")

MSH302 = Check(
    code="MSH302", severity=WARNING, kiali_code="KIA1105",
    title="Same host and subset repeated inside one route",
    reads=("VirtualService",),
    sql="""
        SELECT d.vs_id AS object_id, d.path AS path, d.raw_host, coalesce(d.subset, '') AS subset
        FROM destination d
        WHERE d.role = 'route' AND EXISTS (
            SELECT 1 FROM destination e
            WHERE e.route_id = d.route_id AND e.role = 'route' AND e.id < d.id AND e.host = d.host
              AND coalesce(e.subset, '') = coalesce(d.subset, '') AND coalesce(e.port, 0) = coalesce(d.port, 0))""",
    message="{path} repeats host '{raw_host}' subset '{subset}' already listed in the same route")

MSH303 = Check(
    code="MSH303", severity=WARNING, istio_code="IST0130",
    title="Rule unreachable after a match-all rule",
    reads=("VirtualService",),
    sql="""
        SELECT object_id, path, protocol, shadowed_by FROM (
            SELECT r.vs_id AS object_id, 'spec.' || r.protocol || '[' || r.idx || ']' AS path, r.protocol,
                   (SELECT min(c.idx) FROM route c WHERE c.vs_id = r.vs_id AND c.protocol = r.protocol
                    AND c.match_all = 1 AND c.idx < r.idx) AS shadowed_by
            FROM route r)
        WHERE shadowed_by IS NOT NULL""",
    message="{path} is unreachable: spec.{protocol}[{shadowed_by}] before it matches every request")

MSH401 = Check(
    code="MSH401", severity=ERROR, istio_code="IST0101", kiali_code="KIA0302",
    title="Gateway selector matches no gateway workload",
    reads=("Gateway", "Pod"), requires=(WORKLOADS,),
    sql="""
        SELECT gw.object_id, 'spec.selector' AS path, gw.selector
        FROM gateway gw
        WHERE gw.selector <> '' AND NOT EXISTS (SELECT 1 FROM selection s WHERE s.object_id = gw.object_id)""",
    message="{path} '{selector}' matches no gateway workload in any namespace")

MSH402 = Check(
    code="MSH402", severity=WARNING, istio_code="IST0173", kiali_code="KIA0203",
    title="DestinationRule subset labels select no workload of the host's service",
    reads=("DestinationRule", "Service", "Pod"), requires=(WORKLOADS,),
    sql="""
        SELECT dr.object_id, 'spec.subsets[' || s.idx || '].labels' AS path, s.name AS subset, dr.host AS target,
               CASE WHEN EXISTS (SELECT 1 FROM destination d WHERE d.host = dr.host AND d.subset = s.name)
                    THEN 'error' ELSE 'warning' END AS severity,
               CASE WHEN EXISTS (SELECT 1 FROM destination d WHERE d.host = dr.host AND d.subset = s.name)
                    THEN ' and routes send traffic to it' END AS hint
        FROM destination_rule dr
        JOIN dr_subset s ON s.dr_id = dr.object_id
        JOIN registry g ON g.host = dr.host
        JOIN service sv ON sv.object_id = g.object_id AND sv.selector <> ''
        WHERE EXISTS (SELECT 1 FROM subset_label l WHERE l.subset_id = s.id)
          AND NOT EXISTS (
              SELECT 1 FROM selection sel
              JOIN workload_label wl ON wl.workload_id = sel.workload_id
              JOIN subset_label l ON l.subset_id = s.id AND l.key = wl.key AND l.value = wl.value
              WHERE sel.object_id = sv.object_id
              GROUP BY sel.workload_id
              HAVING count(*) = (SELECT count(*) FROM subset_label x WHERE x.subset_id = s.id))""",
    message="{path} of subset '{subset}' select no workload of '{target}'")

MSH403 = Check(
    code="MSH403", severity=WARNING, istio_code="IST0162",
    title="Gateway server port not exposed by the gateway workload's Service",
    reads=("Gateway", "Service", "Pod"), requires=(WORKLOADS,),
    sql="""
        SELECT gw.object_id, 'spec.servers[' || s.idx || '].port.number' AS path, s.port
        FROM gateway gw
        JOIN gateway_server s ON s.gateway_id = gw.object_id
        WHERE s.port IS NOT NULL
          AND EXISTS (SELECT 1 FROM selection x WHERE x.object_id = gw.object_id)
          AND NOT EXISTS (
              SELECT 1 FROM selection gsel
              JOIN selection ssel ON ssel.workload_id = gsel.workload_id
              JOIN service sv ON sv.object_id = ssel.object_id
              JOIN port p ON p.object_id = sv.object_id
              WHERE gsel.object_id = gw.object_id
                AND (p.number = s.port OR p.target_port = CAST(s.port AS TEXT)))""",
    message="{path} {port} is not exposed by any Service of the gateway workloads")

MSH501 = Check(
    code="MSH501", severity=INFO,
    title="Gateway that no VirtualService binds",
    reads=("Gateway", "VirtualService"),
    sql="""
        SELECT gw.object_id, 'metadata.name' AS path
        FROM gateway gw
        WHERE NOT EXISTS (SELECT 1 FROM vs_gateway g WHERE g.gateway_key = gw.ref_key)""",
    message="{path}: no VirtualService binds this Gateway")

MSH502 = Check(
    code="MSH502", severity=INFO, istio_code="IST0118", kiali_code="KIA0601",
    title="Service port name does not follow <protocol>[-suffix] and has no appProtocol",
    reads=("Service",),
    sql="""
        SELECT p.object_id, 'spec.ports[' || p.idx || '].name' AS path, coalesce(p.name, '') AS port_name
        FROM port p JOIN service sv ON sv.object_id = p.object_id
        WHERE p.app_protocol IS NULL AND p.name_protocol IS NULL""",
    message="{path} '{port_name}' does not name a protocol (<protocol>[-suffix]) and appProtocol is not set")

CATALOGUE: Tuple[Check, ...] = (
    MSH101, MSH102, MSH103, MSH104, MSH105, MSH106, MSH107, MSH108, MSH109,
    MSH201, MSH202, MSH203, MSH204, MSH205,
    MSH301, MSH302, MSH303,
    MSH401, MSH402, MSH403,
    MSH501, MSH502,
)
BY_CODE = {check.code: check for check in CATALOGUE}
