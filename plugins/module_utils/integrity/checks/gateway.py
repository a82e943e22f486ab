# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway checks: workloads, ports, server host clashes, credentials, certificates."""

from __future__ import annotations

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.checks.base import (
    ERROR, INFO, WARNING, WORKLOADS, Check)

_INGRESS = """
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec: {template: {metadata: {labels: {istio: ingressgateway}}}}
---
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {selector: {istio: ingressgateway}, ports: [{name: http2, port: 80, targetPort: 8080}]}
"""


def _gateway(name: str, port: int, hosts: str, tls: str = "") -> str:
    tls_field = ", tls: %s" % tls if tls else ""
    return """
---
kind: Gateway
metadata: {name: %s, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: %d, name: %s-%d, protocol: %s}, hosts: %s%s}]
""" % (name, port, "https" if tls else "http", port, "HTTPS" if tls else "HTTP", hosts, tls_field)


# The namespaces a Gateway's credentials are read from: those of the workloads it selects
# (Istio reads Secrets where the gateway runs), or its own when it selects none.
_CREDENTIAL_NAMESPACES = """(
    SELECT w.namespace FROM selection sel JOIN workload w ON w.id = sel.workload_id WHERE sel.object_id = o.id
    UNION SELECT o.namespace WHERE NOT EXISTS (SELECT 1 FROM selection sel WHERE sel.object_id = o.id))"""
_CREDENTIALS = """
        FROM server_credential c
        JOIN gateway_server s ON s.id = c.server_id
        JOIN object o ON o.id = s.gateway_id"""

MSH109 = Check(
    code="MSH109", severity=ERROR, istio_code="IST0101",
    title="Gateway TLS credentialName names a Secret that does not exist",
    reads=("Gateway", "Secret"), requires=("Secret",),
    resolution="The Secret is looked up where the gateway runs: the namespace of the workloads the selector picks "
               "(the Gateway's own namespace when it picks none). `kubernetes://` prefixes are dropped.",
    sql="""
        SELECT o.id AS object_id, c.path, c.secret""" + _CREDENTIALS + """
        WHERE NOT EXISTS (SELECT 1 FROM secret x WHERE x.name = c.secret
                          AND x.namespace IN """ + _CREDENTIAL_NAMESPACES + """)""",
    message="{path} '{secret}' names a Secret that does not exist where the gateway runs",
    examples=(_INGRESS + _gateway("tls", 8443, "[t.example.com]", "{mode: SIMPLE, credentialName: gone}") + """---
kind: Secret
metadata: {name: gone, namespace: default}
""", _INGRESS + _gateway("tls", 8443, "[t.example.com]", "{mode: SIMPLE, credentialName: cert}") + """---
kind: Secret
metadata: {name: cert, namespace: istio-system}
"""))

MSH603 = Check(
    code="MSH603", severity=ERROR, istio_code="IST0161",
    title="Gateway TLS credential is not a usable certificate",
    reads=("Gateway", "Secret"), requires=("Secret",),
    resolution="Where the Secret's data is known (manifest files; live listing reads Secret names only): it must "
               "hold tls.crt and tls.key (or cert and key), and the certificate must parse, be valid already "
               "and not be expired. Only the verdict is kept, never the data.",
    sql="""
        SELECT o.id AS object_id, c.path, c.secret, x.problem""" + _CREDENTIALS + """
        JOIN secret x ON x.name = c.secret AND x.namespace IN """ + _CREDENTIAL_NAMESPACES + """
        WHERE x.problem IS NOT NULL""",
    message="{path} '{secret}' is not a usable credential: it {problem}",
    examples=(_INGRESS + _gateway("tls", 8443, "[t.example.com]", "{mode: SIMPLE, credentialName: cert}") + """---
kind: Secret
metadata: {name: cert, namespace: istio-system}
data: {ca.pem: ""}
""", _INGRESS + _gateway("tls", 8443, "[t.example.com]", "{mode: SIMPLE, credentialName: cert}") + """---
kind: Secret
metadata: {name: cert, namespace: istio-system}
"""))

# Pairs of server hosts on one port: the same host (case-insensitive; Istio and Kiali compare names, not
# wildcard coverage), or a bare "*" on either side (Kiali), whose namespace scopes (ns/host) can meet.
_SERVER_HOST_PAIRS = """
            SELECT bs.gateway_id AS b_id, bs.idx AS server_idx, bh.idx AS host_idx, bh.raw, bs.port,
                   ase.gateway_id AS a_id, ase.idx AS a_server, ah.idx AS a_host, ah.host = bh.host AS same_host
            FROM server_host bh JOIN gateway_server bs ON bs.id = bh.server_id
            JOIN server_host ah ON {join}
            JOIN gateway_server ase ON ase.id = ah.server_id AND ase.port = bs.port
            WHERE ah.rowid <> bh.rowid AND (ah.scope = bh.scope OR ah.scope = '*' OR bh.scope = '*'){where}"""
# One Gateway's selector is contained in the other's (an empty one in every one): they can select the same pods.
_NESTED_SELECTORS = """(
    NOT EXISTS (SELECT 1 FROM object_selector x WHERE x.object_id = pair.a_id AND NOT EXISTS (
        SELECT 1 FROM object_selector y WHERE y.object_id = pair.b_id AND y.key = x.key AND y.value = x.value))
    OR NOT EXISTS (SELECT 1 FROM object_selector x WHERE x.object_id = pair.b_id AND NOT EXISTS (
        SELECT 1 FROM object_selector y WHERE y.object_id = pair.a_id AND y.key = x.key AND y.value = x.value)))"""

MSH201 = Check(
    code="MSH201", severity=ERROR, istio_code="IST0145", kiali_code="KIA0301",
    title="Gateway servers on the same port and selector claim the same host",
    reads=("Gateway",),
    resolution="Server hosts on one port number compare by name (`ns/host` scopes must be able to meet), as both "
               "tools compare them: Istio (IST0145) between different Gateways whose selectors are nested (one "
               "contains the other); Kiali (KIA0301) between servers of equal selectors, also within one Gateway "
               "and with a bare `*` matching every host. Every party is reported, naming the others; a repair "
               "removes the host from the newer Gateways, or drops the repetition within one.",
    sql="""
        SELECT object_id, path, host, port, related_ids, repair_target,
               CASE WHEN istio THEN NULL ELSE '' END AS istio_code, CASE WHEN kiali THEN NULL ELSE '' END AS kiali_code
        FROM (
            SELECT pair.b_id AS object_id,
                   'spec.servers[' || pair.server_idx || '].hosts[' || pair.host_idx || ']' AS path,
                   pair.raw AS host, pair.port,
                   group_concat(DISTINCT CASE WHEN pair.a_id <> pair.b_id THEN pair.a_id END) AS related_ids,
                   max(CASE WHEN pair.a_id = pair.b_id
                            THEN pair.a_server < pair.server_idx
                                 OR (pair.a_server = pair.server_idx AND pair.a_host < pair.host_idx)
                            ELSE oa.created < ob.created OR (oa.created = ob.created AND pair.a_id < pair.b_id) END)
                       AS repair_target,
                   max(pair.same_host AND pair.a_id <> pair.b_id AND """ + _NESTED_SELECTORS + """) AS istio,
                   max(ga.selector = gb.selector) AS kiali
            FROM (""" + _SERVER_HOST_PAIRS.format(join="ah.host = bh.host", where="") + """
                UNION ALL""" + _SERVER_HOST_PAIRS.format(join="ah.host = '*'", where=" AND bh.host <> '*'") + """
                UNION ALL""" + _SERVER_HOST_PAIRS.format(join="ah.host <> '*'", where=" AND bh.host = '*'") + """) pair
            JOIN gateway ga ON ga.object_id = pair.a_id
            JOIN gateway gb ON gb.object_id = pair.b_id
            JOIN object oa ON oa.id = pair.a_id
            JOIN object ob ON ob.id = pair.b_id
            GROUP BY pair.b_id, pair.server_idx, pair.host_idx)
        WHERE istio OR kiali""",
    message="{path} '{host}' on port {port} is also claimed by another server the same gateway pods serve",
    examples=(_gateway("a", 8080, "[a.example.com]") + _gateway("b", 8080, '["a.example.com"]'),
              _gateway("a", 8080, "[a.example.com]") + _gateway("b", 8080, '["*.example.com"]')))

MSH604 = Check(
    code="MSH604", severity=WARNING, istio_code="IST0138",
    title="Gateways share a certificate",
    reads=("Gateway",),
    resolution="As Istio compares them: a Gateway whose selector is contained in another Gateway's selector (an "
               "empty selector in every one) and a TLS server with the same credentialName, or the same "
               "serverCertificate and privateKey files. Clients reusing HTTP/2 connections may get 404s.",
    sql="""
        SELECT a.object_id, 'spec.servers[' || sa.idx || '].tls' AS path, group_concat(DISTINCT b.object_id) AS related_ids
        FROM gateway a
        JOIN gateway_server sa ON sa.gateway_id = a.object_id AND sa.certificate IS NOT NULL
        JOIN gateway_server sb ON sb.certificate = sa.certificate AND sb.gateway_id <> a.object_id
        JOIN gateway b ON b.object_id = sb.gateway_id
        WHERE NOT EXISTS (SELECT 1 FROM object_selector x WHERE x.object_id = a.object_id AND NOT EXISTS (
                              SELECT 1 FROM object_selector y
                              WHERE y.object_id = b.object_id AND y.key = x.key AND y.value = x.value))
        GROUP BY a.object_id, sa.idx""",
    message="{path} presents the same certificate as another Gateway: clients reusing HTTP/2 connections may get 404s",
    examples=(_gateway("a", 8443, "[a.example.com]", "{mode: SIMPLE, credentialName: shared}")
              + _gateway("b", 8443, "[b.example.com]", "{mode: SIMPLE, credentialName: shared}"),
              _gateway("a", 8443, "[a.example.com]", "{mode: SIMPLE, credentialName: a-cert}")
              + _gateway("b", 8443, "[b.example.com]", "{mode: SIMPLE, credentialName: b-cert}")))

MSH401 = Check(
    code="MSH401", severity=ERROR, istio_code="IST0101", kiali_code="KIA0302",
    title="Gateway selector matches no gateway workload",
    reads=("Gateway", "Pod"), requires=(WORKLOADS,),
    resolution="Workloads (Pods, or pod templates from files) in any namespace whose labels include the selector. "
               "Checking files, Istio's default ingress gateway (`istio: ingressgateway` in the control-plane "
               "namespace) is assumed to exist unless the files bring one.",
    sql="""
        SELECT gw.object_id, 'spec.selector' AS path, gw.selector
        FROM gateway gw
        WHERE gw.selector <> '' AND NOT EXISTS (SELECT 1 FROM selection s WHERE s.object_id = gw.object_id)""",
    message="{path} '{selector}' matches no gateway workload in any namespace",
    examples=(_INGRESS + """
---
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec: {selector: {istio: missing}, servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: [z.example.com]}]}
""", _INGRESS + _gateway("gw", 8080, "[z.example.com]")))

# Services (from the sources, not assumed) selecting a workload the Gateway selects.
_GATEWAY_SERVICES = """
              SELECT 1 FROM selection gsel
              JOIN selection ssel ON ssel.workload_id = gsel.workload_id
              JOIN service sv ON sv.object_id = ssel.object_id
              WHERE gsel.object_id = gw.object_id AND sv.object_id NOT IN (SELECT object_id FROM assumed)"""

MSH403 = Check(
    code="MSH403", severity=WARNING, istio_code="IST0162",
    title="Gateway listens on a port no Service of its workloads exposes",
    reads=("Gateway", "Service", "Pod"), requires=(WORKLOADS,), offline_requires=(),
    resolution="As Istio decides it since the fix of istio/istio#51257 (a false positive on Service ports): a "
               "server port must equal a `port` or a numeric `targetPort` of a TCP port of a Service that selects "
               "the gateway's workloads. Checking files, a gateway whose Service is not among them (Istio's assumed "
               "default ingress gateway included: installs change its ports) is not judged but counted in "
               "`summary.unverifiable_references`, unless the option `gateway_ports` names that Service's ports. "
               "Live, a gateway without a Service gets a finding for every port, as Istio gives it.",
    sql="""
        SELECT gw.object_id, 'spec.servers[' || s.idx || '].port.number' AS path, s.port, gw.selector,
               NOT :live AND NOT EXISTS (""" + _GATEWAY_SERVICES + """) AS unverifiable
        FROM gateway gw
        JOIN gateway_server s ON s.gateway_id = gw.object_id
        WHERE s.port IS NOT NULL
          AND EXISTS (SELECT 1 FROM selection x WHERE x.object_id = gw.object_id)
          AND NOT EXISTS (""" + _GATEWAY_SERVICES + """
                AND EXISTS (SELECT 1 FROM port p WHERE p.object_id = sv.object_id AND p.protocol = 'TCP'
                            AND (p.number = s.port OR (p.target_port GLOB '[0-9]*'
                                                       AND CAST(p.target_port AS INTEGER) = s.port))))""",
    differs="Follows the fix of istio/istio#51257 (a Service port was a false positive before it). Checking files, "
            "`istioctl analyze` skips this analyzer altogether (it reads Pods); we judge the workloads the files "
            "describe and count, rather than report, the gateways whose Service the files lack: an Istio install's "
            "ingress Service ports vary (tcp-echo's 31400), so a guess would call Istio's own samples broken.",
    message="{path} {port} is neither a port nor a target port of any Service of the gateway workloads ({selector})",
    examples=(_INGRESS + _gateway("gw", 8443, "[a.example.com]"),
              _INGRESS + _gateway("gw", 80, "[a.example.com]") + _gateway("gw-target", 8080, "[b.example.com]")))

MSH501 = Check(
    code="MSH501", severity=INFO,
    title="Gateway that no VirtualService binds",
    reads=("Gateway", "VirtualService"),
    resolution="No `spec.gateways[]` nor match gateway of any VirtualService resolves to it (our check).",
    sql="""
        SELECT gw.object_id, 'metadata.name' AS path
        FROM gateway gw
        WHERE NOT EXISTS (SELECT 1 FROM vs_gateway g WHERE g.gateway_key = gw.ref_key)""",
    message="{path}: no VirtualService binds this Gateway",
    examples=(_gateway("unused", 8080, "[u.example.com]"), _gateway("used", 8080, "[u.example.com]") + """---
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [u.example.com]
  http: [{match: [{gateways: [istio-system/used]}], route: [{destination: {host: u.example.com}}]}]
"""))

# The server protocols whose port names Kiali checks (others are left alone, as Kiali leaves them).
_NAMED_PROTOCOLS = "'GRPC', 'GRPC-WEB', 'HTTP', 'HTTP2', 'HTTPS', 'MONGO', 'MYSQL', 'REDIS', 'TCP', 'TLS', 'UDP'"

MSH509 = Check(
    code="MSH509", severity=WARNING, kiali_code="KIA0601",
    title="Gateway server port name does not start with its protocol",
    reads=("Gateway",),
    resolution="As Kiali reads a server port: its name must be the protocol (lower case) or `<protocol>-suffix`.",
    sql="""
        SELECT s.gateway_id AS object_id, 'spec.servers[' || s.idx || '].port.name' AS path,
               coalesce(s.port_name, '') AS port_name, lower(s.protocol) AS protocol
        FROM gateway_server s
        WHERE s.protocol IN (""" + _NAMED_PROTOCOLS + """)
          AND NOT (lower(coalesce(s.port_name, '')) = lower(s.protocol)
                   OR substr(lower(coalesce(s.port_name, '')), 1, length(s.protocol) + 1) = lower(s.protocol) || '-')""",
    message="{path} '{port_name}' should be '{protocol}' or '{protocol}-<suffix>'",
    examples=(_gateway("gw", 8080, "[a.example.com]").replace("name: http-8080", "name: web"),
              _gateway("gw", 8080, "[a.example.com]")))

CHECKS = (MSH109, MSH201, MSH401, MSH403, MSH501, MSH509, MSH603, MSH604)
