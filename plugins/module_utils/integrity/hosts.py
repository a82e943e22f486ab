# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Istio's naming rules for hosts, gateway references and exportTo.

Everything here is a pure function: the model calls them at load time so that
references are stored in the exact form the registry uses, and the checks can
be plain equality joins.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

DEFAULT_DOMAIN = "cluster.local"
MESH_GATEWAY = "mesh"
EXPORT_EVERYWHERE = "*"


def service_fqdn(name: str, namespace: str, domain: str = DEFAULT_DOMAIN) -> str:
    """The registry name of a Kubernetes Service."""
    return "%s.%s.svc.%s" % (name, namespace, domain)


def resolve_host(host: str, namespace: str, domain: str = DEFAULT_DOMAIN) -> str:
    """Resolve a host as Istio does: no dot means a Service in the referring namespace."""
    host = host.strip().lower()
    if "." in host or host.startswith("*"):
        return host
    return service_fqdn(host, namespace, domain)


def lookup_keys(host: str) -> List[str]:
    """The host itself and every wildcard that covers it on a label boundary.

    ``a.b.example.com`` -> ``a.b.example.com``, ``*.b.example.com``,
    ``*.example.com``, ``*.com``, ``*``. Stored once per distinct host, these
    keys turn wildcard matching into an indexed equality join.
    """
    keys = [host]
    labels = host.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    elif host == "*":
        return keys
    for start in range(1, len(labels)):
        keys.append("*." + ".".join(labels[start:]))
    keys.append("*")
    return list(dict.fromkeys(keys))


def gateway_key(ref: str, namespace: str) -> Optional[str]:
    """``namespace/name`` of a Gateway reference, or None for the reserved ``mesh``.

    Accepts ``ns/name``, a bare ``name`` (the referring namespace) and the
    older dotted form ``name.ns[.svc.cluster.local]``.
    """
    ref = ref.strip()
    if ref == MESH_GATEWAY:
        return None
    if "/" in ref:
        ns, _slash, name = ref.partition("/")
        return "%s/%s" % (ns or namespace, name)
    if "." in ref:
        name, ns = ref.split(".")[:2]
        return "%s/%s" % (ns, name)
    return "%s/%s" % (namespace, ref)


def export_namespaces(values: Optional[Iterable[str]], namespace: str) -> List[str]:
    """Namespaces an object is visible from; ``*`` means every namespace.

    ``.`` is the object's own namespace, ``~`` exports nowhere, unset means
    everywhere (Istio's default).
    """
    if not values:
        return [EXPORT_EVERYWHERE]
    result = []
    for value in values:
        value = value.strip()
        if value == ".":
            result.append(namespace)
        elif value and value != "~":
            result.append(value)
    return list(dict.fromkeys(result))


def split_server_host(host: str, gateway_namespace: str) -> Tuple[str, str]:
    """Split a Gateway server host into (namespace scope, host name).

    ``ns/host`` admits VirtualServices of ``ns`` only, ``./host`` those of the
    Gateway's namespace, ``*/host`` and a bare host every namespace.
    """
    scope, sep, name = host.partition("/")
    if not sep:
        return EXPORT_EVERYWHERE, host.strip().lower()
    if scope == ".":
        scope = gateway_namespace
    return scope or EXPORT_EVERYWHERE, name.strip().lower()


def canonical_labels(labels: Optional[dict]) -> str:
    """A stable text form of a label map, so equal selectors compare equal in SQL."""
    if not labels:
        return ""
    return ",".join("%s=%s" % (key, labels[key]) for key in sorted(labels))
