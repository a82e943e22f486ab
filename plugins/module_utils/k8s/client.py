# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A thin JSON transport to the Kubernetes API, configured like kubernetes.core.

Throttling (429 from API Priority and Fairness, with Retry-After) and
transient unavailability (503) are retried: every method is retried, because
the API server answers them before it acts on a request, with the wait the
server asks for or an exponential backoff, both jittered and bounded.

The ``kubernetes`` package loads kubeconfigs (contexts, exec plugins, token
refresh) and holds the TLS settings; requests go through its REST client as
raw JSON, so large lists are not turned into model objects, and the code does
not depend on one OpenAPI generator's calling convention (client 37 returns
non-2xx responses, older clients raise ApiException for them).
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote, urlencode

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException
    from yaml import YAMLError
    K8S_IMPORT_ERROR: Optional[ImportError] = None
except ImportError as import_error:
    K8S_IMPORT_ERROR = import_error

JSON = "application/json"
# Answers the API server gives before acting on a request: safe to send again.
RETRIED_STATUSES = (429, 503)
MAX_ATTEMPTS = 12
BACKOFF_BASE = 0.2  # seconds; doubled per attempt
BACKOFF_CAP = 10.0  # seconds, for one wait, including a Retry-After the server asks for
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


class ClusterError(Exception):
    """The cluster cannot be used at all: bad kubeconfig, unreachable, unauthorised."""


class Forbidden(Exception):
    """RBAC denied one request; the caller decides whether the scan can go on."""


class NotFound(Exception):
    """The path is not served (a missing API group or CRD), or the object does not exist."""


class Conflict(Exception):
    """409: another field manager owns fields we apply, or the object changed meanwhile."""


class Invalid(Exception):
    """422: the API server (with the CRD schemas) rejected the object; the message names the field."""


SET_KUBECONFIG = "set `kubeconfig` (or K8S_AUTH_KUBECONFIG, or KUBECONFIG)"
SET_HOST = "or give `host` with `api_key` (K8S_AUTH_HOST, K8S_AUTH_API_KEY)"


def _configuration(params: Dict[str, Any]) -> "k8s_client.Configuration":
    configuration = k8s_client.Configuration()
    kubeconfig, context = params.get("kubeconfig"), params.get("context")
    explicit = params.get("host") and (params.get("api_key") or params.get("client_cert"))
    if isinstance(kubeconfig, dict):
        _load_kubeconfig(lambda: k8s_config.load_kube_config_from_dict(
            kubeconfig, context=context, client_configuration=configuration), "the kubeconfig given inline", context)
    elif kubeconfig or context or not explicit:
        path = os.path.expanduser(kubeconfig or os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
        if kubeconfig and not os.path.exists(path):
            raise ClusterError("kubeconfig %s does not exist: %s" % (path, SET_KUBECONFIG))
        if kubeconfig or os.path.exists(path):
            _load_kubeconfig(lambda: k8s_config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration), path, context)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except ConfigException as error:
                raise ClusterError("cannot use the in-cluster service account: %s; %s" % (error, SET_KUBECONFIG)) from None
        else:
            raise ClusterError("no kubeconfig found (%s does not exist and this is not a pod in a cluster): %s, %s"
                               % (path, SET_KUBECONFIG, SET_HOST))
    overrides = {"host": "host", "ca_cert": "ssl_ca_cert", "client_cert": "cert_file", "client_key": "key_file",
                 "validate_certs": "verify_ssl"}
    for option, attribute in overrides.items():
        if params.get(option) is not None:
            setattr(configuration, attribute, params[option])
    if params.get("api_key"):
        configuration.api_key = {"authorization": "Bearer " + params["api_key"]}
        configuration.api_key_prefix = {}
    # Fail fast on an unreachable server instead of urllib3's default retries.
    configuration.retries = 1
    configuration.connection_pool_maxsize = 8  # batch applies run requests in parallel
    return configuration


def _load_kubeconfig(load: Any, where: str, context: Optional[str]) -> None:
    """Run a kubeconfig loader; its failures become one sentence naming the cause and what to set."""
    try:
        load()
    except (OSError, UnicodeDecodeError) as error:
        raise ClusterError("cannot read kubeconfig %s: %s; %s" % (where, getattr(error, "strerror", None) or error,
                                                                  SET_KUBECONFIG)) from None
    except (ConfigException, YAMLError, ValueError, TypeError, AttributeError) as error:
        text = " ".join(str(error).split())
        if context and context in text and ("not found" in text or "Expected" in text):
            raise ClusterError("context %r is not in kubeconfig %s: set `context` (or K8S_AUTH_CONTEXT) to one of "
                               "its contexts" % (context, where)) from None
        if "current-context" in text:
            raise ClusterError("kubeconfig %s names no current context: set `context` (or K8S_AUTH_CONTEXT)"
                               % where) from None
        raise ClusterError("cannot use kubeconfig %s: %s; %s" % (where, text.splitlines()[0][:300] if text else
                                                                 type(error).__name__, SET_KUBECONFIG)) from None


class KubernetesAPI:
    """GET/POST/PATCH/DELETE of raw JSON against one API server."""

    def __init__(self, params: Dict[str, Any]) -> None:
        self.configuration = _configuration(params)
        self.api_client = k8s_client.ApiClient(self.configuration)
        self.timeout = params.get("request_timeout") or 30

    @property
    def host(self) -> str:
        return self.configuration.host

    def _auth_headers(self) -> Dict[str, str]:
        try:
            token = self.configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
        except TypeError:  # clients before 29 take no alias
            token = self.configuration.get_api_key_with_prefix("authorization")
        return {"Authorization": token} if token else {}

    def request(self, method: str, path: str, query: Optional[List[Tuple[str, Any]]] = None, body: Any = None,
                content_type: str = JSON, accept: str = JSON) -> Any:
        """One request; returns the decoded JSON body or raises a clear error."""
        url = self.configuration.host.rstrip("/") + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": accept}
        headers.update(self._auth_headers())
        if body is not None:
            headers["Content-Type"] = content_type
            # JSON content types are encoded by the client itself; others must arrive as text.
            if "json" not in content_type:
                body = json.dumps(body)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            status, data, retry_after = self._send(method, url, headers, body)
            if status not in RETRIED_STATUSES or attempt == MAX_ATTEMPTS:
                break
            time.sleep(backoff(attempt, retry_after))
        return self._decode(method, path, status, data)

    def _send(self, method: str, url: str, headers: Dict[str, str], body: Any) -> Tuple[int, Any, Optional[str]]:
        """(status, body, Retry-After header) of one request."""
        try:
            response = self.api_client.rest_client.request(method, url, headers=headers, body=body,
                                                           _request_timeout=self.timeout)
            data = response.data if getattr(response, "data", None) is not None else response.read()
            return response.status, data, _header(response, "Retry-After")
        except ApiException as error:
            return error.status, error.body, (error.headers or {}).get("Retry-After")
        except urllib3.exceptions.HTTPError as error:
            raise ClusterError("cannot reach the Kubernetes API at %s: %s; check `host` (K8S_AUTH_HOST) or the "
                               "kubeconfig's server" % (self.host, _reason(error))) from None

    def _decode(self, method: str, path: str, status: int, data: Any) -> Any:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = None
        if 200 <= status < 300:
            return payload
        message = payload.get("message") if isinstance(payload, dict) else text.strip()[:300]
        if status == 403:
            raise Forbidden(message or "forbidden")
        if status == 404:
            raise NotFound(message or "not found")
        if status == 409:
            raise Conflict(message or "conflict")
        if status == 422:
            raise Invalid(message or "invalid")
        if status == 401:
            raise ClusterError("the Kubernetes API at %s rejected the credentials (401 Unauthorized: expired or wrong "
                               "token or certificate): refresh the kubeconfig, or set `api_key` (K8S_AUTH_API_KEY) or "
                               "`client_cert`/`client_key`" % self.host)
        if status in RETRIED_STATUSES:
            raise ClusterError("the Kubernetes API at %s is %s (HTTP %d) and still was after %d attempts: %s"
                               % (self.host, "throttling requests" if status == 429 else "unavailable", status,
                                  MAX_ATTEMPTS, message))
        if status == 0:
            raise ClusterError("cannot reach the Kubernetes API at %s: %s" % (self.host, message))
        raise ClusterError("%s %s failed with HTTP %d: %s" % (method, path, status, message))

    def list_pages(self, path: str, page_size: int, accept: str = JSON,
                   label_selector: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Every item of a list, following ``continue`` tokens page by page."""
        token = None
        while True:
            query: List[Tuple[str, Any]] = [("limit", page_size)]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if token:
                query.append(("continue", token))
            page = self.request("GET", path, query=query, accept=accept) or {}
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return


def backoff(attempt: int, retry_after: Optional[str]) -> float:
    """Seconds to wait before attempt ``attempt + 1``: at least what the server asked, jittered, at most the cap."""
    try:
        asked = float(retry_after) if retry_after else 0.0
    except ValueError:  # an HTTP date: the API server sends seconds, others may not
        asked = 1.0
    exponential = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1)))
    # Full jitter above the floor the server asked for, so parallel clients do not retry in step.
    return min(BACKOFF_CAP, asked + random.uniform(0, exponential))  # nosec B311 - jitter, not cryptography


def _header(response: Any, name: str) -> Optional[str]:
    getter = getattr(response, "getheader", None)
    if getter is not None:
        return getter(name)
    return (getattr(response, "headers", None) or {}).get(name)


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:300]


def namespaced_path(base: str, namespace: Optional[str], plural: str) -> str:
    """``/api/v1/services`` or ``/api/v1/namespaces/<ns>/services``."""
    if namespace is None:
        return "%s/%s" % (base, plural)
    return "%s/namespaces/%s/%s" % (base, quote(namespace, safe=""), plural)
