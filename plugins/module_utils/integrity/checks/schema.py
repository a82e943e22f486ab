# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the API server would refuse: documents from files validated against the real schemas.

These checks have no SQL: their findings come from the schema layer as documents load
(``schema.admission``), with the field path and the API server's wording. A refused value is
taken out of what the other checks read, so no other finding depends on it.
"""

from __future__ import annotations

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.checks.base import ERROR, Check
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import admission

RESOLUTION = ("The pinned CRDs (Istio's crd-all.gen.yaml and the Gateway API's standard channel, with the versions "
              "only its experimental channel serves, noted in summary.not_validated when used; shipped in "
              "plugins/module_utils/schema/pinned.py by tools/gen_schemas.py), or, checking files against a live "
              "cluster, the CRDs that cluster serves for the same groups (summary.schema_sources says which; a "
              "version or kind it does not serve is refused), are applied as the API server applies "
              "a structural schema with strict field validation: nulls of non-nullable fields dropped, defaults set, "
              "then unknown fields, types (int-or-string), formats, enums, required fields, patterns, ranges, "
              "lengths, list-type set/map uniqueness, oneOf/anyOf/not. Transition rules (oldSelf) are not evaluated: "
              "an offline check is a create. Built-in kinds the collection reads (Service, Pod, Namespace, Secret, "
              "Deployment, StatefulSet, DaemonSet, ReplicaSet, Job) are read as the API server reads them, with Go's strict "
              "JSON decoder, against the fields and types of the Kubernetes OpenAPI v3 (pinned, or the live "
              "cluster's /openapi/v3): unknown fields, types (a null is the zero value; int-or-string, quantities, "
              "int32 and int64 ranges, RFC 3339 times, base64 data), worded as the decoder words them (json: cannot "
              "unmarshal ...); their enums and required fields are the built-in validation's (MSH803). A refused "
              "value is left out of what the other checks read; a refused name, version or spec keeps the document "
              "out of the model. What cannot be validated is listed in summary.not_validated.")

CHECKS = (
    Check(
        code=admission.STRUCTURAL, severity=ERROR, title="The API server's schema refuses the document",
        reads=("every kind with a CRD", "Service", "Pod", "Namespace", "Secret", "Deployment", "StatefulSet",
               "DaemonSet", "ReplicaSet", "Job"), sql="", message="{path}: {reason}", resolution=RESOLUTION,
        examples=("""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBINN}}
""", """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
""")),
    Check(
        code=admission.CEL_RULE, severity=ERROR, title="A CEL validation rule of the CRD refuses the document",
        reads=("every kind with a CRD",), sql="", message="{path}: {reason}",
        resolution="The CRD's x-kubernetes-validations rules, evaluated with the common-expression-language runtime "
                   "and the Kubernetes CEL libraries they call (strings, lists, regex, url, ip/cidr, quantity, "
                   "durations); the message is the rule's message (or messageExpression), at its fieldPath. A rule "
                   "calling a function not implemented offline is listed in summary.not_validated.",
        examples=("""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: bookinfo}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: reviews}}]
""", """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: bookinfo}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /reviews}}]
""")),
    Check(
        code=admission.BUILT_IN, severity=ERROR, title="The API server's built-in validation refuses the object",
        reads=("Service", "Deployment", "Pod", "Namespace"), sql="", message="{path}: {reason}",
        resolution="The rules Kubernetes applies to core kinds that users hit most: DNS-1035 Service names, DNS-1123 "
                   "names and namespaces, label keys and values, selectors (a Deployment's must match its template's "
                   "labels), ports between 1 and 65535, named target ports and probe ports as IANA service names, "
                   "port names required and unique with several ports, the Service's type and protocols, containers' "
                   "names and images, probe handlers, environment variable names, volume names and the volumes "
                   "mounts refer to, runAsUser and runAsGroup ranges, tolerations' operators, rolling-update "
                   "maxSurge and maxUnavailable, namespace finalizer names. Reported for what the decoder (MSH801) "
                   "did not already refuse at the same field.",
        examples=("""
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  ports: [{port: 90800}]
""", """
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  ports: [{port: 9080}]
""")),
)
