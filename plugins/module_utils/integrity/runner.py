# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One integrity run: validate the request, load the sources, analyse.

Modules call ``run_integrity``; every failure a user can cause or fix comes
out as ``RunError`` with a message that says what to change.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import checks as catalogue
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import (
    engine, label_selector, loading, triage)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.graph import mesh_graph
from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.admission import SchemaGate
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import files as sources
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.kinds import TARGETABLE_POLICY_KINDS
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.locations import Locator
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.model import (
    DEFAULT_ISTIO_NAMESPACE, DEFAULT_SYSTEM_NAMESPACES, GATEWAY_API_KINDS, ISTIO_KINDS, KUBERNETES_GATEWAY, MeshModel)


STDIN = "stdin"


class RunError(Exception):
    """A clear, user-facing reason the run cannot proceed."""


@dataclass
class IntegrityRequest:
    src: List[str] = field(default_factory=list)
    live: bool = False
    namespaces: List[str] = field(default_factory=list)
    label_selector: Optional[str] = None
    domain: str = "cluster.local"
    default_namespace: str = "default"
    checks: List[str] = field(default_factory=list)
    skip_checks: List[str] = field(default_factory=list)
    gateway_selector: Dict[str, str] = field(default_factory=lambda: {"istio": "ingressgateway"})
    istio_namespace: str = DEFAULT_ISTIO_NAMESPACE
    system_namespaces: List[str] = field(default_factory=lambda: list(DEFAULT_SYSTEM_NAMESPACES))
    assume_istio_defaults: bool = True
    # Files only: the ports of gateway Services the files lack ({selector, namespace, ports} each).
    gateway_ports: List[Dict[str, Any]] = field(default_factory=list)
    include_objects: bool = False
    # auto: the fast parser for the files it reads exactly as the API server does; pyyaml: PyYAML for all.
    yaml_loader: str = "auto"
    max_file_size: int = sources.DEFAULT_MAX_FILE_SIZE
    page_size: int = 500
    # Manifest text read from standard input, checked as a file named ``stdin``.
    content: Optional[str] = None
    suppress: List[str] = field(default_factory=list)
    # The traffic graph in the result: none, the broken part, or all of it.
    graph: str = "none"
    baseline: Optional[str] = None
    base_dir: Optional[str] = None
    connection: Dict[str, Any] = field(default_factory=dict)
    # Kinds listed in every namespace even when ``namespaces`` limits the scan (the write-time guard's claims).
    mesh_wide_kinds: List[str] = field(default_factory=list)
    # In-memory objects loaded before any other source (what is about to be applied), and
    # identities (kind, namespace, name) to treat as deleted: both take precedence over live copies.
    objects: List[Dict[str, Any]] = field(default_factory=list)
    hidden: List[tuple] = field(default_factory=list)
    # Validate documents from files as the API server would (schema.admission).
    schema_validation: bool = True

    @classmethod
    def from_params(cls, params: Dict[str, Any]) -> "IntegrityRequest":
        names = set(cls.__dataclass_fields__) - {"connection", "live", "objects", "hidden", "mesh_wide_kinds"}
        request = cls(**{name: params[name] for name in names if params.get(name) is not None})
        request.live = params["live"] if params.get("live") is not None else not (request.src or request.content)
        request.connection = {key: params.get(key) for key in (
            "kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "client_cert", "client_key",
            "request_timeout")}
        return request

    def validate(self) -> None:
        if not self.src and not self.live and not self.objects and self.content is None:
            raise RunError("nothing to check: give 'src' (manifest files) or set 'live: true'")
        for name in ("max_file_size", "page_size"):
            if getattr(self, name) < 1:
                raise RunError("'%s' must be a positive integer, got %d" % (name, getattr(self, name)))
        if not self.domain or "/" in self.domain:
            raise RunError("'domain' must be a DNS domain such as cluster.local, got %r" % self.domain)
        bad = [key for key, value in self.gateway_selector.items() if not isinstance(value, str) or not value]
        if bad:
            raise RunError("'gateway_selector' values must be non-empty strings (check %s)" % ", ".join(map(str, bad)))
        for index, entry in enumerate(self.gateway_ports):
            _validate_gateway_ports(index, entry)

    def suppression_rules(self) -> List[triage.SuppressionRule]:
        try:
            return [triage.parse_rule(rule) for rule in self.suppress]
        except ValueError as error:
            raise RunError("'suppress': %s" % error) from None

    def baseline_findings(self) -> Optional[Dict[str, Dict[str, str]]]:
        """The earlier report's findings by fingerprint, or None without a baseline."""
        if not self.baseline:
            return None
        try:
            with open(self.baseline, "rb") as handle:
                text = handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise RunError("'baseline': cannot read %s: %s" % (self.baseline, getattr(error, "strerror", None) or error)) from None
        try:
            return triage.read_baseline(text, self.baseline)
        except ValueError as error:
            raise RunError("'baseline': %s" % error) from None

    def selected_codes(self) -> List[str]:
        try:
            return [check.code for check in engine.select_checks(self.checks, self.skip_checks)]
        except ValueError as error:
            raise RunError(str(error)) from None

    def scope(self):
        """The predicate deciding which objects' violations are reported, or None for all."""
        try:
            matches = label_selector.parse(self.label_selector) if self.label_selector else None
        except ValueError as error:
            raise RunError("'label_selector': %s" % error) from None
        namespaces = set(self.namespaces)
        if matches is None and not namespaces:
            return None
        return lambda kind, namespace, labels: ((not namespaces or namespace in namespaces)
                                                and (matches is None or matches(labels)))


# Files are the whole mesh configuration: none of these in them means there are none (a live read of a kind
# can fail, and is then not taken as complete).
FILES_DESCRIBE_ALL = ("PeerAuthentication", "ReferenceGrant", "GatewayClass", "Namespace", KUBERNETES_GATEWAY)


def live_kinds(codes: List[str]) -> List[str]:
    """The kinds to list: Pods, Deployments and Secret names only when a selected check needs them."""
    kinds = list(ISTIO_KINDS) + ["Service", "Namespace", "PeerAuthentication"] + list(GATEWAY_API_KINDS)
    kinds += list(TARGETABLE_POLICY_KINDS)
    needed = {kind for check in catalogue.CATALOGUE if check.code in codes for kind in check.requires}
    if catalogue.WORKLOADS in needed:
        kinds.append("Pod")
    kinds += [kind for kind in ("Deployment", "Secret") if kind in needed]
    return kinds


@contextlib.contextmanager
def _without_gc() -> Iterator[None]:
    """Loading builds millions of acyclic containers: generational GC scans them again and again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_integrity(request: IntegrityRequest) -> Dict[str, Any]:
    """Load every source into one model and analyse it."""
    with _without_gc():
        return _run(request)


def _run(request: IntegrityRequest) -> Dict[str, Any]:
    request.validate()
    codes = request.selected_codes()
    rules = request.suppression_rules()
    baseline = request.baseline_findings()
    api = _connect(request) if request.live else None
    model = MeshModel(request.domain, request.default_namespace, request.scope())
    report = sources.LoadReport()
    if request.schema_validation:
        report.schema = SchemaGate()
    texts = {STDIN: request.content} if request.content is not None else {}
    locator = Locator(report.places, request.base_dir, texts)
    incomplete: List[str] = []
    scanned_namespaces = None
    for identity in request.hidden:
        model.hide(*identity)
    for index, obj in enumerate(request.objects):
        loading.load_object(model, report, obj, "rendered#%d" % (index + 1), index + 1)
    try:
        schema_notes: List[str] = []
        if report.schema is not None and api is not None and (request.src or request.content is not None):
            # Documents about to be applied to this cluster: validated against the CRDs it serves.
            schema_notes = _follow_cluster_schemas(report.schema, api, request.page_size)
        if request.content is not None:
            loading.add_parsed(model, report, sources.parse_text(STDIN, request.content,
                                                                 fast=request.yaml_loader != "pyyaml"))
        if request.src:
            try:
                loading.load_paths(model, request.src, request.max_file_size, report,
                                   fast=request.yaml_loader != "pyyaml")
            except sources.SourceError as error:
                raise RunError(str(error)) from None
        notes: List[str] = []
        if api is not None:
            scanned_namespaces, live_incomplete, notes = _scan_cluster(request, api, model, report, codes)
            incomplete += live_incomplete
        else:
            model.mark_scanned(FILES_DESCRIBE_ALL)
            model.declare_gateway_ports(request.gateway_ports, request.istio_namespace)
            if request.assume_istio_defaults:
                # What every Istio install has is not in the files: assume it, as istioctl does offline.
                model.assume_istio_defaults(request.istio_namespace)
        for entry in report.skipped:
            _locate_skip(locator, entry)
        incomplete += ["%s%s: %s" % (entry["source"], _document(entry), entry["reason"]) for entry in report.skipped]
        result = engine.analyze(model, codes=codes, scanned_namespaces=scanned_namespaces,
                                incomplete_reasons=incomplete, skipped_documents=len(report.skipped),
                                ignored_kinds=report.ignored_kinds, gateway_selector=request.gateway_selector,
                                include_objects=request.include_objects,
                                system_namespaces=request.system_namespaces,
                                istio_namespace=request.istio_namespace, suppress=rules, live=request.live,
                                rejections=report.schema.rejections if report.schema else ())
        result["summary"]["notes"] = notes + schema_notes
        result["summary"]["loader"] = report.loader_summary()
        result["summary"]["not_validated"] = report.schema.summary() if report.schema else []
        result["summary"]["schema_sources"] = report.schema.catalogue.sources() if report.schema else {}
        if request.graph != "none":
            result["graph"] = mesh_graph(model, result["violations"], request.graph)
    finally:
        model.close()
    locator.annotate(result["violations"])
    locator.annotate(result["suppressed"])
    if baseline is not None:
        result["baseline_absent"] = triage.compare_to_baseline(result["violations"] + result["suppressed"], baseline)
        new = [violation for violation in result["violations"] if violation["baseline"] == "new"]
        result["summary"]["new"] = {severity: sum(1 for v in new if v["severity"] == severity)
                                    for severity in ("error", "warning", "info")}
    result["skipped"] = report.skipped
    result["checks"] = [{"code": check.code, "severity": check.severity, "title": check.title,
                         "istio_code": check.istio_code, "kiali_code": check.kiali_code}
                        for check in catalogue.CATALOGUE if check.code in codes]
    return result


def _locate_skip(locator: Locator, entry: Dict[str, Any]) -> None:
    """A skipped document's reason leads with file:line:col of the field at fault, as findings do."""
    field_path = entry.pop("field", None)
    location = locator.locate(entry["source"], field_path) if field_path else None
    if location is not None:
        entry["reason"] = "%s:%d:%d: %s" % (location["file"], location.get("field_line", location["line"]),
                                            location.get("field_column", location["column"]), entry["reason"])
    entry["source"] = locator.display_source(entry["source"])


def _validate_gateway_ports(index: int, entry: Any) -> None:
    """An entry of 'gateway_ports': a selector of label strings, an optional namespace, port numbers."""
    where = "gateway_ports[%d]" % index
    if not isinstance(entry, dict) or set(entry) - {"selector", "namespace", "ports"}:
        raise RunError("'%s' must be a mapping of selector, namespace and ports, got %r" % (where, entry))
    selector = entry.get("selector")
    if not isinstance(selector, dict) or not selector or not all(
            isinstance(key, str) and isinstance(value, str) and key and value for key, value in selector.items()):
        raise RunError("'%s.selector' must be a non-empty mapping of label names to strings, got %r" % (where, selector))
    if entry.get("namespace") is not None and (not isinstance(entry["namespace"], str) or not entry["namespace"]):
        raise RunError("'%s.namespace' must be a namespace name, got %r" % (where, entry["namespace"]))
    ports = entry.get("ports")
    if not isinstance(ports, list) or not ports or not all(
            isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 for port in ports):
        raise RunError("'%s.ports' must be a non-empty list of port numbers (1-65535), got %r" % (where, ports))


def _document(entry: Dict[str, Any]) -> str:
    if not entry.get("document") or "#" in entry["source"]:
        return ""
    return " (document %d)" % entry["document"]


def _connect(request: IntegrityRequest):
    # Imported here so that file-only runs work without the kubernetes client.
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s import client
    if client.K8S_IMPORT_ERROR is not None:
        raise RunError("reading a live cluster needs the 'kubernetes' Python package on the host the module runs on "
                       "(pip install kubernetes): %s" % client.K8S_IMPORT_ERROR)
    try:
        return client.KubernetesAPI(request.connection)
    except client.ClusterError as error:
        raise RunError(str(error)) from None


def _follow_cluster_schemas(gate: SchemaGate, api, page_size: int) -> List[str]:
    """The cluster's CRDs and OpenAPI replace the pinned schemas; notes when RBAC does not let them be read."""
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import ClusterError
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema import cluster
    try:
        return cluster.follow_cluster(gate.catalogue, api, page_size)
    except ClusterError as error:
        raise RunError(str(error)) from None


def _scan_cluster(request: IntegrityRequest, api, model: MeshModel, report: sources.LoadReport, codes: List[str]):
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.client import ClusterError
    from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources import live
    try:
        scan = live.LiveScan(api, loading.ModelSink(model, report), request.page_size, request.namespaces or None, request.mesh_wide_kinds)
        scan.run(live_kinds(codes))
        scan.read_mesh_config(request.istio_namespace)
    except ClusterError as error:
        raise RunError(str(error)) from None
    return scan.scanned_namespaces, scan.incomplete, scan.notes
