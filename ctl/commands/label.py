"""``label``: set, change or remove one label on one resource, or on every resource a
``--selector`` matches (get, change, update with the fetched resourceVersion)."""
from __future__ import annotations

from .. import inputs
from ..arguments import UsageError
from ..client import ApiError, CtlError, KindInfo, NotFound
from ..messages import describe, describe_write
from ..session import CommandError, Session, err, out


def run(session: Session) -> int:
    args = session.args
    typed_kind = args.get("<KIND>")
    key, value = _label(args.get("<key>=<value>") or args.get("<key>"),
                        remove=args.flag("--remove"))
    kind = inputs.kind_named(session, typed_kind)
    namespace = inputs.cli_namespace(session, kind)
    session.check_version()
    if args.get("--selector"):
        targets = [(i.name, i.namespace) for i in inputs.selected(session, kind, namespace)]
    else:
        targets = [(args.get("<NAME>"), namespace)]
    code = 0
    for name, ns in targets:
        try:
            out(_label_one(session, kind, f"{typed_kind} {name}", name, ns, key, value) + "\n")
        except CommandError as exc:
            err(f"{exc}\n")
            code = 1
    return code


def _label(text: str, *, remove: bool) -> tuple[str, str | None]:
    """``key`` and ``value`` (None: remove the key). Raises UsageError, CommandError."""
    if remove:
        if "=" in text:
            raise UsageError()
        return text, None
    parts = text.split("=")
    if len(parts) != 2:
        if len(parts) == 1:
            raise UsageError()
        raise CommandError(f"invalid label {text}")
    return parts[0], parts[1]


def _label_one(session: Session, kind: KindInfo, shown: str, name: str, namespace: str | None,
               key: str, value: str | None) -> str:
    """Get, change one label, update with the fetched resourceVersion; the success line.
    Raises CommandError."""
    try:
        obj = session.client.get(kind, name, namespace)
    except NotFound:
        raise CommandError(f"{shown} not found") from None
    except ApiError as exc:
        raise CommandError(f"{shown}: {describe(exc, kind.kind, name, namespace)}") from None
    labels = dict(obj.get("metadata", {}).get("labels") or {})
    if value is None:
        if key not in labels:
            raise CommandError(f"cannot remove label of {shown}, key {key} does not exist")
        del labels[key]
        done = f"Successfully removed label {key} from {shown}"
    else:
        if key in labels and labels[key] != value and not session.args.flag("--overwrite"):
            raise CommandError(f"failed to update label of {shown}, key {key} is already "
                               "present. please use '--overwrite' to set a new value")
        done = (f"Successfully updated label {key} on {shown}" if key in labels
                else f"Successfully set label {key} on {shown}")
        labels[key] = value
    obj["metadata"]["labels"] = labels
    try:
        session.client.replace(kind, obj)
    except CtlError as exc:
        cause = describe_write(exc, kind, name, namespace, obj, command="label")
        raise CommandError(f"failed to update {shown}, label not changed: {cause}") from None
    return done
