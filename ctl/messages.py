"""calicoctl's wording of API errors (libcalico-go ``errors.go``), rebuilt from ``Status``."""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from .client import (AlreadyExists, ApiError, BadRequest, Conflict, CtlError, Invalid,
                     KindInfo, MethodNotAllowed, NotFound)

_K8S_INVALID = re.compile(r'^Invalid value: ("(?:[^"\\]|\\.)*"|[^:]+): (.*)$', re.S)
# Kubernetes field errors of these types carry no value (field.Error.ErrorBody).
_K8S_NO_VALUE = re.compile(r"^(?:Required value|Forbidden|Too long|Too many|Internal error): "
                           r"(.*)$", re.S)
_INITIALISMS = (("Cidr", "CIDR"), ("Ipip", "IPIP"), ("Vxlan", "VXLAN"), ("Bgp", "BGP"),
                ("Icmp", "ICMP"), ("Mtu", "MTU"), ("Uid", "UID"), ("Asn", "ASN"))


_UNKNOWN_FIELD = re.compile(r'unknown field "([^"]+)"')


def massage(text: str) -> str:
    """calicoctl's ``massageError``, applied to every error it prints: a leading decoder
    prefix dropped, and any text naming an unknown field replaced by one plain line."""
    text = text.removeprefix("error unmarshaling JSON: while decoding JSON: json: ")
    m = _UNKNOWN_FIELD.search(text)
    return unknown_field(m.group(1)) if m else text


def unknown_field(name: str) -> str:
    return f"field in document is not recognized or is in the wrong location: {name}"


def ident(kind: str, name: str, namespace: str | None = None) -> str:
    """libcalico-go's resource identifier: ``Kind(name)`` or ``Kind(namespace/name)``."""
    return f"{kind}({namespace}/{name})" if namespace else f"{kind}({name})"


def describe(err: CtlError, kind: str, name: str, namespace: str | None = None,
             obj: dict | None = None) -> str:
    """The text calicoctl prints for ``err`` raised while handling one resource."""
    who = ident(kind, name, namespace)
    if isinstance(err, NotFound):
        return f"resource does not exist: {who} with error: <nil>"
    if isinstance(err, AlreadyExists):
        return f"resource already exists: {who} with error: <nil>"
    if isinstance(err, Conflict):
        return f"update conflict: {who}"
    if isinstance(err, ApiError):
        unknown = [c for c in err.causes if c.get("reason") == "FieldUnknown"]
        if isinstance(err, BadRequest) and unknown:
            field = re.split(r"[.\[]", str(unknown[0].get("field", "")))[-1].rstrip("]")
            return unknown_field(field)
        if isinstance(err, Invalid) and err.causes:
            return validation_text(err.causes, kind, obj or {})
        return err.message
    return str(err)


_READ_ONLY = {"create": "operation create or apply is not supported on {kind}",
              "apply": "operation apply is not supported on {kind}: resource is readonly",
              "update": "operation apply or replace is not supported on {kind}",
              "delete": "operation delete is not supported on {kind}"}


def _read_only_refusal(kind: str, operation: str) -> str:
    """calicoctl's own refusal of ``operation`` (``create``, ``apply``, ``update`` or
    ``delete``) on a read-only kind: its resource manager answers for ClusterInformation
    without asking the datastore, naming the kind rather than the object (Apply's own check
    in resourcemgr/resourcemgr.go, the others in resourcemgr/clusterinfo.go)."""
    return _READ_ONLY[operation].format(kind=kind)


# The resource-manager operation behind each command that writes: apply refuses a read-only
# kind itself; replace, patch and label end in the kind's update; create and delete are the
# kind's own.
_OPERATIONS = {"create": "create", "apply": "apply", "replace": "update", "patch": "update",
               "label": "update", "delete": "delete"}


def describe_write(err: CtlError, kind: KindInfo, name: str, namespace: str | None,
                   obj: dict | None = None, *, command: str) -> str:
    """calicoctl's text for ``err`` raised by ``command`` on one resource. calicoctl refuses
    writes to a read-only kind in its own resource manager, so the server's refusal of a kind
    it serves read-only is worded as calicoctl's."""
    if isinstance(err, MethodNotAllowed) and kind.read_only and command in _OPERATIONS:
        return _read_only_refusal(kind.kind, _OPERATIONS[command])
    return describe(err, kind.kind, name, namespace, obj)


def validation_text(causes: list[dict[str, Any]], kind: str, obj: dict) -> str:
    """libcalico-go ``ErrorValidation.Error()``: one field, or a ``-  `` list of fields; a
    cause repeated at several paths is listed once (``field_paths`` says where)."""
    fields = list(field_paths(causes, kind, obj))
    if len(fields) == 1:
        return f"error with field {fields[0]}"
    return "error with the following fields:\n" + "".join(f"-  {f}\n" for f in fields)


def field_paths(causes: list[dict[str, Any]], kind: str, obj: dict) -> dict[str, list[str]]:
    """Each distinct field text of ``validation_text``, in order, with the paths of the
    object (the server's ``field``) it applies to."""
    out: dict[str, list[str]] = {}
    for cause in causes:
        paths = out.setdefault(_errored_field(cause, kind, obj), [])
        if cause.get("field"):
            paths.append(str(cause["field"]))
    return out


def _errored_field(cause: dict[str, Any], kind: str, obj: dict) -> str:
    """``Name = 'value' (reason)``; the value is the one a Kubernetes-style cause message
    names (``Invalid value: 0: …``), none for a message of a value-less type
    (``Forbidden: …``), else the one at the field's path in ``obj``."""
    path = _segments(str(cause.get("field") or ""))
    text = go_field_name(kind, path)
    value = _value_at(obj, path)
    if path and path[-1] == "cidr":
        value = _network(value)
    message = str(cause.get("message") or "")
    m = _K8S_INVALID.match(message)
    if m:
        value, message = json.loads(m.group(1)) if m.group(1)[0] == '"' else m.group(1), \
            m.group(2)
    elif m := _K8S_NO_VALUE.match(message):
        value, message = None, m.group(1)
    if value is not None:
        text += f" = '{_go_value(value)}'"
    return f"{text} ({message})" if message else text


def _segments(field: str) -> list[str | int]:
    out: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return out


def go_field_name(kind: str, path: list[str | int]) -> str:
    """The Go field name calicoctl's validator reports: ``Kind.Spec.Field`` for a top-level
    spec field, the element type (``Port``) for a list item, else the last field."""
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return kind
    if len(path) == 2 and path[0] in ("spec", "metadata"):
        return f"{kind}.{_go(str(path[0]))}.{_go(str(path[1]))}"
    last = names[-1]
    if isinstance(path[-1], int) and last.endswith("s"):
        last = last[:-1]
    return _go(last)


def _go(name: str) -> str:
    text = name[:1].upper() + name[1:]
    for lower, upper in _INITIALISMS:
        text = text.replace(lower, upper)
    return re.sub(r"Ip(?=[A-Z0-9]|s?$)", "IP", re.sub(r"Id$", "ID", text))


def _value_at(obj: Any, path: list[str | int]) -> Any:
    cur = obj
    for step in path:
        if isinstance(step, int) and isinstance(cur, list) and step < len(cur):
            cur = cur[step]
        elif isinstance(step, str) and isinstance(cur, dict) and step in cur:
            cur = cur[step]
        else:
            return None
    return cur


def _network(value: Any) -> Any:
    """A CIDR as Calico's IPNet holds it after decoding: the masked network."""
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        return value


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)
