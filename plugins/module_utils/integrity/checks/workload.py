# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service and workload checks: port names, port clashes, Services and the Deployments they select."""

from __future__ import annotations

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.checks.base import (
    ERROR, INFO, WARNING, WORKLOADS, Check)


def _deployment(labels: str = "{app: web}", ports: str = "[]", namespace_labels: str = "{istio-injection: enabled}") -> str:
    return """
kind: Namespace
metadata: {name: shop, labels: %s}
---
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: {metadata: {labels: %s}, spec: {containers: [{name: web, image: web, ports: %s}]}}}
""" % (namespace_labels, labels, ports)


def _service(name: str, ports: str, namespace: str = "shop", extra: str = "") -> str:
    return """
---
kind: Service
metadata: {name: %s, namespace: %s}
spec: {selector: {app: web}, ports: %s%s}
""" % (name, namespace, ports, extra)


# A workload is in the mesh when it runs the proxy, its pods ask for injection, or its namespace enables it
# (as Istio's analyzers decide). Files that declare no Namespace at all say nothing either way: theirs count.
_IN_MESH = """(w.proxied = 1 OR w.injection = 1 OR (w.injection IS NULL AND (
    EXISTS (SELECT 1 FROM namespace_info n WHERE n.name = w.namespace AND n.injection = 1)
    OR NOT EXISTS (SELECT 1 FROM namespace_info))))"""
# The Services of a Deployment's namespace whose (non-empty) selector its pod template matches.
_SELECTING = """
        FROM workload w
        JOIN selection sel ON sel.workload_id = w.id
        JOIN service sv ON sv.object_id = sel.object_id AND sv.selector <> ''
        JOIN port p ON p.object_id = sv.object_id
        WHERE w.kind = 'Deployment' AND """ + _IN_MESH

MSH205 = Check(
    code="MSH205", severity=ERROR,
    title="Service repeats a port number or name",
    reads=("Service",),
    resolution="Within one Service: two ports with the same name, or the same number and protocol (our check; the "
               "API server refuses most of these, manifests in files may still carry them).",
    sql="""
        SELECT p.object_id, 'spec.ports[' || p.idx || ']' AS path,
               'duplicates spec.ports[' || q.idx || '] (' ||
               CASE WHEN q.name = p.name THEN 'name ''' || p.name || ''''
                    ELSE 'port ' || p.number || '/' || p.protocol END || ')' AS conflict
        FROM port p
        JOIN service sv ON sv.object_id = p.object_id
        JOIN port q ON q.object_id = p.object_id AND q.idx = (
            SELECT min(x.idx) FROM port x WHERE x.object_id = p.object_id AND x.idx < p.idx
              AND (x.name = p.name OR (x.number = p.number AND x.protocol = p.protocol)))""",
    message="{path} {conflict}",
    examples=(_service("dup", "[{name: http, port: 80}, {name: http, port: 81}]", "default"),
              _service("dns", "[{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53}]", "default")))

MSH209 = Check(
    code="MSH209", severity=WARNING, istio_code="IST0116",
    title="Services selecting one Deployment use a port with different protocols",
    reads=("Deployment", "Service", "Namespace"), requires=("Deployment",), skips_system_namespaces=True,
    resolution="For a Deployment in the mesh (injection asked by its pods or its namespace), the Services of its "
               "namespace whose selector its pod template matches: a port number they expose with different "
               "protocols (TCP, UDP, SCTP). Reported on the Deployment, naming the Services.",
    sql="""
        SELECT object_id, 'spec.template.metadata.labels' AS path, group_concat(detail, '; ') AS conflicts,
               group_concat(services) AS related_ids
        FROM (SELECT w.id AS object_id, 'port ' || p.number || ' is ' || group_concat(DISTINCT p.protocol) AS detail,
                     group_concat(DISTINCT sv.object_id) AS services""" + _SELECTING + """
              GROUP BY w.id, p.number HAVING count(DISTINCT p.protocol) > 1)
        GROUP BY object_id""",
    message="{path}: the Services selecting this Deployment disagree on protocols ({conflicts})",
    examples=(_deployment() + _service("web", "[{name: http, port: 80}]") + _service("web-udp", "[{name: udp, port: 80, protocol: UDP}]"),
              _deployment(namespace_labels="{istio-injection: disabled}") + _service("web", "[{name: http, port: 80}]")
              + _service("web-udp", "[{name: udp, port: 80, protocol: UDP}]")))

MSH210 = Check(
    code="MSH210", severity=WARNING, istio_code="IST0137",
    title="Services selecting one Deployment map one target port from different ports",
    reads=("Deployment", "Service", "Namespace"), requires=("Deployment",), skips_system_namespaces=True,
    resolution="As for MSH209: a target port (numeric or named; `port` when unset) that the Services reach from "
               "more than one port number. Reported on the Deployment, naming the Services.",
    sql="""
        SELECT object_id, 'spec.template.metadata.labels' AS path, group_concat(detail, '; ') AS conflicts,
               group_concat(services) AS related_ids
        FROM (SELECT w.id AS object_id,
                     'target port ' || coalesce(p.target_port, p.number) || ' from ports '
                     || group_concat(DISTINCT p.number) AS detail,
                     group_concat(DISTINCT sv.object_id) AS services""" + _SELECTING + """
              GROUP BY w.id, coalesce(p.target_port, CAST(p.number AS TEXT)) HAVING count(DISTINCT p.number) > 1)
        GROUP BY object_id""",
    message="{path}: the Services selecting this Deployment reach one target port from different ports ({conflicts})",
    examples=(_deployment() + _service("web", "[{name: http, port: 80, targetPort: 8080}]")
              + _service("web-alt", "[{name: http, port: 8000, targetPort: 8080}]"),
              _deployment() + _service("web", "[{name: http, port: 80, targetPort: 8080}]")
              + _service("web-alt", "[{name: http, port: 80, targetPort: 8080}]")))

MSH406 = Check(
    code="MSH406", severity=WARNING, kiali_code="KIA0701",
    title="Service port not exposed by the workloads it selects",
    reads=("Service", "Deployment"), requires=("Deployment",), skips_system_namespaces=True,
    resolution="As Kiali checks it: a Service port whose target (`targetPort`, number or name, else `port`) is no "
               "container port of the Deployments the Service selects (Istio's own Services aside).",
    sql="""
        SELECT p.object_id, 'spec.ports[' || p.idx || ']' AS path, coalesce(p.target_port, p.number) AS target
        FROM service sv JOIN port p ON p.object_id = sv.object_id
        WHERE sv.selector <> '' AND sv.istio_managed = 0
          AND EXISTS (SELECT 1 FROM selection sel JOIN workload w ON w.id = sel.workload_id AND w.kind = 'Deployment'
                      WHERE sel.object_id = sv.object_id)
          AND NOT EXISTS (SELECT 1 FROM selection sel JOIN workload w ON w.id = sel.workload_id AND w.kind = 'Deployment'
                          JOIN workload_port wp ON wp.workload_id = sel.workload_id
                          WHERE sel.object_id = sv.object_id
                            AND (CAST(wp.number AS TEXT) = coalesce(p.target_port, CAST(p.number AS TEXT))
                                 OR wp.name = p.target_port))""",
    message="{path}: no workload the Service selects exposes its target port {target}",
    examples=(_deployment(ports="[{containerPort: 8080}]") + _service("web", "[{name: http, port: 80, targetPort: 9090}]"),
              _deployment(ports="[{containerPort: 8080, name: web}]") + _service("web", "[{name: http, port: 80, targetPort: web}]")))

# The appProtocol values Kiali accepts (KIA0602): exactly a protocol name, in any case.
_KIALI_APP_PROTOCOLS = "'grpc', 'grpc-web', 'http', 'http2', 'https', 'mongo', 'mysql', 'redis', 'tcp', 'tls', 'udp'"

MSH502 = Check(
    code="MSH502", severity=INFO, istio_code="IST0118", kiali_code="KIA0601",
    title="Service port name does not follow `<protocol>[-suffix]` and appProtocol names no protocol",
    reads=("Service",), skips_system_namespaces=True,
    resolution="Istio reads a port's protocol from `appProtocol` when set, else from the name's prefix (`http`, "
               "`http2`, `https`, `grpc`, `grpc-web`, `tcp`, `tls`, `udp`, `mongo`, `mysql`, `redis`, "
               "`http_proxy`); UDP ports are UDP. Istio's own Services (labelled `istio`, `istio.io/rev` or "
               "`gateway.istio.io/managed`) and ExternalName Services (MSH504) are not checked here. Kiali checks "
               "only Services whose workloads are in the mesh, and reports an `appProtocol` that is not exactly one "
               "of those protocols (in any case) as KIA0602, also one Istio reads (`kubernetes.io/h2c`, "
               "`http-web`): no IST0118 there.",
    sql="""
        SELECT p.object_id, 'spec.ports[' || p.idx || CASE WHEN p.app_protocol IS NULL THEN '].name'
                                                            ELSE '].appProtocol' END AS path,
               coalesce(p.app_protocol, p.name, '') AS port_name,
               CASE WHEN NOT EXISTS (SELECT 1 FROM selection sel JOIN workload w ON w.id = sel.workload_id
                                     WHERE sel.object_id = sv.object_id AND """ + _IN_MESH + """) THEN ''
                    WHEN p.app_protocol IS NOT NULL THEN 'KIA0602' END AS kiali_code,
               CASE WHEN p.name_protocol IS NOT NULL THEN '' END AS istio_code
        FROM port p JOIN service sv ON sv.object_id = p.object_id
        WHERE sv.type <> 'ExternalName' AND sv.istio_managed = 0 AND p.protocol <> 'UDP'
          AND (p.name_protocol IS NULL
               OR (p.app_protocol IS NOT NULL AND p.app_protocol NOT IN (""" + _KIALI_APP_PROTOCOLS + """)))""",
    message="{path} '{port_name}' does not name a protocol (a name <protocol>[-suffix], an appProtocol <protocol>)",
    examples=(_service("web", "[{name: web, port: 80}]", "default"),
              _service("web", "[{name: web, port: 80, appProtocol: http}]", "default")))

MSH504 = Check(
    code="MSH504", severity=WARNING, istio_code="IST0150", kiali_code="KIA0601",
    title="ExternalName Service port without a usable protocol name",
    reads=("Service",), skips_system_namespaces=True,
    resolution="For ExternalName Services, a port whose protocol Istio cannot read from name or appProtocol, or "
               "named `tcp`: the proxy may not forward its traffic. Kiali's KIA0601 applies to the unreadable names.",
    sql="""
        SELECT p.object_id, 'spec.ports[' || p.idx || '].name' AS path, coalesce(p.name, '') AS port_name,
               CASE WHEN p.name_protocol IS NOT NULL THEN '' END AS kiali_code
        FROM port p JOIN service sv ON sv.object_id = p.object_id
        WHERE sv.type = 'ExternalName' AND sv.istio_managed = 0
          AND (p.name_protocol IS NULL OR lower(p.name) = 'tcp')""",
    message="{path} '{port_name}' of an ExternalName Service: the proxy may not forward this port's traffic",
    examples=(_service("ext", "[{name: web, port: 80}]", "default", ", type: ExternalName, externalName: example.com"),
              _service("ext", "[{name: http, port: 80}]", "default", ", type: ExternalName, externalName: example.com")))

MSH407 = Check(
    code="MSH407", severity=WARNING, istio_code="IST0103",
    title="Pod in a namespace with sidecar injection runs without the Istio proxy",
    reads=("Pod", "Namespace"), requires=("Pod",), skips_system_namespaces=True,
    resolution="A Pod of a namespace labelled for injection (`istio-injection=enabled` or `istio.io/rev`) that has "
               "no `istio-proxy` container (listed live, no injector status annotation), unless it opts out "
               "(`sidecar.istio.io/inject: \"false\"`) or uses the host network. Restarting it usually injects it.",
    sql="""
        SELECT w.id AS object_id, 'spec.containers' AS path
        FROM workload w JOIN namespace_info n ON n.name = w.namespace AND n.injection = 1
        WHERE w.kind = 'Pod' AND w.proxied = 0 AND w.host_network = 0 AND coalesce(w.injection, 1) = 1""",
    message="{path}: the Pod runs without the Istio proxy although its namespace injects it; restart it",
    examples=(_deployment().split("---")[0] + """---
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web}]}
""", _deployment().split("---")[0] + """---
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web}, {name: istio-proxy, image: proxyv2}]}
"""))

_POLICY_KINDS = ("PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication")
# A policy's selector matches a workload of its namespace, or of any namespace for a policy in the root namespace.
_POLICY_SELECTS = """EXISTS (SELECT 1 FROM workload w WHERE (w.namespace = o.namespace OR o.namespace = :root_namespace)
    AND NOT EXISTS (SELECT 1 FROM {table} s WHERE s.object_id = o.id AND NOT EXISTS (
        SELECT 1 FROM workload_label wl WHERE wl.workload_id = w.id AND wl.key = s.key AND wl.value = s.value)))"""


def _policy(kind: str, app: str) -> str:
    return """
---
apiVersion: security.istio.io/v1
kind: %s
metadata: {name: %s-web, namespace: shop}
spec: {selector: {matchLabels: {app: %s}}}
""" % (kind, kind.lower(), app)


MSH408 = Check(
    code="MSH408", severity=WARNING, kiali_code="KIA0004",
    title="Security policy's workload selector matches no workload",
    reads=_POLICY_KINDS + ("Pod", "Deployment"), requires=(WORKLOADS,),
    resolution="A PeerAuthentication, AuthorizationPolicy or RequestAuthentication with `selector.matchLabels` "
               "(and no `targetRef(s)`) whose labels no workload of its namespace carries (any namespace's for a "
               "policy in the root namespace): it applies to nothing. Kiali reports it as KIA0004.",
    sql="""
        SELECT o.id AS object_id, 'spec.selector.matchLabels' AS path
        FROM peer_authentication pa JOIN object o ON o.id = pa.object_id
        WHERE pa.selects = 1 AND NOT """ + _POLICY_SELECTS.format(table="object_selector") + """
        UNION ALL
        SELECT o.id, 'spec.selector.matchLabels'
        FROM targetable_policy tp JOIN object o ON o.id = tp.object_id
        WHERE o.kind IN ('AuthorizationPolicy', 'RequestAuthentication') AND tp.targeted = 0
          AND EXISTS (SELECT 1 FROM policy_selector s WHERE s.object_id = o.id)
          AND NOT """ + _POLICY_SELECTS.format(table="policy_selector"),
    message="{path} match no workload the policy could apply to",
    examples=(_deployment() + _policy("PeerAuthentication", "api") + _policy("AuthorizationPolicy", "api"),
              _deployment() + _policy("PeerAuthentication", "web") + _policy("AuthorizationPolicy", "web")))

CHECKS = (MSH205, MSH209, MSH210, MSH406, MSH407, MSH408, MSH502, MSH504)
