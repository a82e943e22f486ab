#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: istio_integrity_facts
short_description: Check the integrity of Istio traffic configuration, live or from manifest files
version_added: 0.1.0
description:
  - Loads Gateways, VirtualServices, DestinationRules, ServiceEntries, Sidecars, Services, Namespaces, Pods and
    Deployments (in files also the pod templates of StatefulSets, DaemonSets, ReplicaSets and Jobs), Secret names,
    the Kubernetes Gateway API's Gateways, GatewayClasses, HTTPRoutes, GRPCRoutes, TCPRoutes, TLSRoutes and
    ReferenceGrants (v1, or the v1beta1/v1alpha2 a cluster still serves), and the selectors of Istio's
    AuthorizationPolicies, RequestAuthentications, Telemetries and WasmPlugins into an in-memory relational model,
    resolves every reference the way Istio does at runtime, and runs the integrity checks.
  - The check catalogue, with each code's severity, how its references resolve, its C(istioctl analyze) and
    Kiali equivalents and examples, is C(docs/checks.md) in the collection.
  - Returns the violations, with codes of their own and the equivalent C(istioctl analyze) and Kiali codes,
    and a repair plan, as the C(istio_integrity) fact. It never changes the cluster.
  - Sources are manifest files (O(src), for GitOps folders checked before anything is applied), the live
    cluster (O(live)), or both at once.
  - A scan that could not read everything it was asked to (a forbidden namespace, a skipped document) is
    reported with C(summary.complete=false) and is never C(consistent).
author:
  - meshops maintainers (@meshops)
extends_documentation_fragment:
  - meshops.istio_integrity.k8s_auth
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
options:
  src:
    description:
      - Manifest files, directories or glob patterns (V(manifests/**/*.yaml)) to load. Directories are read
        recursively for C(.yaml), C(.yml) and C(.json) files; files may hold several YAML documents and C(List)
        kinds.
      - A relative path is found on the controller as C(kubernetes.core.k8s) finds O(src), in the role's
        C(files) directory, the role, the playbook's C(files) directory, then the playbook directory. When the
        play runs on a remote host, the files are copied to it for the check.
      - Documents of kinds the checks do not read are ignored and counted; unusable documents are skipped
        and reported with their file and document number.
      - A path that does not exist, or a pattern that matches nothing, fails the task naming it.
      - V(-) reads manifests from the standard input of C(ansible-playbook) on the controller (as O(content)).
    type: list
    elements: path
    default: []
  content:
    description:
      - Manifests as text (YAML documents or JSON), checked as if read from a file named C(stdin).
    type: str
  base_dir:
    description:
      - Directory that the C(file) of each finding is relative to (the repository root in a CI pipeline, so
        that code scanning can place the findings).
      - Defaults to the directory a relative O(src) was found in, so a finding reads as the path was given
        (C(manifests/vs.yaml)); files given by absolute path are shown absolute.
    type: path
  suppress:
    description:
      - Findings not to count, each as C(CODE) or C(CODE=Kind name.namespace), the form C(istioctl analyze -S)
        takes. C(CODE) is one of our codes or an C(istioctl analyze) or Kiali code; both parts take shell
        globs (V(MSH5*=Service *.legacy), V(IST0118=*)).
      - Objects can carry their own suppressions, Istio's annotation C(galley.istio.io/analyze-suppress)
        (IST codes, honoured for findings that carry those codes) and C(meshops.io/integrity-suppress) (our
        codes); V(*) in either suppresses all.
      - Suppressed findings are not counted toward C(summary.errors) and C(summary.warnings) and get no
        repair action; they are returned in C(suppressed) with the reason.
    type: list
    elements: str
    default: []
  graph:
    description:
      - The traffic graph to return in C(graph), as nodes and edges (Gateway, VirtualService, Service or
        ServiceEntry, DestinationRule subset, workload; broken references as edges to placeholder nodes).
      - V(broken) is the objects with findings and the other parties they name, with placeholders and the edges
        among them (small and quick whatever the mesh size); V(all) is the whole mesh, for the HTML report;
        V(none) leaves it out.
    type: str
    choices: [none, broken, all]
    default: broken
  graph_file:
    description:
      - Write the graph to this JSON file on the controller instead of returning it in the facts, so that a
        whole-mesh graph does not go into the job's events; C(graph_file) in the facts names it (absolute).
      - A relative path is taken from the playbook's directory, where a C(copy) task's relative C(dest)
        lands. A path inside an installed copy of this collection is refused.
    type: path
  baseline:
    description:
      - An earlier report of this module, its JSON facts (C(integrity.json)) or its SARIF log, to compare with.
        Each finding gets C(baseline) V(new), V(unchanged) or V(updated) by fingerprint, and
        C(baseline_absent) lists the earlier findings that are gone.
      - A relative path is found on the controller as O(src) is.
    type: path
  live:
    description:
      - Read the objects from the cluster given by the connection options.
      - Defaults to V(true) when O(src) is empty and V(false) otherwise.
      - With O(src) or O(content) too, the documents are validated against the CustomResourceDefinitions the
        cluster serves (of the Istio and Gateway API groups), not the ones pinned in the collection, so the verdict
        follows the cluster's versions; this needs C(list) and C(get) on C(customresourcedefinitions)
        (apiextensions.k8s.io), and where RBAC forbids them the pinned schemas are used and C(summary.notes) says so.
        The built-in kinds' fields and types (Service, Pod, Namespace, Secret, Deployment, StatefulSet, DaemonSet,
        ReplicaSet, Job) likewise come from the cluster's OpenAPI v3 (C(/openapi/v3/api/v1),
        C(/openapi/v3/apis/apps/v1), C(/openapi/v3/apis/batch/v1), readable by any authenticated account by
        default), the pinned ones where it cannot be read.
    type: bool
  namespaces:
    description:
      - Namespaces to read from the cluster. All namespaces when empty.
      - References to objects in namespaces outside the scan cannot be verified; they are counted in
        C(summary.unverifiable_references) instead of being reported as missing.
    type: list
    elements: str
    default: []
  label_selector:
    description:
      - Report only violations of objects whose labels match this selector (C(app=reviews,tier!=db),
        C(team in (a,b))). Every object is still loaded, so references resolve against the whole mesh.
    type: str
  domain:
    description:
      - The cluster's DNS domain, used to resolve short host names.
    type: str
    default: cluster.local
  default_namespace:
    description:
      - Namespace of manifests that do not set C(metadata.namespace).
    type: str
    default: default
  checks:
    description:
      - Codes of the checks to run (for example V(MSH101)). All checks when empty.
    type: list
    elements: str
    default: []
  skip_checks:
    description:
      - Codes of checks not to run. Kinds only some checks read are listed from the cluster only when one of
        them runs, that is Secret names (V(MSH109), V(MSH603)), Pods (V(MSH401), V(MSH402), V(MSH403),
        V(MSH404), V(MSH206)) and Deployments (V(MSH209), V(MSH210), V(MSH406)).
    type: list
    elements: str
    default: []
  gateway_selector:
    description:
      - Selector of the Gateways the repair plan creates for missing Gateway references.
    type: dict
    default:
      istio: ingressgateway
  istio_namespace:
    description:
      - Istio's control-plane namespace, where its default ingress gateway runs.
    type: str
    default: istio-system
  assume_istio_defaults:
    description:
      - When checking manifest files only, assume what every Istio install has, as C(istioctl analyze) does
        offline, that is its default ingress gateway workload (C(istio=ingressgateway)) and Service in
        O(istio_namespace), unless the files bring one or describe running Pods (then they are the live
        state). The assumed objects are never reported on.
      - The assumed Service's ports are not assumed (installs change them), so the ports of Gateways it
        serves are not judged (V(MSH403)) but counted in C(summary.unverifiable_references); name them with
        O(gateway_ports) or give the gateway's Service in O(src).
    type: bool
    default: true
  gateway_ports:
    description:
      - When checking manifest files only, the ports of gateway Services the files do not hold, so that
        Gateway server ports are judged against them (V(MSH403), Istio's IST0162) rather than counted in
        C(summary.unverifiable_references). A server port is fine when it is one of these numbers (give a
        Service's ports and, where they differ, its target ports).
      - Each entry stands for a Service in O(gateway_ports[].namespace) selecting the gateway workloads
        with the labels O(gateway_ports[].selector), and for such a workload when the files have none.
      - Ignored when reading a live cluster, whose Services are the truth.
    type: list
    elements: dict
    default: []
    suboptions:
      selector:
        description:
          - Labels of the gateway workload, as the Gateways' C(spec.selector) names them.
        type: dict
        required: true
      namespace:
        description:
          - Namespace of the gateway workload and its Service. O(istio_namespace) when not given.
        type: str
      ports:
        description:
          - Port and target port numbers of the gateway Service.
        type: list
        elements: int
        required: true
  system_namespaces:
    description:
      - Namespaces Istio treats as system namespaces, where no port-name or workload findings are given.
      - O(istio_namespace) is always one of them.
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease, local-path-storage]
  include_objects:
    description:
      - Return the list of checked objects in C(istio_integrity.objects) (a JUnit test case per passing object).
      - Off by default so that the result of a large mesh stays small for AWX's job events and for facts; the
        findings, the counts in C(summary) and the repair plan are returned either way.
    type: bool
    default: false
  yaml_loader:
    description:
      - How manifest files are parsed. Either way a value is what the Kubernetes API server decodes (an unquoted
        V(on) is a boolean, V(1e2) the number 100, V(0o17) the number 15, a date a string).
      - V(auto) uses the fast parser (the optional Python package C(fastyaml-rs)) for every file it reads exactly
        as the API server does, and PyYAML for the rest; V(pyyaml) uses PyYAML for every file.
      - C(summary.loader) says which parser read how many files.
    type: str
    default: auto
    choices: [auto, pyyaml]
  max_file_size:
    description:
      - Files larger than this many bytes are skipped and reported.
    type: int
    default: 16777216
  page_size:
    description:
      - Objects per page when listing from the cluster.
    type: int
    default: 500
notes:
  - Pods and Secrets are listed as metadata only; the module never reads secret data.
  - Checks that need workloads, Deployments or Secrets run only when those kinds were scanned;
    C(summary.checks_skipped) says which did not run and why.
  - Objects are told apart by API group as well as kind; a Kubernetes Gateway API C(Gateway) is never an Istio
    Gateway (findings on it have C(kind=Gateway) and C(api_group=gateway.networking.k8s.io)).
  - A cluster without the Gateway API is read without it (C(summary.notes) says so).
  - The mesh configuration (C(enableAutoMtls), C(rootNamespace)) comes from the C(mesh) key of the C(istio)
    ConfigMap in O(istio_namespace) (read live, or among the files), or from a MeshConfig document in the files
    (MeshConfig fields without C(kind), as C(istioctl analyze --meshConfigFile) reads them); Istio's defaults
    otherwise. C(summary.mesh_config) says which was used.
"""

EXAMPLES = r"""
- name: Check the live mesh
  meshops.istio_integrity.istio_integrity_facts:
    kubeconfig: ~/.kube/config

- name: Check a GitOps folder before it is applied
  meshops.istio_integrity.istio_integrity_facts:
    src:
      - "{{ playbook_dir }}/manifests/"
    default_namespace: bookinfo

- name: In a pull-request pipeline, fail on findings that are new since the main branch's report only
  meshops.istio_integrity.istio_integrity_facts:
    src: [manifests/]
    base_dir: "{{ lookup('ansible.builtin.env', 'PWD') }}"
    baseline: reports/main/integrity.sarif
    suppress:
      - MSH502=Service *.legacy

- name: Check two namespaces of a cluster, only our team's objects, without the hygiene checks
  meshops.istio_integrity.istio_integrity_facts:
    context: prod-eu
    namespaces: [bookinfo, istio-system]
    label_selector: team=payments
    skip_checks: [MSH501, MSH502]

- name: Check a GitOps folder whose gateway Service (with a TCP port for tcp-echo) is not in it
  meshops.istio_integrity.istio_integrity_facts:
    src: [manifests/]
    gateway_ports:
      - selector: {istio: ingressgateway}
        ports: [80, 443, 31400]

- name: Fail when the mesh has errors
  ansible.builtin.assert:
    that: istio_integrity.summary.errors == 0
    fail_msg: "{{ istio_integrity.violations | selectattr('severity', 'eq', 'error') | map(attribute='message') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts set by the module.
  returned: always
  type: dict
  contains:
    istio_integrity:
      description: The result of the integrity check.
      returned: always
      type: dict
      contains:
        summary:
          description:
            - Counts by severity and code, objects scanned per kind, ignored kinds, skipped documents,
              checks run and skipped.
            - C(consistent) is true only for a C(complete) scan with no error and no warning.
            - C(notes) says which optional kinds (Namespaces, GatewayClasses, Gateway API kinds on a cluster
              without the Gateway API, Istio's security policies) a live scan could not read, and, checking files
              against a live cluster, when its CustomResourceDefinitions or its OpenAPI v3 could not be read (RBAC).
            - C(schema_sources) says, per API group documents are validated against (the CRDs' groups, and C(core),
              C(apps) and C(batch) for the built-in kinds), where the schemas came from, V(pinned) (shipped with the
              collection) or V(cluster) (the CRDs and the OpenAPI v3 the live cluster serves, when O(src) or
              O(content) is checked with O(live=true)); C(not_validated) lists what could not be validated offline
              and why.
            - C(loader) says which YAML parser read how many files (C(files)), the fast one available (C(fast), null
              when C(fastyaml-rs) is not installed), and for the first few files it did not read, why (C(fallbacks)).
          returned: always
          type: dict
          sample:
            consistent: false
            complete: true
            suppressed: 1
            suppressed_by_code: {MSH502: 1}
            new: {error: 1, warning: 0, info: 0}
            incomplete_reasons: []
            violations: 2
            errors: 1
            warnings: 1
            infos: 0
            by_code: {MSH101: 1, MSH106: 1}
            scanned: {DestinationRule: 3, Gateway: 1, Service: 3, VirtualService: 2}
            skipped_documents: 0
            schema_sources: {apps: cluster, batch: cluster, core: cluster, gateway.networking.k8s.io: cluster,
                             networking.istio.io: cluster}
            not_validated: []
            loader: {fast: fastyaml-rs 0.7.0, files: {fastyaml-rs 0.7.0: 12}, fallbacks: []}
        violations:
          description:
            - One entry per violation and offending field, errors first, on the object Istio reports it on.
            - C(istio_code) and C(kiali_code) are the equivalent C(istioctl analyze) and Kiali codes, empty where
              that tool would not report this finding.
            - For a conflict every party gets a violation; C(related) names the other parties, and
              C(repair_target) says whether the repair plan changes this party (the newer ones) or not.
            - From files, C(file), C(line) and C(column) give where the object starts and C(field_line),
              C(field_column) where the offending field is; C(message) then begins with C(file:line:column).
            - C(fingerprint) identifies the finding across commits (code, object, field without list positions,
              target), whatever file or line it is on; C(baseline) is set when O(baseline) is given.
          returned: always
          type: list
          elements: dict
          sample:
            - id: "MSH101:VirtualService/bookinfo/reviews:spec.gateways[0]"
              code: MSH101
              istio_code: IST0101
              kiali_code: KIA1102
              severity: error
              title: VirtualService references a Gateway that does not exist
              kind: VirtualService
              namespace: bookinfo
              name: reviews
              path: spec.gateways[0]
              message: >-
                VirtualService bookinfo/reviews: spec.gateways[0] references Gateway 'bookinfo/main',
                which does not exist (did you mean 'istio-system/main'?)
              target: bookinfo/main
              related: []
              managed: true
              source: manifests/vs.yaml#1
              file: manifests/vs.yaml
              line: 1
              column: 1
              field_line: 9
              field_column: 5
              fingerprint: 3f0c2a1b9d8e7f6a5b4c3d2e1f0a9b8c
              baseline: new
              repair: A1
        suppressed:
          description:
            - Findings that a suppression annotation or O(suppress) silenced, shaped as C(violations), each with
              C(suppressed_by) naming the annotation or rule.
          returned: always
          type: list
          elements: dict
        baseline_absent:
          description: Findings of the O(baseline) that are gone (C(fingerprint), C(severity), C(message)).
          returned: when O(baseline) is given
          type: list
          elements: dict
        graph:
          description:
            - C(nodes) (C(id), C(kind), C(namespace), C(name), C(layer), C(findings) ids, worst C(severity),
              C(missing) for placeholders) and C(edges) (C(source), C(target), C(kind) binds, routes, subset,
              selects, missing, conflict or related, C(broken), C(codes)).
          returned: when O(graph) is not V(none) and O(graph_file) is not given
          type: dict
        graph_file:
          description: Where the graph was written, when O(graph_file) is given.
          returned: when O(graph_file) is given
          type: str
        repair_plan:
          description:
            - At most one action per object. C(action) is C(delete), C(create) (with C(manifest)),
              C(patch) (a JSON patch in C(patch)) or C(manual) (with the C(reason)).
            - C(safe) is true only when every object the action touches carries the
              C(app.kubernetes.io/managed-by=meshops.istio_integrity) label.
          returned: always
          type: list
          elements: dict
          sample:
            - id: A1
              action: create
              kind: Gateway
              namespace: bookinfo
              name: main
              safe: true
              reason: missing Gateway referenced by 1 VirtualService(s)
              violations: ["MSH101:VirtualService/bookinfo/reviews:spec.gateways[0]"]
              manifest: {apiVersion: networking.istio.io/v1, kind: Gateway}
        skipped:
          description: Documents or files that could not be used, with the reason.
          returned: always
          type: list
          elements: dict
          sample:
            - source: manifests/broken.yaml
              document: 2
              reason: "VirtualService: spec.hosts: expected a list, got string"
        objects:
          description: Every checked object (kind, namespace, name), when O(include_objects) is true.
          returned: when O(include_objects=true)
          type: list
          elements: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.args import CONNECTION_ARG_SPEC
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import IntegrityRequest, RunError, run_integrity
from ansible_collections.meshops.istio_integrity.plugins.module_utils.sources.files import YAML_IMPORT_ERROR


def main() -> None:
    argument_spec = dict(
        src=dict(type="list", elements="path", default=[]),
        live=dict(type="bool"),
        namespaces=dict(type="list", elements="str", default=[]),
        label_selector=dict(type="str"),
        domain=dict(type="str", default="cluster.local"),
        default_namespace=dict(type="str", default="default"),
        checks=dict(type="list", elements="str", default=[]),
        skip_checks=dict(type="list", elements="str", default=[]),
        gateway_selector=dict(type="dict", default={"istio": "ingressgateway"}),
        include_objects=dict(type="bool", default=False),
        yaml_loader=dict(type="str", default="auto", choices=["auto", "pyyaml"]),
        istio_namespace=dict(type="str", default="istio-system"),
        assume_istio_defaults=dict(type="bool", default=True),
        gateway_ports=dict(type="list", elements="dict", default=[], options=dict(
            selector=dict(type="dict", required=True),
            namespace=dict(type="str"),
            ports=dict(type="list", elements="int", required=True))),
        system_namespaces=dict(type="list", elements="str",
                               default=["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]),
        max_file_size=dict(type="int", default=16 * 1024 * 1024),
        page_size=dict(type="int", default=500),
        base_dir=dict(type="path"),
        graph=dict(type="str", default="broken", choices=["none", "broken", "all"]),
        graph_file=dict(type="path"),
        content=dict(type="str"),
        suppress=dict(type="list", elements="str", default=[]),
        baseline=dict(type="path"),
    )
    argument_spec.update(CONNECTION_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if YAML_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=str(YAML_IMPORT_ERROR))
    try:
        result = run_integrity(IntegrityRequest.from_params(module.params))
    except RunError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, ansible_facts={"istio_integrity": result})


if __name__ == "__main__":
    main()
