# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate the MeshService CRD (meshservices.mesh.istio.operator) from the option spec.

The CRD's structural schema, the istio_meshservice module and its docs all come from
meshservice_spec.MESHSERVICE_SPEC, so they cannot drift apart.

    python tools/gen_meshservice_crd.py          # rewrite playbooks/files/meshservice-crd.yaml
    python tools/gen_meshservice_crd.py --check  # exit 1 if it is out of date (unit-tested)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.meshops.istio_integrity.plugins.module_utils.meshservice.spec import (  # noqa: E402  pylint: disable=wrong-import-position
    MESHSERVICE_SPEC, camel)
from generated import write_or_check  # noqa: E402  pylint: disable=wrong-import-position

CRD = REPO / "playbooks" / "files" / "meshservice-crd.yaml"
# Fields whose values are numbers in a range, wherever they appear.
RANGES = {"port": (1, 65535), "number": (1, 65535), "weight": (0, 100), "percentage": (0, 100),
          "max_ejection_percent": (0, 100), "min_health_percent": (0, 100)}
STRING_MAPS = {"labels", "selector", "source_labels", "set", "add"}  # label-like maps of strings
TYPES = {"str": "string", "int": "integer", "bool": "boolean", "float": "number", "path": "string"}


def schema(name: str, option: Dict[str, Any]) -> Dict[str, Any]:
    kind = option["type"]
    if kind == "raw":  # target_port: a number or a named port
        result: Dict[str, Any] = {"x-kubernetes-int-or-string": True}
    elif kind == "list":
        element = dict(option, type=option.get("elements", "str"))
        element.pop("elements", None)
        element.pop("default", None)
        element.pop("required", None)
        result = {"type": "array", "items": schema(name, element)}
    elif kind == "dict" and option.get("options"):
        result = properties(option["options"])
    elif kind == "dict" and name in STRING_MAPS:
        result = {"type": "object", "additionalProperties": {"type": "string"}}
    elif kind == "dict":  # header and query matches: a string or {exact|prefix|regex: ...}
        result = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    else:
        result = {"type": TYPES[kind]}
    if option.get("choices"):
        result["enum"] = list(option["choices"])
    if name in RANGES and kind in ("int", "float"):
        result["minimum"], result["maximum"] = RANGES[name]
    return result


def properties(spec: Dict[str, Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {"type": "object",
                              "properties": {camel(name): schema(name, option) for name, option in spec.items()}}
    required = [camel(name) for name, option in spec.items() if option.get("required")]
    if required:
        result["required"] = required
    return result


def status_schema() -> Dict[str, Any]:
    string = {"type": "string"}
    return {"type": "object", "properties": {
        "consistencyState": {"type": "string", "enum": ["Consistent", "Inconsistent", "RepairPending", "RepairFailed"]},
        "observedGeneration": {"type": "integer"},
        "lastChecked": {"type": "string", "format": "date-time"},
        "violationCount": {"type": "integer"},
        "conditions": {"type": "array", "items": {"type": "object", "required": ["type", "status"], "properties": {
            "type": string, "status": {"type": "string", "enum": ["True", "False", "Unknown"]}, "reason": string,
            "message": string, "observedGeneration": {"type": "integer"},
            "lastTransitionTime": {"type": "string", "format": "date-time"}}}},
        "violations": {"type": "array", "items": {"type": "object", "properties": {
            "code": string, "severity": string, "resource": string, "message": string,
            "related": {"type": "array", "items": string}}}},
        "repairActions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "managedResources": {"type": "array", "items": string},
    }}


def crd() -> Dict[str, Any]:
    spec = {name: option for name, option in MESHSERVICE_SPEC.items() if name not in ("name", "namespace")}
    columns = [("Service", ".spec.serviceName", "string"), ("Hosts", ".spec.hosts", "string"),
               ("Gateway", ".spec.gateway.name", "string"), ("State", ".status.consistencyState", "string"),
               ("Violations", ".status.violationCount", "integer"), ("Age", ".metadata.creationTimestamp", "date")]
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "meshservices.mesh.istio.operator",
                     "labels": {"app.kubernetes.io/managed-by": "meshops.istio_integrity"}},
        "spec": {
            "group": "mesh.istio.operator", "scope": "Namespaced",
            "names": {"kind": "MeshService", "listKind": "MeshServiceList", "plural": "meshservices",
                      "singular": "meshservice", "shortNames": ["msvc"]},
            "versions": [{
                "name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": n, "jsonPath": p, "type": t} for n, p, t in columns],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": properties(spec), "status": status_schema()}}},
            }],
        },
    }


class _IndentedDumper(yaml.SafeDumper):
    """Indents sequences inside mappings, as yamllint (and ansible-lint) expect."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def text() -> str:
    header = ("# Generated by tools/gen_meshservice_crd.py from meshservice_spec.py: do not edit.\n"
              "# Install: ansible-playbook meshops.istio_integrity.install_meshservice_crd\n---\n")
    return header + yaml.dump(crd(), Dumper=_IndentedDumper, sort_keys=False, width=120)


def main() -> int:
    return write_or_check(CRD, text(), sys.argv)


if __name__ == "__main__":
    sys.exit(main())
