"""The checks of a written object that need nothing but the object: its shape against the
request, the fields only the server sets, defaults and validation, and its place in the
datastore. The store runs them on every write (with the checks that need the datastore in
between); ``ctl validate`` runs ``check_new`` alone, so it gives the server's verdict
without a server.

Each raises the API error the server answers with (``errors.py``)."""
from __future__ import annotations

import json
from typing import Any

from .catalog import API_VERSION, GROUP, Kind
from .errors import BadRequest, Cause, Invalid, TooLarge
from .stored import dumps
from .validation import Validator

SERVER_FIELDS = ("uid", "creationTimestamp", "resourceVersion", "generation")
MAX_OBJECT_BYTES = 1_500_000   # what etcd accepts in one write (its --max-request-bytes),
                               # less room for the metadata the server adds


def check_new(validator: Validator, kind: Kind, namespace: str | None, body: Any) -> dict:
    """``body`` as the server would create it, defaulted, or the error it would answer with:
    every check of a create but those against other objects and the caller's rights."""
    obj, _ = checked_body(kind, namespace, body)
    refuse_server_fields(kind, obj)
    validator.default(kind.kind, obj)
    refuse_invalid(kind, obj, validator.validate(kind.kind, obj))
    placed_key(kind, obj)
    return obj


def checked_body(kind: Kind, namespace: str | None, body: Any) -> tuple[dict, int]:
    """A private copy of the request object with kind, apiVersion, name and namespace
    checked against the URL, and its encoded size: an object etcd would refuse is
    refused here, before any work is spent on it. Raises BadRequest / Invalid / TooLarge."""
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a {kind.kind} object")
    raw = dumps(body)
    if len(raw) > MAX_OBJECT_BYTES:
        raise TooLarge(f"the {kind.kind} is {len(raw)} bytes as JSON; the datastore takes "
                       f"objects of at most {MAX_OBJECT_BYTES} bytes", kind=kind.kind)
    obj = json.loads(raw)
    if obj.get("apiVersion") != API_VERSION:
        raise BadRequest(f"apiVersion must be {API_VERSION!r}, not {obj.get('apiVersion')!r}",
                         kind=kind.kind)
    if obj.get("kind") != kind.kind:
        raise BadRequest(f"kind {obj.get('kind')!r} does not match the URL, which is for "
                         f"{kind.kind}", kind=kind.kind)
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be an object", kind=kind.kind)
    name = meta.get("name")
    if not name or not isinstance(name, str):
        raise Invalid(f"{kind.kind}.{GROUP} is invalid: metadata.name is required",
                      kind=kind.kind, causes=[Cause("metadata.name", "name is required "
                                                    "(generateName is not supported)",
                                                    "FieldValueRequired")])
    _strip_deletion(kind, meta)
    if kind.namespaced:
        body_ns = meta.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise BadRequest(f"the namespace of the object ({body_ns}) does not match the "
                             f"namespace on the request ({namespace})", kind=kind.kind,
                             name=name)
        meta["namespace"] = namespace or body_ns
        if not meta["namespace"]:
            raise BadRequest(f"{kind.kind} is namespaced: a namespace is required",
                             kind=kind.kind, name=name)
    elif meta.get("namespace"):
        raise BadRequest(f"namespace should not be specified for a non-namespaced resource. "
                         f"{kind.kind} is not a namespaced resource", kind=kind.kind, name=name)
    return obj, len(raw)


def refuse_server_fields(kind: Kind, obj: dict) -> None:
    """Invalid when a new object sets metadata only the server writes."""
    set_fields = [f for f in SERVER_FIELDS if obj["metadata"].get(f) not in (None, "", 0)]
    if set_fields:
        name = obj["metadata"]["name"]
        raise Invalid(f"{kind.kind}.{GROUP} \"{name}\" is invalid: server-owned fields may "
                      "not be set on create", kind=kind.kind, name=name,
                      causes=[Cause(f"metadata.{f}", f"{f} is set by the server; remove it",
                                    "FieldValueForbidden") for f in set_fields])


def refuse_invalid(kind: Kind, obj: dict, causes: list[Cause]) -> None:
    """The validator's ``causes`` as the server answers them: unknown fields (Strict field
    validation) are a BadRequest, anything else Invalid with every cause."""
    if not causes:
        return
    name = obj["metadata"].get("name")
    unknown = [c for c in causes if c.reason == "FieldUnknown"]
    if unknown:
        raise strict_error(kind, name, unknown, causes)
    raise Invalid(f"{kind.kind}.{GROUP} \"{name}\" is invalid: " + "; ".join(
        f"{c.field}: {c.message}" for c in causes), kind=kind.kind, name=name, causes=causes)


def strict_error(kind: Kind, name: str | None, unknown: list[Cause],
                 causes: list[Cause]) -> BadRequest:
    return BadRequest("strict decoding error: " + ", ".join(
        f'unknown field "{c.field}"' for c in unknown), kind=kind.kind, name=name, causes=causes)


def placed_key(kind: Kind, obj: dict, *, at: str | None = None) -> str:
    """Where the kind's layout stores ``obj``; Invalid when that key would hold an object of
    another name (a layout that keys objects by their spec: an IPAMBlock named for another
    CIDR) or, for an update, is not the key it is stored at (``at``)."""
    meta = obj["metadata"]
    name, namespace = meta["name"], meta.get("namespace") if kind.namespaced else None
    try:
        key = kind.layout.key(obj)
    except ValueError as err:
        raise _misplaced(kind, name, f"it has no place in the datastore: {err}") from None
    placed = kind.layout.parse(key)
    if placed != (namespace, name):
        raise _misplaced(kind, name, f"a {kind.kind} with this spec is named {placed[1]!r}"
                         if placed else f"it has no place in the datastore ({key})")
    if at is not None and key != at:
        raise _misplaced(kind, name, "its spec may not change what it is named for")
    return key


def _misplaced(kind: Kind, name: str, problem: str) -> Invalid:
    return Invalid(f"{kind.kind}.{GROUP} \"{name}\" is invalid: metadata.name: {problem}",
                   kind=kind.kind, name=name,
                   causes=[Cause("metadata.name", problem, "FieldValueInvalid")])


def _strip_deletion(kind: Kind, meta: dict) -> None:
    """Deletion state is the server's: ``deletionTimestamp`` and
    ``deletionGracePeriodSeconds`` are dropped from what a client sends (as kube-apiserver
    does on create), and finalizers, which this server never runs (it deletes at once), are
    refused rather than stored and silently ignored."""
    meta.pop("deletionTimestamp", None)
    meta.pop("deletionGracePeriodSeconds", None)
    if meta.get("finalizers"):
        name = meta.get("name")
        raise Invalid(f"{kind.kind}.{GROUP} \"{name}\" is invalid: metadata.finalizers: "
                      "finalizers are not supported: this server deletes objects at once",
                      kind=kind.kind, name=name, causes=[Cause(
                          "metadata.finalizers", "finalizers are not supported: this server "
                          "deletes objects at once", "FieldValueForbidden")])
    meta.pop("finalizers", None)
