# -*- coding: utf-8 -*-
"""The API server is the oracle of the schema layer: single-field changes of realistic documents (our own,
and Istio's bookinfo samples read from the pinned module at test time), valid and invalid, are sent to the
local control plane as a server-side dry run with strict field validation, and the offline verdict must
equal its verdict on every case."""

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
            changed = copy.deepcopy(document)
            target = changed
            for step in path[:-1]:
                target = target[step]
            target[str(path[-1]) + "x"] = "typo"
            yield changed
        if not isinstance(value, (dict, list)):
            for typo in TYPO_VALUES:
                if typo != value and type(typo) is not type(value) or isinstance(value, (str, int)) and typo != value:
                    changed = copy.deepcopy(document)
                    target = changed
                    for step in path[:-1]:
                        target = target[step]
                    target[path[-1]] = typo
                    yield changed


def cases() -> List[Dict[str, Any]]:
    found, seen = [], set()
    for document in bases():
        for changed in mutations(document):
            key = json.dumps(changed, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            changed["metadata"] = dict(changed.get("metadata") or {}, name="case-%d" % len(found), namespace=NAMESPACE)
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
