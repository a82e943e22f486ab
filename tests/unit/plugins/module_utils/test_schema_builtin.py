# -*- coding: utf-8 -*-
"""Built-in kinds against the pinned Kubernetes OpenAPI: what Go's JSON decoder refuses (unknown fields, types,
int-or-string, quantities, int32 ranges, nulls) with a refused and an accepted example each, together with the
hand-written rules and without duplicates. (Against a real API server: tests/integration/test_schema_oracle.py.)"""

from __future__ import annotations

import copy
import functools
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.admission import (
    BUILT_IN, STRUCTURAL, SchemaGate)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.catalogue import pinned_schemas

DEPLOYMENT = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews, namespace: shop, labels: {app: reviews}}
spec:
  replicas: 2
  selector: {matchLabels: {app: reviews}}
  strategy: {rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: reviews}, creationTimestamp: null}
    spec:
      containers:
      - name: reviews
        image: registry.example.com/reviews:1.0
        imagePullPolicy: IfNotPresent
        ports: [{name: http, containerPort: 9080}]
        readinessProbe: {httpGet: {path: /ready, port: http}}
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: "1", memory: 256Mi}}
""")
CONTAINER = ("spec", "template", "spec", "containers", 0)


def changed(path: Tuple, value: Any) -> Dict[str, Any]:
    """The Deployment with one value set (or added)."""
    document = copy.deepcopy(DEPLOYMENT)
    functools.reduce(lambda node, step: node[step], path[:-1], document)[path[-1]] = value
    return document


def rejections(document: Dict[str, Any]) -> List[Tuple[str, str, str]]:
    gate = SchemaGate()
    gate.admit(document, "t#1")
    return [(r.code, r.path, r.reason) for r in gate.rejections]


# (path, refused value, API server's wording, accepted value)
DECODER_CASES = [
    (CONTAINER + ("imagePullPolicyy",), "Always",
     'unknown field "spec.template.spec.containers[0].imagePullPolicyy"', None),
    (("spec", "strategy", "rollingUpdate", "maxSurgee"), 1, 'unknown field "spec.strategy.rollingUpdate.maxSurgee"',
     None),
    (("spec", "template", "metadata", "labelz"), {}, 'unknown field "spec.template.metadata.labelz"', None),
    (("spec", "replicas"), "3", "json: cannot unmarshal string into Go struct field spec.replicas of type int32", 3),
    (("spec", "replicas"), 1.5, "json: cannot unmarshal number 1.5 into Go struct field spec.replicas of type int32",
     3.0),
    (("spec", "replicas"), 3000000000, "json: cannot unmarshal number 3000000000 into Go struct field spec.replicas "
                                       "of type int32", 2147483647),
    (("spec", "paused"), "true", "json: cannot unmarshal string into Go struct field spec.paused of type bool", True),
    (CONTAINER + ("readinessProbe", "httpGet", "port"), True, "json: cannot unmarshal bool into Go struct field "
     "spec.template.spec.containers[0].readinessProbe.httpGet.port of type int32", 9080),
    (("spec", "strategy", "rollingUpdate", "maxSurge"), 1.5, "json: cannot unmarshal number 1.5", "50%"),
    (CONTAINER + ("resources", "limits", "cpu"), "1.5 cores", "quantities must match the regular expression", 1.5),
    (CONTAINER + ("resources", "limits", "memory"), True, "quantities must match the regular expression", 268435456),
    (CONTAINER + ("resources", "limits", "memory"), "1Kb", "quantities must match the regular expression", "1e9"),
    (CONTAINER + ("args",), "--verbose", "json: cannot unmarshal string into Go struct field "
     "spec.template.spec.containers[0].args of type []string", ["--verbose", None]),
    (CONTAINER + ("image",), 5, "of type string (the API server reads this unquoted YAML value as a number: quote it)",
     "5"),
    (("spec", "template", "metadata", "creationTimestamp"), "today", 'parsing time "today"', "2026-01-02T03:04:05Z"),
]


@pytest.mark.parametrize("path, refused, wording, accepted", DECODER_CASES)
def test_each_decoder_rule_refuses_and_accepts_on_a_deployment(path, refused, wording, accepted):
    found = rejections(changed(path, refused))
    assert [(code, where) for code, where, _reason in found] == [(STRUCTURAL, ".".join(
        "[%d]" % step if isinstance(step, int) else step for step in path).replace(".[", "["))], found
    assert wording in found[0][2], found
    if accepted is not None:
        assert rejections(changed(path, accepted)) == []


def test_null_is_any_fields_zero_value():
    for path in (("spec", "replicas"), ("spec", "strategy"), CONTAINER + ("ports",),
                 CONTAINER + ("resources", "limits"),
                 ("spec", "template", "metadata", "labels", "tier"), CONTAINER + ("resources", "limits", "cpu")):
        assert rejections(changed(path, None)) == [], path


def test_a_value_both_refuse_is_reported_once_by_the_decoder():
    # replicas "3" is a decoding error; the hand-written rule on replicas adds nothing.
    assert [code for code, _path, _reason in rejections(changed(("spec", "replicas"), "3"))] == [STRUCTURAL]
    # A label value YAML read as a boolean: the decoder's error, with the hint, not the hand-written one too.
    ((code, path, reason),) = rejections(changed(("spec", "template", "metadata", "labels", "canary"), True))
    assert (code, path) == (STRUCTURAL, "spec.template.metadata.labels.canary") and "quote it" in reason
    # What only the hand-written validation refuses is still found, next to a decoding error.
    found = rejections(changed(("spec", "replicas"), -1))
    assert found == [(BUILT_IN, "spec.replicas", "Invalid value: -1: must be greater than or equal to 0")]
    document = changed(CONTAINER + ("image",), None)
    document["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert sorted((code, path) for code, path, _reason in rejections(document)) == [
        (STRUCTURAL, "spec.template.spec.containers[0].imagePullPolicyy"),
        (BUILT_IN, "spec.template.spec.containers[0].image")]


def test_int_or_string_takes_either_and_the_hand_written_rules_check_the_string():
    port = CONTAINER + ("readinessProbe", "httpGet", "port")
    assert rejections(changed(port, 9080)) == [] and rejections(changed(port, "http")) == []
    assert rejections(changed(port, "9080")) == [
        (BUILT_IN, "spec.template.spec.containers[0].readinessProbe.httpGet.port",
         'Invalid value: "9080": must contain at least one letter (a-z)')]
    surge = ("spec", "strategy", "rollingUpdate", "maxSurge")
    assert rejections(changed(surge, 2)) == []
    assert [path for _code, path, _reason in rejections(changed(surge, "2"))] == [
        "spec.strategy.rollingUpdate.maxSurge"]


POD = """apiVersion: v1
kind: Pod
metadata: {name: ratings, namespace: shop}
spec:
  containers: [{name: ratings, image: registry.example.com/ratings:1.0, ports: [{containerPort: %s}]}]
  nodeSelector: {kubernetes.io/os: %s}
"""
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\nspec: %s\n"
SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: %s\n"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: shop}\ndata: {token: %s}\n"


@pytest.mark.parametrize("text, refused", [
    (POD % ("8080", "linux"), []),
    (POD % ('"8080"', "linux"), ["spec.containers[0].ports[0].containerPort"]),
    (POD % ("8080", "1.10"), ["spec.nodeSelector.kubernetes.io/os"]),
    (NAMESPACE % "{finalizers: [kubernetes]}", []),
    (NAMESPACE % "{finalizers: kubernetes}", ["spec.finalizers"]),
    (NAMESPACE % "{finalizer: [kubernetes]}", ["spec.finalizer"]),
    (SERVICE % "{ports: [{port: 80, targetPort: http}], type: null}", []),
    (SERVICE % "{ports: [{port: 80, targetPort: 8080.5}]}", ["spec.ports[0].targetPort"]),
    (SERVICE % "{ports: [{port: 80, nodePortt: 30000}]}", ["spec.ports[0].nodePortt"]),
    (SECRET % "c2VjcmV0", []),
    (SECRET % "not-base64!", ["data.token"]),
])
def test_the_other_built_in_kinds_refuse_unknown_fields_and_types(text, refused):
    assert [path for _code, path, _reason in rejections(yaml.safe_load(text))] == refused


def test_the_pinned_catalogue_holds_the_built_in_kinds_the_collection_reads():
    built_in = {(record["group"], record["kind"]) for record in pinned_schemas() if record.get("builtin")}
    assert built_in == {("", "Namespace"), ("", "Pod"), ("", "Secret"), ("", "Service"), ("apps", "DaemonSet"),
                        ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("batch", "Job")}
    # Deployment, Pod and Namespace are validated whole now: no gap is reported for them.
    gate = SchemaGate()
    for document in (copy.deepcopy(DEPLOYMENT), yaml.safe_load(POD % ("80", "linux")),
                     yaml.safe_load(NAMESPACE % "{}")):
        gate.admit(document, "t#1")
    assert not gate.rejections and gate.summary() == []


def controller(kind: str, **spec: Any) -> Dict[str, Any]:
    """A pod controller of ``kind`` (apps/v1, or a batch/v1 Job) around the Deployment's pod template."""
    template = copy.deepcopy(DEPLOYMENT["spec"]["template"])
    if kind == "Job":
        template["spec"]["restartPolicy"] = "Never"
        document = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"}, "spec": {"template": template}}
    else:
        document = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "x"},
                    "spec": {"selector": {"matchLabels": {"app": "reviews"}}, "template": template}}
    for dotted, value in spec.items():
        *parents, last = dotted.split("__")
        functools.reduce(lambda node, step: node[int(step) if step.isdigit() else step], parents,
                         document["spec"])[last] = value
    return document


# (kind, refusing change, path, the API server's wording, an accepted change of the same field); each refusal
# was checked against a real API server (tests/integration/test_schema_oracle.py).
CONTROLLER_CASES = [
    ("StatefulSet", {"selector": None}, "spec.selector", "Required value", {"replicas": 0}),
    ("DaemonSet", {"selector": {}}, "spec.selector", "empty selector is invalid for daemonset",
     {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}),
    ("ReplicaSet", {"selector": {"matchLabels": {"app": "other"}}}, "spec.template.metadata.labels",
     "`selector` does not match template `labels`", {"selector": {"matchLabels": {"app": "reviews"}}}),
    ("ReplicaSet", {"minReadySeconds": -1}, "spec.minReadySeconds", "must be greater than or equal to 0",
     {"minReadySeconds": 0}),
    ("Deployment", {"template__spec__restartPolicy": "Never"}, "spec.template.spec.restartPolicy",
     'Unsupported value: "Never": supported values: "Always"', {"template__spec__restartPolicy": "Always"}),
    ("StatefulSet", {"template__spec__restartPolicy": "OnFailure"}, "spec.template.spec.restartPolicy",
     'supported values: "Always"', {"template__spec__containers__0__resources": {"requests": {"cpu": "9"}}}),
    ("Job", {"template__spec__restartPolicy": None}, "spec.template.spec.restartPolicy",
     'Unsupported value: "Always": supported values: "OnFailure", "Never"', {"template__spec__restartPolicy": "OnFailure"}),
    ("Job", {"selector": {"matchLabels": {"app": "reviews"}}}, "spec.selector", "`selector` will be auto-generated",
     {"selector": {"matchLabels": {"app": "reviews"}}, "manualSelector": True}),
    ("Job", {"manualSelector": True}, "spec.selector", "Required value", {"manualSelector": True, "selector": {}}),
    ("Job", {"backoffLimit": -1}, "spec.backoffLimit", "must be greater than or equal to 0", {"backoffLimit": 0}),
    ("DaemonSet", {"template__spec__containers__0__resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
     "spec.template.spec.containers[0].resources.requests", "must be less than or equal to cpu limit of 1",
     {"template__spec__containers__0__resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "0.5"}}}),
    ("Deployment", {"template__spec__containers__0__resources": {"requests": {"memory": "1Gi"},
                                                                 "limits": {"memory": "1e9"}}},
     "spec.template.spec.containers[0].resources.requests", "must be less than or equal to memory limit of 1e9",
     {"template__spec__containers__0__resources": {"requests": {"memory": "1e9"}, "limits": {"memory": "1Gi"}}}),
    ("Job", {"template__spec__containers__0__resources": {"limits": {"cpu": "-100m"}}},
     "spec.template.spec.containers[0].resources.limits[cpu]", "must be greater than or equal to 0",
     {"template__spec__containers__0__resources": {"limits": {"cpu": "100m"}}}),
]


@pytest.mark.parametrize("kind, refusing, path, wording, accepted", CONTROLLER_CASES)
def test_each_pod_controller_rule_refuses_and_accepts(kind, refusing, path, wording, accepted):
    found = rejections(controller(kind, **refusing))
    assert [(code, where) for code, where, _reason in found] == [(BUILT_IN, path)], found
    assert wording in found[0][2]
    assert rejections(controller(kind, **accepted)) == []
