# -*- coding: utf-8 -*-
# Copyright (c) meshops.istio_integrity contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CEL rules of CRDs (``x-kubernetes-validations``) with the Kubernetes CEL libraries they use.

The CEL runtime is ``common-expression-language`` (Rust bindings, see the README); it brings CEL's core
(macros, ``matches``, ``duration``, ``size``) and cel-go's string and list extensions. The Kubernetes
libraries the pinned CRDs call on top (url, ip/cidr, quantity, regex find) are added here as functions.
A rule calling a function neither provides is compiled anyway, but reported as not validated, never
passed silently. Transition rules (``oldSelf``) only run on updates: an offline check is a create.
"""

from __future__ import annotations

import importlib
import importlib.util
import ipaddress
import re
import sys
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from ansible_collections.meshops.istio_integrity.plugins.module_utils.schema.structural import (
    CelCompiler, CelRule, Unvalidated)


def _import_cel() -> Tuple[Any, Any]:
    """The CEL runtime and its standard library, without the package's command-line REPL.

    ``import cel`` also imports the REPL's typer, prompt_toolkit and rich: a fifth of a module run's start.
    The package is made from its spec without running its ``__init__`` and the two submodules used are
    imported from it; where that does not work (another layout), the package is imported as it is.
    """
    if "cel" not in sys.modules:
        spec = importlib.util.find_spec("cel")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("No module named 'cel'")
        sys.modules["cel"] = importlib.util.module_from_spec(spec)
        try:
            return importlib.import_module("cel.cel"), importlib.import_module("cel.stdlib")
        except ImportError:
            del sys.modules["cel"]
    package = importlib.import_module("cel")
    return package, importlib.import_module("cel.stdlib")


try:
    cel, cel_stdlib = _import_cel()
    CEL_IMPORT_ERROR: Optional[ImportError] = None
except ImportError as import_error:
    cel = cel_stdlib = None
    CEL_IMPORT_ERROR = import_error

# Functions the runtime itself provides (core and the cel-go extensions it ships), besides operators.
NATIVE = frozenset(("has", "size", "all", "exists", "exists_one", "map", "filter", "matches", "contains",
                    "startsWith", "endsWith", "int", "uint", "double", "string", "bytes", "bool", "duration",
                    "timestamp", "type", "dyn", "max", "min"))


class CelEvaluationError(Exception):
    """A Kubernetes library function refused its argument (the API server's rule evaluation error)."""


def _url(text: str) -> str:
    """Go's url.ParseRequestURI, as the Kubernetes URL library uses it: absolute URI or absolute path."""
    if not isinstance(text, str) or not text or not (text.startswith("/") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text)):
        raise CelEvaluationError("URL parse error during conversion from string: parse %r: invalid URI for request"
                                 % text)
    if re.search(r"[\x00-\x1f\x7f ]", text):
        raise CelEvaluationError("URL parse error during conversion from string: invalid character in URL")
    return text


def _is_url(text: str) -> bool:
    try:
        _url(text)
    except CelEvaluationError:
        return False
    return True


def _get_scheme(text: str) -> str:
    return urlsplit(_url(text)).scheme


def _get_host(text: str) -> str:
    return urlsplit(_url(text)).netloc.rpartition("@")[2]


def _get_hostname(text: str) -> str:
    return urlsplit(_url(text)).hostname or ""


def _get_port(text: str) -> str:
    host = _get_host(text)
    return host.rpartition(":")[2] if ":" in host and not host.endswith("]") else ""


def _get_escaped_path(text: str) -> str:
    return urlsplit(_url(text)).path


def _ip(text: str) -> str:
    if not _is_ip(text):
        raise CelEvaluationError("IP Address %r parse error during conversion from string" % text)
    return text


def _is_ip(text: str) -> bool:
    # Kubernetes' library refuses IPv4-mapped IPv6 and zones, as netip.ParseAddr with its checks does.
    if not isinstance(text, str) or "%" in text:
        return False
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (address.version == 6 and address.ipv4_mapped is not None)


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in str(text)


def _cidr(text: str) -> str:
    if not _is_cidr(text):
        raise CelEvaluationError("network address parse error during conversion from string: %r" % text)
    return text


def _find(text: str, pattern: str) -> str:
    match = re.search(pattern, text)
    return match.group(0) if match else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> List[str]:
    found = [match.group(0) for match in re.finditer(pattern, text)]
    return found if limit < 0 else found[:limit]


_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")


def _is_quantity(text: str) -> bool:
    return isinstance(text, str) and bool(_QUANTITY.match(text))


def _quantity(text: str) -> str:
    if not _is_quantity(text):
        raise CelEvaluationError("quantities must match the regular expression '%s'" % _QUANTITY.pattern)
    return text


KUBERNETES_FUNCTIONS = {
    "url": _url, "isURL": _is_url, "getScheme": _get_scheme, "getHost": _get_host, "getHostname": _get_hostname,
    "getPort": _get_port, "getEscapedPath": _get_escaped_path,
    "ip": _ip, "isIP": _is_ip, "cidr": _cidr, "isCIDR": _is_cidr,
    "find": _find, "findAll": _find_all, "quantity": _quantity, "isQuantity": _is_quantity,
}
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def called_functions(rule: str) -> List[str]:
    """The function and method names a rule calls (string literals left out)."""
    return sorted(set(_CALL.findall(_STRING.sub("''", rule))))


class KubernetesCel(CelCompiler):
    """Compiles and evaluates rules; one context, shared by every rule of the run."""

    def __init__(self) -> None:
        self.context = cel.Context()
        cel_stdlib.add_stdlib_to_context(self.context)
        for name, function in KUBERNETES_FUNCTIONS.items():
            self.context.add_function(name, function)
        self.known = NATIVE | set(self.context.functions)

    def compile(self, rule: Dict[str, Any], path: str, unvalidated: List[Unvalidated]) -> Optional[CelRule]:
        text = rule.get("rule") or ""
        where = path or "(root)"
        if "oldSelf" in text:
            return None  # transition rule: only evaluated when an object is updated
        unknown = [name for name in called_functions(text) if name not in self.known]
        if unknown:
            unvalidated.append(Unvalidated(where, "CEL rule %r calls %s, not implemented offline"
                                           % (text, ", ".join(unknown))))
            return None
        try:
            program = cel.compile(text)
            message_expression = cel.compile(rule["messageExpression"]) if rule.get("messageExpression") else None
        except ValueError as error:
            unvalidated.append(Unvalidated(where, "CEL rule %r does not compile offline: %s"
                                           % (text, str(error).splitlines()[0])))
            return None
        return CelRule(program, text, rule.get("message") or "", message_expression, rule.get("fieldPath") or "",
                       rule.get("reason") or "FieldValueInvalid")

    def evaluate(self, rule: CelRule, value: Any) -> Tuple[bool, str]:
        """(passed, the API server's message when not)."""
        self.context.add_variable("self", value)
        try:
            result = rule.program.execute(self.context)
        except Exception as error:  # pylint: disable=broad-except  # the runtime raises plain Python errors
            reason = _evaluation_error(error)
            return False, "%s (the rule %s fails to evaluate: %s)" % (self._message(rule), rule.rule, reason)
        if result is True:
            return True, ""
        return False, self._message(rule)

    def _message(self, rule: CelRule) -> str:
        if rule.message_expression is not None:
            try:
                text = rule.message_expression.execute(self.context)
                if isinstance(text, str) and text.strip():
                    return text
            except Exception:  # pylint: disable=broad-except  # the API server falls back to message then
                pass
        return rule.message or "failed rule: %s" % rule.rule


def _evaluation_error(error: Exception) -> str:
    if isinstance(error, KeyError):
        return "no such key: %s" % error.args[0]
    return str(error).splitlines()[0]


def cel_compiler() -> Optional[KubernetesCel]:
    """The CEL compiler, or None when the library is not installed (rules are then listed as not validated)."""
    return None if cel is None else KubernetesCel()
