#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: istio_meshservice
short_description: Render and apply a service's Kubernetes Service, Gateway, VirtualService, DestinationRule and ServiceEntries
version_added: 0.1.0
description:
  - Describes a service once (ports, hosts, gateway, versions, traffic rules, external calls) and keeps the
    Kubernetes Service, Istio Gateway, VirtualService, DestinationRule and ServiceEntries that follow from it
    applied, with server-side apply under the field manager C(meshops-istio-integrity).
  - One service from the task options, a MeshService custom resource (O(definition)), or a batch
    (O(meshservices)) applied in one task.
  - Nothing is written until every entry is valid, every rendered object passed a server-side dry run
    (Istio's CRD schemas, field-manager conflicts) and, with O(integrity=enforce), the change introduces no
    new error-level integrity violation (a host already claimed on the gateway, a route to a missing subset
    or service, a Gateway that does not exist and is not being created).
  - Every rendered object carries C(app.kubernetes.io/managed-by=meshops.istio_integrity) and
    C(meshops.io/meshservice=<name>); prune and O(state=absent) only ever delete objects carrying them.
author:
  - meshops maintainers (@meshops)
extends_documentation_fragment:
  - meshops.istio_integrity.meshservice
  - meshops.istio_integrity.k8s_auth
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Uses server-side dry run, so the API server still validates the objects.
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  definition:
    description:
      - A MeshService custom resource (API version C(mesh.istio.operator/v1alpha1), kind C(MeshService)) whose
        camelCase C(spec) holds the options of one meshservice (C(serviceName), C(hosts), C(gateway),
        C(ports), C(trafficPolicy), C(subsets), C(routes) and the rest).
      - When the resource was read from the API server (it has C(metadata.uid)), the objects rendered in its
        namespace carry an owner reference to it, so that Kubernetes' garbage collector removes them with it.
      - Task-level meshservice options fill in what the definition leaves out (as C(namespace) does for
        C(kubernetes.core.k8s)'s C(definition)), for example O(namespace) or O(gateway); the same setting given
        both ways with different values is an error naming both.
      - The gateway may be written as C(namespace/name) as well as C({name, namespace}).
    type: dict
  meshservices:
    description:
      - A batch, a list of meshservices, each either the options of one meshservice or a MeshService resource.
      - Applied in one task; one invalid entry fails the whole task, naming the entry and field, before any write.
      - A task-level O(api) applies to the entries that do not choose their own.
    type: list
    elements: dict
  state:
    description:
      - V(present) applies the rendered objects; V(absent) deletes every object the meshservice owns.
    type: str
    choices: [present, absent]
    default: present
  prune:
    description:
      - Delete objects the meshservice owns but no longer renders (a removed egress, O(gateway.create) turned off).
    type: bool
    default: true
  apply:
    description:
      - V(false) only renders (see RV(rendered)) and, with O(dest), writes the manifests; nothing touches the cluster.
    type: bool
    default: true
  dest:
    description:
      - Directory to write the rendered manifests to, one C(<namespace>-<name>.yaml) per meshservice (GitOps).
    type: path
  integrity:
    description:
      - V(enforce) fails, writing nothing, when the change introduces an error-level violation that is not already
        there; V(warn) reports them as warnings and applies; V(off) skips the check.
      - Checked codes are the reference and conflict checks (MSH101-MSH108, MSH201-MSH205, MSH301-MSH303);
        workload and Secret checks never block a write, since configuration is routinely applied first.
    type: str
    choices: [enforce, warn, 'off']
    default: enforce
  accept_unverifiable:
    description:
      - The guard reads every namespace the rendered objects reference (the namespace of a Gateway given as
        C(namespace/name), of a Service FQDN destination, of C(exportTo)) besides the namespaces written to, and the
        VirtualServices, Gateways, ServiceEntries and DestinationRules of every namespace, so that a clash with
        another team's namespace is seen (where the user may list them cluster-wide). Under
        O(integrity=enforce), a namespace it cannot read (RBAC) refuses the write, naming the namespace and the
        verb; V(true) writes anyway, leaving those references unverified.
    type: bool
    default: false
  force_conflicts:
    description:
      - Take over fields another field manager owns instead of failing on the conflict.
    type: bool
    default: false
  exclusive_namespaces:
    description:
      - Namespaces whose meshservices this task declares completely (GitOps style). Every object we own there
        that belongs to a meshservice not in this task is deleted (only with O(state=present)).
      - Meshservices are recognised by the C(meshops.io/meshservice) and C(meshops.io/meshservice-namespace) labels
        on objects that also carry our managed-by label.
    type: list
    elements: str
    default: []
notes:
  - Without O(routes), all traffic goes to the service, split by O(subsets[].weight) when weights are set.
"""

EXAMPLES = r"""
- name: A service behind the ingress gateway, with a 90/10 canary and retries
  meshops.istio_integrity.istio_meshservice:
    name: reviews
    namespace: bookinfo
    hosts: [reviews.example.com]
    ports: [{port: 9080, name: http}]
    gateway: {name: bookinfo-gateway, create: true}
    subsets:
      - {name: v1, labels: {version: v1}}
      - {name: v2, labels: {version: v2}}
    routes:
      - destinations: [{subset: v1, weight: 90}, {subset: v2, weight: 10}]
        retries: {attempts: 3, per_try_timeout: 2s, retry_on: "5xx,connect-failure"}
        timeout: 10s

- name: Header routing (A/B) with fault injection for the test user, and circuit breaking
  meshops.istio_integrity.istio_meshservice:
    name: ratings
    namespace: bookinfo
    ports: [{port: 9080}]
    subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
    traffic_policy:
      connection_pool: {tcp: {max_connections: 100}, http: {http1_max_pending_requests: 10}}
      outlier_detection: {consecutive_5xx_errors: 5, interval: 10s, base_ejection_time: 30s}
    routes:
      - match: [{headers: {end-user: jason}}]
        destinations: [{subset: v2}]
        fault: {delay: {fixed_delay: 7s, percentage: 100}}
      - destinations: [{subset: v1}]

- name: Mirror 10% of traffic to v2, rewrite and redirect
  meshops.istio_integrity.istio_meshservice:
    name: productpage
    namespace: bookinfo
    ports: [{port: 9080}]
    subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
    routes:
      - match: [{uri: {exact: /old-home}}]
        redirect: {uri: /productpage}
      - match: [{uri: {prefix: /api/v1}}]
        rewrite: {uri: /api}
        destinations: [{subset: v1}]
        mirror: {subset: v2, percentage: 10}

- name: TLS on the gateway with an HTTP to HTTPS redirect
  meshops.istio_integrity.istio_meshservice:
    name: shop
    namespace: shop
    hosts: [shop.example.com]
    ports: [{port: 8080, name: http}]
    gateway:
      name: shop-gateway
      namespace: istio-system
      create: true
      servers:
        - {port: 443, protocol: HTTPS, tls_mode: SIMPLE, credential_name: shop-cert}
        - {port: 80, protocol: HTTP, https_redirect: true}

- name: Calls to an external API through the egress gateway
  meshops.istio_integrity.istio_meshservice:
    name: payments
    namespace: shop
    egress:
      - hosts: [api.payments.example.com]
        ports: [{number: 443, name: tls, protocol: TLS}]
        egress_gateway: {name: egress, namespace: istio-system}

- name: Apply a batch of MeshService resources from inventory, checked and diffed
  meshops.istio_integrity.istio_meshservice:
    meshservices: "{{ meshservice_definitions }}"
  check_mode: true
  diff: true

- name: Only render, for a GitOps repository
  meshops.istio_integrity.istio_meshservice:
    definition: "{{ lookup('ansible.builtin.file', 'meshservices/reviews.yaml') | from_yaml }}"
    apply: false
    dest: "{{ playbook_dir }}/rendered"

- name: Remove everything a meshservice owns
  meshops.istio_integrity.istio_meshservice:
    name: reviews
    namespace: bookinfo
    state: absent
"""

RETURN = r"""
resources:
  description: What happened to each object.
  returned: when O(apply=true)
  type: list
  elements: dict
  sample:
    - {kind: VirtualService, namespace: bookinfo, name: reviews, action: updated}
    - {kind: Gateway, namespace: bookinfo, name: reviews-gateway, action: pruned}
  contains:
    action:
      description: V(created), V(updated), V(unchanged), V(deleted) or V(pruned) (what check mode would do).
      type: str
      returned: always
written:
  description:
    - When a real apply stopped part-way (the API server went away), the objects (C(Kind/namespace/name)) that
      were written; running the task again completes the rest.
  returned: on failure part-way through an apply
  type: list
  elements: str
not_written:
  description: When a real apply stopped part-way, the objects that were not written, or whose write is not known.
  returned: on failure part-way through an apply
  type: list
  elements: str
rendered:
  description: Every rendered object, in apply order.
  returned: always
  type: list
  elements: dict
integrity:
  description: The write-time integrity check; also returned when it refused the change.
  returned: when O(apply=true)
  type: dict
  contains:
    mode:
      description: The O(integrity) setting.
      type: str
      returned: always
    new_violations:
      description: Error-level violations the change would introduce (same format as the facts module's).
      type: list
      elements: dict
      returned: always
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.args import CONNECTION_ARG_SPEC
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.runner import (
    IntegrityRefused, Options, PartialApply, run_meshservices)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.spec import (
    MESHSERVICE_SPEC, SpecError, compose, from_definition, without_none)
from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity.runner import RunError


def argument_spec() -> dict:
    # Top-level meshservice options carry no defaults here: they are applied per entry, so an entry
    # from `meshservices` or `definition` is not mixed with task-level values it did not set.
    single = copy.deepcopy(MESHSERVICE_SPEC)
    for option in single.values():
        option.pop("default", None)
        option["required"] = False
    spec = dict(
        single,
        definition=dict(type="dict"),
        meshservices=dict(type="list", elements="dict"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        prune=dict(type="bool", default=True),
        apply=dict(type="bool", default=True),
        dest=dict(type="path"),
        integrity=dict(type="str", choices=["enforce", "warn", "off"], default="enforce"),
        accept_unverifiable=dict(type="bool", default=False),
        force_conflicts=dict(type="bool", default=False),
        exclusive_namespaces=dict(type="list", elements="str", default=[]),
    )
    spec.update(CONNECTION_ARG_SPEC)
    return spec


def entries(params: dict) -> list:
    """(where, options) for every meshservice the task names."""
    if params.get("meshservices") is not None:
        batch = [("meshservices[%d]" % index, from_definition(item, "meshservices[%d]" % index)
                  if item.get("kind") == "MeshService" else item) for index, item in enumerate(params["meshservices"])]
        if params.get("api"):  # the task's routing API, for the entries that do not choose their own
            batch = [(where, dict({"api": params["api"]}, **item)) for where, item in batch]
        return batch
    given = without_none({key: params[key] for key in MESHSERVICE_SPEC})
    if params.get("definition") is not None:
        return [("definition", compose(from_definition(params["definition"], "definition"), given, "definition"))]
    return [("task", given)]


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[["name", "definition", "meshservices"]],
                           required_one_of=[["name", "definition", "meshservices"]])
    options = Options(state=module.params["state"], prune=module.params["prune"], apply=module.params["apply"],
                      dest=module.params["dest"], integrity=module.params["integrity"],
                      accept_unverifiable=module.params["accept_unverifiable"],
                      force_conflicts=module.params["force_conflicts"],
                      exclusive_namespaces=module.params["exclusive_namespaces"], check_mode=module.check_mode,
                      diff=module._diff,  # pylint: disable=protected-access
                      connection={key: module.params.get(key) for key in CONNECTION_ARG_SPEC})
    try:
        result = run_meshservices(entries(module.params), options)
    except IntegrityRefused as error:
        module.fail_json(msg=str(error), integrity={"mode": options.integrity, "new_violations": error.violations})
    except PartialApply as error:
        module.fail_json(msg=str(error), changed=bool(error.written), written=error.written, not_written=error.not_written)
    except (RunError, SpecError) as error:
        module.fail_json(msg=str(error))
    diffs = [entry.pop("diff") for entry in result.get("resources", []) if "diff" in entry]
    for warning in result.pop("warnings", []):
        module.warn(warning)
    if options.diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
