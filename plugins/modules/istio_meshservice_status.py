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
    description: Name of the MeshService.
    type: str
    required: true
  namespace:
    description: Namespace of the MeshService.
    type: str
    required: true
  finalizer:
    description:
      - V(present) adds the cleanup finalizer, V(absent) removes it (after the owned objects were deleted).
      - Left as it is when not set.
    type: str
    choices: [present, absent]
  apply_result:
    description:
      - The registered result of M(meshops.istio_integrity.istio_meshservice) applying this MeshService
        (C(failed), C(msg) and, for a refused change, C(integrity.new_violations) are read). Giving it asks for
        the status to be written.
    type: dict
  violations:
    description:
      - The C(istio_integrity.violations) fact. Only violations of severity error or warning whose object, or
        related object, is owned by this MeshService count.
    type: list
    elements: dict
  repair_plan:
    description: The C(istio_integrity.repair_plan) fact.
    type: list
    elements: dict
    default: []
  observed_generation:
    description:
      - The C(metadata.generation) of the MeshService that was applied, recorded as C(observedGeneration).
      - Defaults to the generation read now; pass the one the apply used when the resource may have changed since.
    type: int
notes:
  - Needs C(get) and C(patch) on C(meshservices) and C(meshservices/status), and C(list) on the owned kinds.
  - Succeeds with RV(found=false), changing nothing, when the MeshService no longer exists.
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

- name: Release a deleted MeshService once its objects are gone
  meshops.istio_integrity.istio_meshservice_status:
    name: reviews
    namespace: bookinfo
    finalizer: absent
"""

RETURN = r"""
found:
  description: Whether the MeshService exists.
  returned: always
  type: bool
status:
  description: The status computed (and written, unless unchanged or in check mode).
  returned: when O(apply_result) is given and the MeshService exists
  type: dict
  sample:
    consistencyState: Inconsistent
    observedGeneration: 2
    violationCount: 1
    violations:
      - {code: MSH101, severity: error, resource: VirtualService/shop/cart,
         message: "VirtualService shop/cart: gateway istio-system/public does not exist (spec.gateways[0])"}
status_changed:
  description: Whether the status was (or in check mode would be) written.
  returned: always
  type: bool
finalizer_changed:
  description: Whether the finalizer was (or would be) added or removed.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.meshops.istio_integrity.plugins.module_utils import client
from ansible_collections.meshops.istio_integrity.plugins.module_utils.args_common import CONNECTION_ARG_SPEC
from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice_status import (
    MeshServiceResource, build_status, malformed_facts, same_status)


def argument_spec() -> dict:
    spec = dict(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        finalizer=dict(type="str", choices=["present", "absent"]),
        apply_result=dict(type="dict"),
        violations=dict(type="list", elements="dict"),
        repair_plan=dict(type="list", elements="dict", default=[]),
        observed_generation=dict(type="int"),
    )
    spec.update(CONNECTION_ARG_SPEC)
    return spec


def _now() -> str:
    import datetime  # pylint: disable=import-outside-toplevel
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def reconcile(module: AnsibleModule, target: MeshServiceResource) -> dict:
    params = module.params
    result = {"changed": False, "found": False, "status_changed": False, "finalizer_changed": False}
    current = target.get()
    if current is None:
        return result
    result["found"] = True
    if params["finalizer"]:
        result["finalizer_changed"] = target.set_finalizer(params["finalizer"] == "present", current, module.check_mode)
    if params["apply_result"] is not None:
        generation = params["observed_generation"]
        if generation is None:
            generation = current["metadata"].get("generation", 0)
        old = current.get("status") or {}
        new = build_status(generation, params["apply_result"], params["violations"], params["repair_plan"],
                           target.owned_resources(), old, _now())
        result["status"] = new
        if not same_status(old, new):
            result["status_changed"] = True
            if module._diff:  # pylint: disable=protected-access
                result["diff"] = {"before": old, "after": new}
            if not module.check_mode:
                target.write_status(old, new)
    result["changed"] = result["status_changed"] or result["finalizer_changed"]
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_together=[["apply_result", "violations"]])
    if client.K8S_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(client.K8S_IMPORT_ERROR))
    where = "MeshService %s/%s" % (module.params["namespace"], module.params["name"])
    missing = malformed_facts(module.params["apply_result"] or {}, module.params["violations"] or [],
                              module.params["repair_plan"])
    if missing:
        module.fail_json(msg="%s: apply_result, violations and repair_plan must be registered from istio_meshservice "
                             "and istio_integrity_facts; missing %s"
                             % (where, ", ".join(missing[:5])))
    try:
        api = client.KubernetesAPI({key: module.params.get(key) for key in CONNECTION_ARG_SPEC})
        result = reconcile(module, MeshServiceResource(api, module.params["namespace"], module.params["name"]))
    except (client.ClusterError, client.Forbidden, client.Conflict, client.Invalid) as error:
        module.fail_json(msg="%s: %s" % (where, error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
