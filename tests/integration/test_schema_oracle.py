# -*- coding: utf-8 -*-
"""The API server is the oracle of the schema layer: single-field changes of realistic documents (our own,
and Istio's bookinfo samples read from the pinned module at test time), valid and invalid, are sent to the
local control plane as a server-side dry run with strict field validation, and the offline verdict must
equal its verdict on every case.

Built-in kinds (Deployment, Pod, Namespace, Service, StatefulSet, Secret, Job) get changes aimed at what Go's JSON
decoder refuses: an unknown field at every depth, every value retyped or set to null, and values of the
types the decoder reads its own way (int-or-string, quantities, int32 ranges, times, base64)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import yaml

from conftest import localcluster
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.admission import SchemaGate

OWN = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x}
spec:
  hosts: [reviews]
  gateways: [mesh]
  http:
  - match: [{uri: {prefix: /r}, headers: {end-user: {exact: jason}}}]
    timeout: 5s
    retries: {attempts: 3, perTryTimeout: 2s}
    route:
    - destination: {host: reviews, subset: v1, port: {number: 9080}}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: x}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 100}}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: x}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [bookinfo.example.com]
    tls: {mode: SIMPLE, credentialName: bookinfo-cert}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: x}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: https, protocol: TLS}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: x}
spec:
  parentRefs: [{name: gw}]
  hostnames: [bookinfo.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /reviews}}]
    backendRefs: [{name: reviews, port: 9080, weight: 90}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: x}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: bookinfo.example.com, allowedRoutes: {namespaces: {from: Same}}}
---
apiVersion: v1
kind: Service
metadata: {name: x, labels: {app: reviews}}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
"""
# Built-in kinds, as teams write them.
BUILT_IN = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
  labels: {app: reviews, version: v1}
  annotations: {team: bookstore}
spec:
  replicas: 2
  revisionHistoryLimit: 5
  selector: {matchLabels: {app: reviews, version: v1}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}
  template:
    metadata:
      labels: {app: reviews, version: v1}
      annotations: {sidecar.istio.io/inject: "true"}
    spec:
      serviceAccountName: reviews
      terminationGracePeriodSeconds: 30
      containers:
      - name: reviews
        image: registry.example.com/bookstore/reviews:1.4
        imagePullPolicy: IfNotPresent
        args: [--port, "9080"]
        ports: [{name: http, containerPort: 9080, protocol: TCP}]
        env: [{name: LOG_DIR, value: /tmp/logs}]
        resources: {requests: {cpu: 100m, memory: 128Mi}}
        readinessProbe:
          httpGet: {path: /health, port: http}
          initialDelaySeconds: 5
          periodSeconds: 10
        securityContext: {runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false}
        volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {sizeLimit: 1Gi}}]
---
apiVersion: v1
kind: Pod
metadata: {name: x, labels: {app: ratings}}
spec:
  restartPolicy: Always
  enableServiceLinks: false
  containers:
  - name: ratings
    image: registry.example.com/bookstore/ratings:2.0
    command: [/bin/ratings]
    ports: [{containerPort: 8080}]
    livenessProbe: {tcpSocket: {port: 8080}, timeoutSeconds: 2}
    resources: {requests: {cpu: 250m, memory: 64Mi}}
  tolerations: [{key: dedicated, operator: Equal, value: mesh, effect: NoSchedule}]
  nodeSelector: {kubernetes.io/os: linux}
---
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {istio-injection: enabled}}
spec: {finalizers: [kubernetes]}
"""
# Single-field changes of the built-in kinds that the decoder reads its own way: (kind, path, value).
BUILT_IN_VALUES = [
    ("Deployment", "spec.strategy.rollingUpdate.maxSurge", value) for value in (2, "2", "50%", 1.5, True, None)
] + [
    ("Deployment", "spec.template.spec.containers.0.readinessProbe.httpGet.port", value)
    for value in (9080, "9080", "http-alt", 70000, 1.5, 3000000000, False, [])
] + [
    ("Deployment", "spec.template.spec.containers.0.resources.limits", value)
    for value in ({"cpu": 1.5, "memory": 1000000000}, {"cpu": "1e3"}, {"cpu": "2", "memory": "1Gi"},
                  {"memory": " 1Gi "}, {"cpu": "abc"}, {"cpu": "1K"}, {"cpu": "1e"}, {"memory": True},
                  {"memory": []}, {"ephemeral-storage": None}, "1")
] + [
    ("Deployment", "spec.replicas", value) for value in (3.0, -1, "3", 1.5, 3000000000, None, True)
] + [
    ("Deployment", "spec.template.metadata.creationTimestamp", value)
    for value in (None, "2026-01-01T10:00:00Z", "2026-01-01T10:00:00.5+02:00", "2026-01-01", "yesterday", 5)
] + [
    ("Pod", "spec.activeDeadlineSeconds", value) for value in (30, 30.0, "30", 1e20, 30.5)
] + [
    ("Pod", "spec.containers.0.ports.0.containerPort", value) for value in (8080.0, "8080", 8080.5, 0)
] + [
    ("Pod", "spec.overhead", None), ("Pod", "spec.containers.0", None), ("Pod", "spec", None),
    ("Namespace", "spec", None), ("Namespace", "spec.finalizers", "kubernetes"),
    ("Namespace", "status", {"phase": "Active"}), ("Namespace", "status", {"phase": 1}),
]
SECRETS_AND_SERVICES = """
apiVersion: v1
kind: Secret
metadata: {name: x}
data: {a: YWJj, b: YWJjZA==, c: "YWJj\\n"}
stringData: {d: plain}
---
apiVersion: v1
kind: Secret
metadata: {name: x}
data: {a: not base64!}
---
apiVersion: v1
kind: Secret
metadata: {name: x}
stringData: {a: 5}
---
apiVersion: v1
kind: Service
metadata: {name: x}
spec: {ports: [{port: 80, targetPort: 8080.5}]}
---
apiVersion: v1
kind: Service
metadata: {name: x}
spec: {ports: [{port: 80, name: 5}, {port: 81, name: b}]}
---
apiVersion: v1
kind: Service
metadata: {name: x}
spec: {ports: [{port: 80, targetPort: http, protocol: null}], type: null}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: x}
spec:
  serviceName: x
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: registry.example.com/db:16}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}, storageClassNamex: fast}
---
apiVersion: batch/v1
kind: Job
metadata: {name: x}
spec:
  backoffLimit: 2
  ttlSecondsAfterFinished: 600
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: registry.example.com/db-migrate:3, args: [--to, latest]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: x}
spec:
  backoffLimit: "2"
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: registry.example.com/db-migrate:3}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: x}
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers: [{name: migrate, image: registry.example.com/db-migrate:3, resources: {limits: {cpu: 0.5}}}]
      activeDeadlineSecondz: 60
"""
# The pod controllers' own rules: selectors their templates match, restart policies, counts, requests and limits.
WORKLOAD_RULES = [
    ("apps/v1", "StatefulSet", {"serviceName": "db"}), ("apps/v1", "DaemonSet", {}), ("apps/v1", "ReplicaSet", {}),
    ("apps/v1", "Deployment", {}),
]
POD_TEMPLATE = {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "w", "image": "registry.example.com/w:1"}]}}
POD_CHANGES = [  # (path under the pod spec, value)
    ("restartPolicy", "Never"), ("restartPolicy", "OnFailure"), ("restartPolicy", "Sometimes"),
    ("containers.0.resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
    ("containers.0.resources", {"requests": {"cpu": "500m"}, "limits": {"cpu": "0.5"}}),
    ("containers.0.resources", {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}),
    ("containers.0.resources", {"requests": {"memory": "1e9"}, "limits": {"memory": "1Gi"}}),
    ("containers.0.resources", {"requests": {"cpu": "-1"}}),
    ("containers.0.resources", {"limits": {"cpu": "-100m"}}),
    ("containers.0.resources", {"requests": {"cpu": 2}, "limits": {"cpu": 1.5}}),
    ("initContainers", [{"name": "init", "image": "registry.example.com/i:1",
                         "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "100m"}}}]),
]
SPEC_CHANGES = [  # (path under spec, value)
    ("selector", None), ("selector", {}), ("selector", {"matchLabels": {"app": "other"}}),
    ("selector", {"matchExpressions": [{"key": "app", "operator": "In", "values": ["w"]}]}),
    ("template", {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "w"}]}}),
    ("replicas", -1), ("minReadySeconds", -1), ("revisionHistoryLimit", -1), ("revisionHistoryLimit", 0),
]


def workload_cases() -> Iterator[Dict[str, Any]]:
    """Each pod controller and a Job, as is and with one of its own rules' fields changed."""
    for api_version, kind, extra in WORKLOAD_RULES:
        base = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"},
                "spec": dict(extra, selector={"matchLabels": {"app": "w"}}, template=copy.deepcopy(POD_TEMPLATE))}
        yield base
        for field, value in SPEC_CHANGES:
            if field in ("replicas",) and kind == "DaemonSet":
                continue  # not a field of a DaemonSet: the unknown-field cases cover it
            yield _set(base, ("spec", field), value)
        for dotted, value in POD_CHANGES:
            yield _set(base, ("spec", "template", "spec") + _steps(dotted), value)
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"},
           "spec": {"template": copy.deepcopy(POD_TEMPLATE)}}
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    yield job
    for field, value in [("backoffLimit", -1), ("parallelism", -1), ("completions", 0), ("completions", -1),
                         ("selector", {"matchLabels": {"app": "w"}}), ("manualSelector", True),
                         ("manualSelector", False)]:
        yield _set(job, ("spec", field), value)
    manual = _set(job, ("spec", "manualSelector"), True)
    yield _set(manual, ("spec", "selector"), {"matchLabels": {"app": "w"}})
    yield _set(manual, ("spec", "selector"), {"matchLabels": {"app": "other"}})
    yield _set(manual, ("spec", "selector"), {})
    for dotted, value in POD_CHANGES:
        yield _set(job, ("spec", "template", "spec") + _steps(dotted), value)
    yield _set(job, ("spec", "template", "spec", "restartPolicy"), None)


def _steps(dotted: str) -> Tuple:
    return tuple(int(step) if step.isdigit() else step for step in dotted.split("."))


BOOKINFO = ("bookinfo-gateway.yaml", "destination-rule-all.yaml", "virtual-service-reviews-jason-v2-v3.yaml",
            "virtual-service-ratings-test-delay.yaml", "egress-rule-google-apis.yaml")
TYPO_VALUES = ("", "x", -1, 0, 70000, True, "5", "ROUND_ROBINN", "/p", [], {})
NAMESPACE = "default"


def bases() -> List[Dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(OWN) if d]
    samples = localcluster.module_dir(localcluster.ISTIO_MODULE) / "samples" / "bookinfo" / "networking"
    for name in BOOKINFO:
        documents += [d for d in yaml.safe_load_all((samples / name).read_text(encoding="utf-8")) if d]
    return documents


def leaves(value: Any, path: Tuple = ()) -> Iterator[Tuple[Tuple, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, path + (index,))
    yield path, value


def mutations(document: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """The document as is, then one field changed at a time: removed, retyped, out of range, or a sibling added."""
    yield copy.deepcopy(document)
    for path, value in leaves(document.get("spec") or {}, ("spec",)):
        if len(path) < 2:
            continue
        changed = copy.deepcopy(document)
        parent = changed
        for step in path[:-1]:
            parent = parent[step]
        del parent[path[-1]]
        yield changed
        if isinstance(parent, dict):
            yield _set(document, path[:-1] + (str(path[-1]) + "x",), "typo")
        if not isinstance(value, (dict, list)):
            for typo in TYPO_VALUES:
                if typo != value and type(typo) is not type(value) or isinstance(value, (str, int)) and typo != value:
                    yield _set(document, path, typo)


def _set(document: Dict[str, Any], path: Tuple, value: Any) -> Dict[str, Any]:
    """A copy of the document with the value at ``path`` (keys and list indexes) set."""
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def built_in_mutations(document: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """A built-in kind's document as is, an unknown field in each of its objects, and each value retyped or null."""
    yield copy.deepcopy(document)
    for path, value in leaves({key: document[key] for key in ("metadata", "spec") if key in document}):
        if isinstance(value, dict):
            yield _set(document, path + ("%sx" % (next(iter(value), "field")),), "typo")
        if not path or path == ("metadata",) or path[:2] == ("metadata", "name"):
            continue  # the object's identity: the name is the built-in rules' business
        for other in ([5, True] if isinstance(value, str) else ["5", 1.5, 3000000000, True]
                      if isinstance(value, int) and not isinstance(value, bool) else ["true", 1]
                      if isinstance(value, bool) else ["x"] if isinstance(value, (dict, list)) else []) + [None]:
            yield _set(document, path, other)
    for kind, dotted, value in BUILT_IN_VALUES:
        if document["kind"] == kind:
            yield _set(document, _steps(dotted), value)


def cases() -> List[Dict[str, Any]]:
    found, seen = [], set()
    changes = [(document, mutations) for document in bases()]
    changes += [(document, built_in_mutations) for document in yaml.safe_load_all(BUILT_IN) if document]
    changes += [(document, lambda document: [document]) for document in yaml.safe_load_all(SECRETS_AND_SERVICES)
                if document]
    changes += [(document, lambda document: [document]) for document in workload_cases()]
    for document, change in changes:
        for changed in change(document):
            key = json.dumps(changed, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            changed["metadata"] = dict(changed.get("metadata") or {}, name="case-%d" % len(found))
            if changed["kind"] != "Namespace":
                changed["metadata"]["namespace"] = NAMESPACE
            found.append(changed)
    return found


BATCH = 200


def server_accepts(plane, documents: List[Dict[str, Any]], workdir: Path) -> set:
    """Names of the documents the API server accepts in a server-side dry run with strict field validation.

    kubectl goes on past refused documents and prints the name of each accepted one; batches keep each call short.
    """
    accepted = set()
    for start in range(0, len(documents), BATCH):
        batch = workdir / ("cases-%d.yaml" % start)
        batch.write_text(yaml.safe_dump_all(documents[start:start + BATCH]), encoding="utf-8")
        result = plane.kubectl("create", "--dry-run=server", "--validate=strict", "-o", "name", "-f", str(batch),
                               check=False)
        accepted |= {line.rpartition("/")[2] for line in result.stdout.split()}
    return accepted


def test_offline_verdict_equals_the_api_servers_on_every_case(control_plane, tmp_path):
    documents = cases()
    assert len(documents) > 500
    accepted = server_accepts(control_plane, documents, tmp_path)
    assert accepted and len(accepted) < len(documents), "the oracle must see valid and invalid cases"
    gate = SchemaGate()
    disagreements = []
    for document in documents:
        before = len(gate.rejections)
        gate.admit(document, document["metadata"]["name"])
        offline = len(gate.rejections) == before
        if offline != (document["metadata"]["name"] in accepted):
            disagreements.append("%s %s: API server %s, offline %s %s" % (
                document["kind"], document["metadata"]["name"],
                "accepts" if not offline else "refuses", "accepts" if offline else "refuses",
                [r.path + ": " + r.reason for r in gate.rejections[before:]] or json.dumps(document["spec"])[:300]))
    assert not disagreements, "%d of %d cases disagree:\n%s" % (len(disagreements), len(documents),
                                                                "\n".join(disagreements[:60]))
