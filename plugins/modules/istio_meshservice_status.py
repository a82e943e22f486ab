#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: istio_meshservice_status
short_description: Record a reconcile on a MeshService resource (status subresource and cleanup finalizer)
version_added: 0.1.0
description:
  - Computes the status of a MeshService custom resource from the result of applying it
    (M(meshops.istio_integrity.istio_meshservice)) and from the integrity facts
    (M(meshops.istio_integrity.istio_integrity_facts)), and writes it through the C(status) subresource.
  - The status is written only when it differs from the stored one in more than C(lastChecked), so reconciling
    an unchanged set of MeshServices makes no writes. C(lastChecked) is therefore the time of the last reconcile
    that changed something.
  - "C(consistencyState): V(Consistent) when the spec is applied and no error or warning touches the owned
    objects; V(RepairPending) when every such violation has a safe action in the repair plan (the
    C(meshops.istio_integrity.integrity_repair) role would fix it); V(Inconsistent) when some need a person;
    V(RepairFailed) when the spec could not be applied (the C(Ready) condition says why)."
  - Adds or removes the C(meshops.io/meshservice-cleanup) finalizer, which keeps a deleted MeshService until the
    reconcile has removed the objects it owns. Other finalizers are kept; concurrent changes are detected by
    resourceVersion and retried.
  - When the status is written and a condition turned C(False) (or changed its reason or message), a C(Warning)
    Event about the MeshService says why (C(kubectl describe meshservice) and C(kubectl get events) show it); an
    unchanged status posts none. Each listed violation names, in C(related), the other objects it involves.
  - Owned objects are found by the C(meshops.io/meshservice) and C(meshops.io/meshservice-namespace) labels
    next to our managed-by label, in every namespace.
author:
  - meshops maintainers (@meshops)
extends_documentation_fragment:
  - meshops.istio_integrity.k8s_auth
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff is the status before and after.
  platform:
    platforms: posix
options:
  name:
    description: Name of one MeshService (or use O(resources)).
    type: str
  namespace:
    description: Namespace of that MeshService.
    type: str
  observed_generation:
    description:
      - With O(name), the C(metadata.generation) that was applied, recorded as C(observedGeneration).
      - Defaults to the generation read now; pass the one the apply used when the resource may have changed since.
    type: int
  resources:
    description:
      - Several MeshServices at once, as objects read from the API server (C(metadata.name), C(metadata.namespace),
        and C(metadata.generation), recorded as C(observedGeneration)). One call for any number of them.
    type: list
    elements: dict
  finalizer:
    description:
      - V(present) adds the cleanup finalizer, V(absent) removes it (after the owned objects were deleted).
      - Left as it is when not set.
    type: str
    choices: [present, absent]
  apply_result:
    description:
      - The registered result of the M(meshops.istio_integrity.istio_meshservice) task that applied the
        MeshServices, either of a single task (alone or as a batch) or of a loop over the resources (each loop
        item's result is matched to its resource by C(item.metadata)). C(failed), C(msg) and, for a change the
        write-time check refused, C(integrity.new_violations) are read.
      - Giving it asks for the status to be written.
    type: dict
  violations:
    description:
      - The C(istio_integrity.violations) fact; required with O(apply_result). Only violations of severity error or
        warning whose object, or related object, is owned by the MeshService count.
    type: list
    elements: dict
  repair_plan:
    description: The C(istio_integrity.repair_plan) fact.
    type: list
    elements: dict
    default: []
notes:
  - Needs C(get) and C(patch) on C(meshservices) and C(meshservices/status), C(list) on the owned kinds, and
    C(create) on C(events) (without it the Event is left out with a warning).
  - A MeshService that no longer exists is reported with RV(resources[].found=false) and left alone.
"""

EXAMPLES = r"""
- name: Add the cleanup finalizer before the first apply
  meshops.istio_integrity.istio_meshservice_status:
    name: reviews
    namespace: bookinfo
    finalizer: present

- name: Record the outcome of an apply and an integrity check
  meshops.istio_integrity.istio_meshservice_status:
    name: reviews
    namespace: bookinfo
    observed_generation: "{{ meshservice.metadata.generation }}"
    apply_result: "{{ applied }}"
    violations: "{{ istio_integrity.violations }}"
    repair_plan: "{{ istio_integrity.repair_plan }}"

- name: Record many at once, after a loop of istio_meshservice over the listed resources
  meshops.istio_integrity.istio_meshservice_status:
    resources: "{{ listed.resources }}"
    apply_result: "{{ applied_each }}"
    violations: "{{ istio_integrity.violations }}"
    repair_plan: "{{ istio_integrity.repair_plan }}"

- name: Release a deleted MeshService once its objects are gone
  meshops.istio_integrity.istio_meshservice_status:
    name: reviews
    namespace: bookinfo
    finalizer: absent
"""

RETURN = r"""
resources:
  description: One entry per MeshService, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the MeshService.
      type: str
      returned: always
    namespace:
      description: Its namespace.
      type: str
      returned: always
    found:
      description: Whether it exists; nothing is done for one that does not.
      type: bool
      returned: always
    status:
      description: The status computed (and written, unless unchanged or in check mode).
      type: dict
      returned: when O(apply_result) is given and the MeshService exists
      sample:
        consistencyState: Inconsistent
        observedGeneration: 2
        violationCount: 1
        violations:
          - {code: MSH101, severity: error, resource: VirtualService/shop/cart,
             message: "VirtualService shop/cart: gateway istio-system/public does not exist (spec.gateways[0])"}
    state:
      description: The C(consistencyState) computed; empty when no status was asked for or the MeshService is gone.
      type: str
      returned: always
    violation_count:
      description: The C(violationCount) computed.
      type: int
      returned: always
    error:
      description: Why its apply failed (the C(Ready) condition's message), or empty.
      type: str
      returned: always
    status_changed:
      description: Whether the status was (or in check mode would be) written.
      type: bool
      returned: always
    finalizer_changed:
      description: Whether the finalizer was (or would be) added or removed.
      type: bool
      returned: always
    events:
      description:
        - How many Warning Events were posted about the MeshService, one per condition that turned C(False)
          or changed its reason or message (C(ApplyFailed), C(ViolationsFound)); none in check mode.
      type: int
      returned: always
"""

import datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s import client
from ansible_collections.meshops.istio_integrity.plugins.module_utils.k8s.args import CONNECTION_ARG_SPEC
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.status import (
    MeshServiceResource, apply_failure, apply_result_for, build_status, event_object, malformed_facts, owned_index,
    same_status, warning_events)


def argument_spec() -> dict:
    spec = dict(
        name=dict(type="str"),
        namespace=dict(type="str"),
        observed_generation=dict(type="int"),
        resources=dict(type="list", elements="dict"),
        finalizer=dict(type="str", choices=["present", "absent"]),
        apply_result=dict(type="dict"),
        violations=dict(type="list", elements="dict"),
        repair_plan=dict(type="list", elements="dict", default=[]),
    )
    spec.update(CONNECTION_ARG_SPEC)
    return spec


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def targets(params: dict) -> list:
    """(namespace, name, generation or None) of every MeshService the task names."""
    if params["resources"] is None:
        return [(params["namespace"], params["name"], params["observed_generation"])]
    found = []
    for index, item in enumerate(params["resources"]):
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        if not metadata.get("name") or not metadata.get("namespace"):
            raise ValueError("resources[%d]: a MeshService object with metadata.name and metadata.namespace is "
                             "expected" % index)
        found.append((metadata["namespace"], metadata["name"], metadata.get("generation")))
    return found


def record(module: AnsibleModule, api, target: tuple, owned: dict, now: str) -> tuple:
    """Finalizer and status of one MeshService: its result entry, and its diff or None."""
    params = module.params
    namespace, name, generation = target
    resource = MeshServiceResource(api, namespace, name)
    result = {"namespace": namespace, "name": name, "found": False, "status_changed": False, "finalizer_changed": False,
              "state": "", "violation_count": 0, "error": "", "events": 0}
    current = resource.get()
    if current is None:
        return result, None
    result["found"] = True
    if params["finalizer"]:
        result["finalizer_changed"] = resource.set_finalizer(params["finalizer"] == "present", current, module.check_mode)
    if params["apply_result"] is None:
        return result, None
    if generation is None:
        generation = current["metadata"].get("generation", 0)
    old = current.get("status") or {}
    applied = apply_result_for(params["apply_result"], namespace, name)
    new = build_status(generation, applied, params["violations"], params["repair_plan"],
                       owned.get((namespace, name), set()), old, now)
    result.update(status=new, state=new["consistencyState"], violation_count=new["violationCount"],
                  error=apply_failure(applied) or "")
    if same_status(old, new):
        return result, None
    result["status_changed"] = True
    if not module.check_mode:
        resource.write_status(old, new)
        for event in warning_events(old, new):
            try:
                resource.post_event(event_object(current, event["reason"], event["message"], now))
                result["events"] += 1
            except client.Forbidden as error:
                module.warn("MeshService %s/%s: the status is written but its Event is not: %s"
                            % (namespace, name, error))
    header = "MeshService %s/%s status" % (namespace, name)
    return result, {"before_header": header, "after_header": header, "before": old, "after": new}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[["name", "resources"]], required_one_of=[["name", "resources"]],
                           required_together=[["name", "namespace"], ["apply_result", "violations"]])
    if client.K8S_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(client.K8S_IMPORT_ERROR))
    try:
        named = targets(module.params)
    except ValueError as error:
        module.fail_json(msg=str(error))
    missing = malformed_facts(module.params["apply_result"] or {}, module.params["violations"] or [],
                              module.params["repair_plan"])
    if missing:
        module.fail_json(msg="apply_result, violations and repair_plan must be registered from istio_meshservice "
                             "and istio_integrity_facts; missing %s" % ", ".join(missing[:5]))
    results, diffs, where = [], [], "MeshServices"
    try:
        api = client.KubernetesAPI({key: module.params.get(key) for key in CONNECTION_ARG_SPEC})
        owned = owned_index(api) if module.params["apply_result"] is not None else {}
        now = _now()
        for target in named:
            where = "MeshService %s/%s" % (target[0], target[1])
            result, diff = record(module, api, target, owned, now)
            results.append(result)
            diffs += [diff] if diff else []
    except (client.ClusterError, client.Forbidden, client.Conflict, client.Invalid) as error:
        module.fail_json(msg="%s: %s" % (where, error), resources=results)
    outcome = {"changed": any(r["status_changed"] or r["finalizer_changed"] for r in results), "resources": results}
    if module._diff:  # pylint: disable=protected-access
        outcome["diff"] = diffs
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
