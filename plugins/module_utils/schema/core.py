# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server's built-in validation that users hit most: object metadata of every kind, and the
core kinds the collection reads (Service, Deployment, Pod, Namespace): names, label keys and values,
selectors, ports, the Service's type and protocols, containers' images, probes, environment and volume
mounts, tolerations, rolling-update counts, namespace finalizers. Messages are worded as
k8s.io/apimachinery's validation words them. Unknown fields and types of the built-in kinds are what Go's JSON decoder refuses
(``schema.builtin``, validated by ``structural.DecodingValidator``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.structural import (
    SchemaError, go_quote, unquoted_hint)

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
OBJECT_META_FIELDS = frozenset((
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields"))
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PROTOCOLS = ("TCP", "UDP", "SCTP")
RESTART_POLICIES = ("Always", "OnFailure", "Never")

LABEL_MESSAGE = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                 "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation "
                 "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
VALUE_MESSAGE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                 "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
SUBDOMAIN_MESSAGE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                     "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_1123_MESSAGE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                      "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                      "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
LABEL_1035_MESSAGE = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                      "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                      "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def _invalid(path: str, value: Any, reason: str) -> SchemaError:
    return SchemaError(path, "Invalid value: %s: %s" % (go_quote(value), reason))


def _not_a_string(path: str, value: Any) -> SchemaError:
    """A label, annotation or name that YAML read as another type."""
    return _invalid(path, value, "must be a string" + unquoted_hint(value))


def dns_name(path: str, value: Any, kind: str = "subdomain") -> List[SchemaError]:
    """A name as DNS-1123 subdomain, DNS-1123 label or DNS-1035 label."""
    if not isinstance(value, str):
        return [_not_a_string(path, value)]
    pattern, limit, message = {"subdomain": (DNS1123_SUBDOMAIN, 253, SUBDOMAIN_MESSAGE),
                               "label": (DNS1123_LABEL, 63, LABEL_1123_MESSAGE),
                               "1035": (DNS1035_LABEL, 63, LABEL_1035_MESSAGE)}[kind]
    errors = []
    if len(value) > limit:
        errors.append(_invalid(path, value, "must be no more than %d characters" % limit))
    if not pattern.match(value):
        errors.append(_invalid(path, value, message))
    return errors


def qualified_name(path: str, key: Any) -> List[SchemaError]:
    """A label or annotation key: optional DNS-subdomain prefix and '/', then a name of at most 63 characters."""
    text = str(key)
    prefix, slash, name = text.rpartition("/")
    if not slash:
        name = text
    elif not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix):
        return [_invalid(path, text, "prefix part " + SUBDOMAIN_MESSAGE)]
    if not name:
        return [_invalid(path, text, "name part must be non-empty")]
    if len(name) > 63:
        return [_invalid(path, text, "name part must be no more than 63 characters")]
    if not QUALIFIED_NAME.match(name):
        return [_invalid(path, text, LABEL_MESSAGE)]
    return []


def label_map(path: str, labels: Any) -> List[SchemaError]:
    """Label keys and values (selectors use the same rules)."""
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [_invalid(path, labels, "must be a map of strings")]
    errors: List[SchemaError] = []
    for key, value in labels.items():
        errors += qualified_name(path, key)
        if value is None:
            continue  # decoded as the empty string
        if not isinstance(value, str):
            errors.append(_not_a_string("%s.%s" % (path, key), value))
        elif len(value) > 63:
            errors.append(_invalid(path, value, "must be no more than 63 characters"))
        elif value and not QUALIFIED_NAME.match(value):
            errors.append(_invalid(path, value, VALUE_MESSAGE))
    return errors


def object_meta(obj: Dict[str, Any], namespaced: bool, name_kind: str = "subdomain") -> List[SchemaError]:
    """metadata as ValidateObjectMeta checks it (names, labels, annotation keys, unknown fields)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return [SchemaError("metadata.name", "Required value: name or generateName is required")]
    errors = [SchemaError("metadata.%s" % key, 'unknown field "metadata.%s"' % key)
              for key in metadata if key not in OBJECT_META_FIELDS]
    name = metadata.get("name")
    if name is None and not metadata.get("generateName"):
        errors.append(SchemaError("metadata.name", "Required value: name or generateName is required"))
    elif name is not None:
        errors += dns_name("metadata.name", name, name_kind)
    namespace = metadata.get("namespace")
    if namespace is not None and namespaced:
        errors += dns_name("metadata.namespace", namespace, "label")
    errors += label_map("metadata.labels", metadata.get("labels"))
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        for key, value in annotations.items():
            errors += qualified_name("metadata.annotations", key)
            if value is not None and not isinstance(value, str):
                errors.append(_not_a_string("metadata.annotations.%s" % key, value))
    return errors


def _integral(value: Any) -> Optional[int]:
    """An integer as the API server reads it (kubectl sends a YAML ``80.0`` as 80), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


def _port_number(path: str, value: Any, required: bool = True) -> List[SchemaError]:
    if value is None:
        return [SchemaError(path, "Required value")] if required else []
    if _integral(value) is None:
        return [_invalid(path, value, "must be an integer")]
    if not 1 <= value <= 65535:
        return [_invalid(path, value, "must be between 1 and 65535, inclusive")]
    return []


def _named_port(path: str, value: Any) -> List[SchemaError]:
    """A port by number or by IANA service name (a null is the number 0)."""
    if isinstance(value, str):
        for broken, reason in ((len(value) > 15, "must be no more than 15 characters"),
                               (not re.match("^[-a-z0-9]+$", value),
                                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
                               (not re.search("[a-z]", value), "must contain at least one letter (a-z)"),
                               ("--" in value, "must not contain consecutive hyphens"),
                               (not IANA_SVC_NAME.match(value), "must not begin or end with a hyphen")):
            if broken:
                return [_invalid(path, value, reason)]
        return []
    return _port_number(path, 0 if value is None else value)


def _target_port(path: str, value: Any) -> List[SchemaError]:
    if value in (None, "", 0):
        return []  # unset: the API server defaults it to the port
    return _named_port(path, value)


def service(obj: Dict[str, Any]) -> List[SchemaError]:
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        return [_invalid("spec", spec, "must be an object")]
    errors: List[SchemaError] = []
    service_type = spec.get("type") or "ClusterIP"  # unset, null or empty: defaulted
    if service_type not in SERVICE_TYPES:
        errors.append(SchemaError("spec.type", "Unsupported value: %s: supported values: %s"
                                  % (go_quote(service_type), ", ".join(go_quote(t) for t in SERVICE_TYPES))))
    ports = spec.get("ports") or []
    if not isinstance(ports, list):
        return errors + [_invalid("spec.ports", ports, "must be a list")]
    if not ports and service_type != "ExternalName" and spec.get("clusterIP") != "None":
        errors.append(SchemaError("spec.ports", "Required value"))
    names = set()
    for index, port in enumerate(ports):
        path = "spec.ports[%d]" % index
        if not isinstance(port, dict):
            errors.append(_invalid(path, port, "must be an object"))
            continue
        name = port.get("name")
        if len(ports) > 1 and not name:
            errors.append(SchemaError(path + ".name", "Required value"))
        elif name:
            errors += dns_name(path + ".name", name, "label")
            if name in names:
                errors.append(SchemaError(path + ".name", "Duplicate value: %s" % go_quote(name)))
            names.add(name)
        errors += _port_number(path + ".port", port.get("port"))
        errors += _target_port(path + ".targetPort", port.get("targetPort"))
        protocol = port.get("protocol") or "TCP"
        if protocol not in PROTOCOLS:
            errors.append(SchemaError(path + ".protocol", "Unsupported value: %s: supported values: %s"
                                      % (go_quote(protocol), ", ".join(go_quote(p) for p in PROTOCOLS))))
    errors += label_map("spec.selector", spec.get("selector"))
    return errors


def _items(value: Any) -> List[Dict[str, Any]]:
    """The entries of a list of objects as decoded (a null entry is an empty object)."""
    return [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []


def _probe(path: str, probe: Dict[str, Any]) -> List[SchemaError]:
    handlers = [name for name in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(name) is not None]
    if not handlers:
        return [SchemaError(path, "Required value: must specify a handler type")]
    errors: List[SchemaError] = []
    for name in ("httpGet", "tcpSocket"):
        if isinstance(probe.get(name), dict):
            errors += _named_port("%s.%s.port" % (path, name), probe[name].get("port"))
    if isinstance(probe.get("grpc"), dict):
        errors += _port_number(path + ".grpc.port", probe["grpc"].get("port") or 0)
    return errors


def _security_context(path: str, context: Any) -> List[SchemaError]:
    errors = []
    for field in ("runAsUser", "runAsGroup"):
        value = _integral(context.get(field)) if isinstance(context, dict) else None
        if value is not None and not 0 <= value <= 2147483647:
            errors.append(_invalid("%s.%s" % (path, field), value, "must be between 0 and 2147483647, inclusive"))
    return errors


def _container(where: str, container: Dict[str, Any], volumes: List[str]) -> List[SchemaError]:
    errors: List[SchemaError] = []
    if not container.get("name"):
        errors.append(SchemaError(where + ".name", "Required value"))
    else:
        errors += dns_name(where + ".name", container["name"], "label")
    if not container.get("image"):
        errors.append(SchemaError(where + ".image", "Required value"))
    for number, port in enumerate(_items(container.get("ports"))):
        errors += _port_number("%s.ports[%d].containerPort" % (where, number), port.get("containerPort"))
    for number, variable in enumerate(_items(container.get("env"))):
        if not variable.get("name"):
            errors.append(SchemaError("%s.env[%d].name" % (where, number), "Required value"))
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(name), dict):
            errors += _probe("%s.%s" % (where, name), container[name])
    errors += _security_context(where + ".securityContext", container.get("securityContext"))
    for number, mount in enumerate(_items(container.get("volumeMounts"))):
        mount_path = "%s.volumeMounts[%d]" % (where, number)
        if not mount.get("name"):
            errors.append(SchemaError(mount_path + ".name", "Required value"))
        elif mount["name"] not in volumes:
            errors.append(SchemaError(mount_path + ".name", "Not found: %s" % go_quote(mount["name"])))
        if not mount.get("mountPath"):
            errors.append(SchemaError(mount_path + ".mountPath", "Required value"))
    return errors


def _tolerations(path: str, tolerations: Any) -> List[SchemaError]:
    errors: List[SchemaError] = []
    for index, toleration in enumerate(_items(tolerations)):
        where = "%s[%d]" % (path, index)
        key, operator = toleration.get("key") or "", toleration.get("operator") or ""
        if key:
            errors += qualified_name(where + ".key", key)
        if operator in ("", "Equal"):
            if not key:
                errors.append(_invalid(where + ".operator", operator, "operator must be Exists when `key` is empty, "
                                       'which means "match all values and all keys"'))
        elif operator == "Exists":
            if toleration.get("value"):
                errors.append(_invalid(where + ".operator", toleration["value"],
                                       "value must be empty when `operator` is 'Exists'"))
        else:
            errors.append(SchemaError(where + ".operator", 'Unsupported value: %s: supported values: "Equal", "Exists"'
                                      % go_quote(operator)))
    return errors


def _containers(path: str, pod_spec: Any, restart_policies: Tuple[str, ...] = RESTART_POLICIES) -> List[SchemaError]:
    """A pod spec: its restart policy (among those its owner allows), containers, their ports, probes, resources,
    environment and volume mounts, its volumes and tolerations."""
    if not isinstance(pod_spec, dict):
        return [SchemaError(path, "Required value")]
    errors = _restart_policy(path, pod_spec, restart_policies)
    volumes = []
    for index, volume in enumerate(_items(pod_spec.get("volumes"))):
        if not volume.get("name"):
            errors.append(SchemaError("%s.volumes[%d].name" % (path, index), "Required value"))
        else:
            errors += dns_name("%s.volumes[%d].name" % (path, index), volume["name"], "label")
            volumes.append(volume["name"])
    errors += _security_context(path + ".securityContext", pod_spec.get("securityContext"))
    errors += _tolerations(path + ".tolerations", pod_spec.get("tolerations"))
    containers = pod_spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return errors + [SchemaError(path + ".containers", "Required value")]
    for field in ("initContainers", "containers"):
        for index, container in enumerate(_items(pod_spec.get(field))):
            where = "%s.%s[%d]" % (path, field, index)
            errors += (_container(where, container, volumes) if field == "containers" else []) + _resources(
                where + ".resources", container.get("resources"))
    return errors


def _restart_policy(path: str, pod_spec: Any, allowed: Tuple[str, ...]) -> List[SchemaError]:
    restart_policy = (pod_spec.get("restartPolicy") if isinstance(pod_spec, dict) else None) or "Always"  # defaulted
    if restart_policy in allowed:
        return []
    return [SchemaError(path + ".restartPolicy", "Unsupported value: %s: supported values: %s" % (
        go_quote(restart_policy), ", ".join(go_quote(policy) for policy in allowed)))]


def _resources(path: str, resources: Any) -> List[SchemaError]:
    """A container's requests: none above its limit for the same resource, none negative."""
    if not isinstance(resources, dict):
        return []
    limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
    errors: List[SchemaError] = []
    for field, amounts in (("limits", limits), ("requests", requests)):
        for name, amount in amounts.items():
            value = quantity_value(amount)
            if value is not None and value < 0:
                errors.append(_invalid("%s.%s[%s]" % (path, field, name), amount, "must be greater than or equal to 0"))
    for name, amount in requests.items():
        request, limit = quantity_value(amount), quantity_value(limits.get(name))
        if request is not None and limit is not None and request > limit:
            errors.append(_invalid("%s.requests" % path, amount, "must be less than or equal to %s limit of %s"
                                   % (name, limits[name])))
    return errors


_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(|[eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)$")
_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def quantity_value(amount: Any) -> Optional[Decimal]:
    """The amount of a quantity (``100m``, ``1.5Gi``, ``1e3``, a number); None for what is not one."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
        return None
    match = _QUANTITY.match(str(amount).strip())
    if match is None:
        return None
    number, suffix = Decimal(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    exponent = _DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:])  # E alone is exa, E3 an exponent
    return number.scaleb(exponent)


def _label_selector(path: str, selector: Any, owner: str) -> List[SchemaError]:
    if not isinstance(selector, dict):
        return [SchemaError(path, "Required value")]
    errors = label_map(path + ".matchLabels", selector.get("matchLabels"))
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errors.append(_invalid(path, selector, "empty selector is invalid for %s" % owner))
    return errors


def _selects_template(selector: Dict[str, Any], labels: Any) -> List[SchemaError]:
    match_labels = selector.get("matchLabels")
    if isinstance(match_labels, dict) and isinstance(labels, dict) and any(
            labels.get(key) != value for key, value in match_labels.items()):
        return [_invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")]
    return []


def _non_negative(spec: Dict[str, Any], fields: Tuple[str, ...]) -> List[SchemaError]:
    errors = []
    for field in fields:
        value = _integral(spec.get(field))
        if value is not None and value < 0:
            errors.append(_invalid("spec." + field, value, "must be greater than or equal to 0"))
    return errors


def _workload(obj: Dict[str, Any], owner: str, counts: Tuple[str, ...], pod_spec: bool = True) -> List[SchemaError]:
    """A controller of pods (apps/v1): a selector its pod template's labels match, non-negative counts, and a
    template whose pods always restart, with its pod spec validated unless ``pod_spec`` is false. ``owner``
    names the kind as the API server's messages name it."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [SchemaError("spec", "Required value")]
    errors = _label_selector("spec.selector", spec.get("selector"), owner)
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    errors += label_map("spec.template.metadata.labels", labels)
    if isinstance(spec.get("selector"), dict):
        errors += _selects_template(spec["selector"], labels)
    errors += _non_negative(spec, counts)
    if not pod_spec:
        return errors + _restart_policy("spec.template.spec", template.get("spec"), ("Always",))
    return errors + _containers("spec.template.spec", template.get("spec"), ("Always",))


def deployment(obj: Dict[str, Any]) -> List[SchemaError]:
    errors = _workload(obj, "deployment", ("replicas", "minReadySeconds", "revisionHistoryLimit"))
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    strategy = spec.get("strategy") if isinstance(spec.get("strategy"), dict) else {}
    if isinstance(strategy.get("rollingUpdate"), dict):
        errors += _rolling_update("spec.strategy.rollingUpdate", strategy["rollingUpdate"])
    return errors


def stateful_set(obj: Dict[str, Any]) -> List[SchemaError]:
    # The API server does not validate a StatefulSet's pod spec beyond its restart policy (a TODO upstream).
    return _workload(obj, "statefulset", ("replicas", "minReadySeconds"), pod_spec=False)


def daemon_set(obj: Dict[str, Any]) -> List[SchemaError]:
    return _workload(obj, "daemonset", ("minReadySeconds", "revisionHistoryLimit"))


def replica_set(obj: Dict[str, Any]) -> List[SchemaError]:
    # The API server's message says deployment for a ReplicaSet too.
    return _workload(obj, "deployment", ("replicas", "minReadySeconds"))


def job(obj: Dict[str, Any]) -> List[SchemaError]:
    """A Job (batch/v1): its pods never restart Always, and its selector is generated unless asked otherwise."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [SchemaError("spec", "Required value")]
    errors = _non_negative(spec, ("parallelism", "completions", "backoffLimit"))
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    errors += label_map("spec.template.metadata.labels", labels)
    selector = spec.get("selector")
    if selector is not None and spec.get("manualSelector") is not True:
        errors.append(_invalid("spec.selector", selector, "`selector` will be auto-generated"))
    elif spec.get("manualSelector") is True:  # any selector, even an empty one, its template's labels match
        if not isinstance(selector, dict):
            errors.append(SchemaError("spec.selector", "Required value"))
        else:
            errors += label_map("spec.selector.matchLabels", selector.get("matchLabels"))
            errors += _selects_template(selector, labels)
    return errors + _containers("spec.template.spec", template.get("spec"), ("OnFailure", "Never"))


def _int_or_percent(path: str, value: Any) -> Tuple[List[SchemaError], int]:
    """Errors of a count or percentage (maxSurge, maxUnavailable), and its amount (a null is 0)."""
    if isinstance(value, str):
        if not re.match("^[0-9]+%$", value):
            return [_invalid(path, value, "a valid percent string must be a numeric string followed by an ending '%' "
                                          "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")], 0
        return [], int(value[:-1])
    amount = _integral(value) or 0
    if amount < 0:
        return [_invalid(path, amount, "must be greater than or equal to 0")], amount
    return [], amount


def _rolling_update(path: str, rolling: Dict[str, Any]) -> List[SchemaError]:
    surge_errors, surge = _int_or_percent(path + ".maxSurge", rolling.get("maxSurge"))
    errors, unavailable = _int_or_percent(path + ".maxUnavailable", rolling.get("maxUnavailable"))
    errors = surge_errors + errors
    if isinstance(rolling.get("maxUnavailable"), str) and not errors and unavailable > 100:
        errors.append(_invalid(path + ".maxUnavailable", rolling["maxUnavailable"], "must not be greater than 100%"))
    if not errors and surge == 0 and unavailable == 0:
        errors.append(_invalid(path + ".maxUnavailable", rolling.get("maxUnavailable") or 0,
                               "may not be 0 when `maxSurge` is 0"))
    return errors


def pod(obj: Dict[str, Any]) -> List[SchemaError]:
    return _containers("spec", obj.get("spec"))


def namespace(obj: Dict[str, Any]) -> List[SchemaError]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    errors: List[SchemaError] = []
    finalizers = spec.get("finalizers") if isinstance(spec.get("finalizers"), list) else []
    for finalizer in finalizers:
        name = finalizer or ""
        errors += qualified_name("spec.finalizers", name)
        if name != "kubernetes" and "/" not in str(name):
            errors.append(_invalid("spec.finalizers", name,
                                   "name is neither a standard finalizer name nor is it fully qualified"))
    return errors


# kind (core or apps group) -> (namespaced, how metadata.name is checked, the kind's own rules).
CORE_KINDS = {
    ("", "Service"): (True, "1035", service),
    ("apps", "Deployment"): (True, "subdomain", deployment),
    ("apps", "StatefulSet"): (True, "subdomain", stateful_set),
    ("apps", "DaemonSet"): (True, "subdomain", daemon_set),
    ("apps", "ReplicaSet"): (True, "subdomain", replica_set),
    ("batch", "Job"): (True, "subdomain", job),
    ("", "Pod"): (True, "subdomain", pod),
    ("", "Namespace"): (False, "label", namespace),
}


def validate_core(group: str, kind: str, obj: Dict[str, Any]) -> Optional[List[SchemaError]]:
    """The errors of a core object, or None for a kind without built-in rules here."""
    rules = CORE_KINDS.get((group, kind))
    if rules is None:
        return None
    namespaced, name_kind, own = rules
    errors = object_meta(obj, namespaced, name_kind)
    return errors + (own(obj) if own is not None else [])
