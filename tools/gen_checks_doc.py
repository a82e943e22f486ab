# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate docs/checks.md from the check registry, so the catalogue cannot drift from the code.

    python tools/gen_checks_doc.py          # rewrite docs/checks.md
    python tools/gen_checks_doc.py --check  # exit 1 if it is out of date (unit-tested)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.meshops.istio_integrity.plugins.module_utils.integrity import checks  # noqa: E402  pylint: disable=wrong-import-position
from generated import write_or_check  # noqa: E402  pylint: disable=wrong-import-position

TARGET = REPO / "docs" / "checks.md"
SEVERITY = {checks.ERROR: "error", checks.WARNING: "warning", checks.INFO: "info"}

INTRODUCTION = """# Check catalogue

Generated from the check registry (`plugins/module_utils/integrity/checks/`) by `tools/gen_checks_doc.py`;
a unit test fails when this file is not current. Each code is stable. Every finding carries our code and,
where one exists, the equivalent `istioctl analyze` (IST) and Kiali (KIA) code, so findings can be compared
with those tools object by object. A row may drop an equivalent where that tool would not report the case
(the resolution notes say when). Where Istio and Kiali differ, the check follows the stricter one and says so.

How references resolve, for every check:

- **Hosts**: a name without dots is `<name>.<namespace of the referring object>.svc.<domain>`; a dotted
  name is literal. Services register as `<name>.<namespace>.svc.<domain>`, ServiceEntries with their hosts
  (short ones in their namespace). Wildcards (`*.example.com`) match on DNS label boundaries, either way.
- **Visibility**: `exportTo` of VirtualServices, DestinationRules and ServiceEntries and the Service
  annotation `networking.istio.io/exportTo` (`.` own namespace, `*` or unset everywhere, `~` nowhere).
- **Gateway references**: `mesh` is reserved; `ns/name`; a bare name is in the VirtualService's namespace.
  A Kubernetes Gateway API `Gateway` (told apart from Istio's by API group) does not bind VirtualServices:
  both tools report it as not found (MSH717).
- **Gateway API references** carry the API server's defaults: a parentRef is a Gateway of the route's
  namespace (kind Service makes a mesh route), a backendRef a core Service of it; cross-namespace backends,
  mirrors and certificates need a ReferenceGrant in the target namespace. Every namespace has the label
  `kubernetes.io/metadata.name`, which listener namespace selectors can match. istiod's own GatewayClasses
  (istio, istio-remote, istio-waypoint, istio-east-west) exist without being in the sources.
- **Gateway server hosts**: `ns/host` admits VirtualServices of `ns`, `./host` of the Gateway's namespace,
  `*/host` and bare hosts of every namespace.
- **Workloads**: Pods, or the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs
  in files. Checking files, Istio's default ingress gateway (`istio: ingressgateway` and its Service, in the
  control-plane namespace) is assumed, as `istioctl analyze` does offline, unless the files bring one or
  describe running Pods (then they are the live state). The assumed Service's ports are not: installs change
  them, so what depends on them is counted in `summary.unverifiable_references` unless the option
  `gateway_ports` names them (or the files hold the Service).
- **System namespaces** (kube-system, kube-public, kube-node-lease, local-path-storage and the control-plane
  namespace, istio-system; configurable): no port-name or workload findings there.
- **Conflicts**: every party is reported, naming the others; a repair changes only the newer parties.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines: List[str] = [INTRODUCTION, "## Summary", "",
                        "| code | severity | family | title | Istio | Kiali |", "|---|---|---|---|---|---|"]
    lines += ["| [%s](#%s) | %s | %s | %s | %s | %s |" % (
        c.code, c.code.lower(), SEVERITY[c.severity], c.family, _cell(c.title), c.istio_code, c.kiali_code)
        for c in checks.CATALOGUE]
    departures = [c for c in checks.CATALOGUE if c.differs]
    lines += ["", "## Where the checks differ on purpose", "",
              "Each check follows the verdicts of the tool whose code it carries, object by object; where it does not, "
              "on purpose, this is why:", ""]
    lines += ["- [%s](#%s) (%s): %s" % (c.code, c.code.lower(), " / ".join(filter(None, (c.istio_code, c.kiali_code)))
                                        or "ours", c.differs) for c in departures]
    for family, _module in checks.FAMILIES:
        lines += ["", "## %s" % family]
        for check in (c for c in checks.CATALOGUE if c.family == family):
            lines += ["", "### %s" % check.code, "", "**%s** (%s)" % (check.title, SEVERITY[check.severity]), "",
                      "- Istio: %s; Kiali: %s" % (check.istio_code or "none", check.kiali_code or "none"),
                      "- Reads: %s" % ", ".join(check.reads)]
            if check.requires:
                offline = ("" if check.offline_requires is None else
                           " (live; from files: %s)" % (", ".join(check.offline_requires) or "always"))
                lines.append("- Runs when scanned: %s%s" % (", ".join(check.requires), offline))
            lines.append("- Resolution: %s" % check.resolution)
            if check.differs:
                lines.append("- Differs on purpose: %s" % check.differs)
            lines += ["", "Triggers it:", "", "```yaml",
                      check.examples[0].strip("\n"), "```", "", "Near miss, no finding:", "", "```yaml",
                      check.examples[1].strip("\n"), "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    return write_or_check(TARGET, render(), sys.argv)


if __name__ == "__main__":
    sys.exit(main())
