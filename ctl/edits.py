"""``delete``, ``patch`` and ``label``: changes to existing resources."""
from __future__ import annotations

import json
from typing import Any

from .cli import UsageError
from .client import ApiError, BadRequest, CtlError, KindInfo, NotFound
from .messages import describe
from .verbs import (CommandError, Item, Session, describe_error, err, load_items,
                    namespace_problem, out, quoted, run_items, single_kind)


def _kind_or_fail(session: Session, name: str, prefix: str) -> KindInfo:
    kind = session.kind(name)
    if kind is None:
        raise CommandError(f"{prefix}resource type '{name}' is not supported")
    return kind


def _cli_namespace(session: Session, kind: KindInfo) -> str | None:
    """The namespace for KIND NAME forms; raises CommandError for cluster-scoped kinds
    given -n/-A."""
    args = session.args
    if not kind.namespaced:
        if args.get("namespace") or args.flag("all-namespaces"):
            raise CommandError(f"{kind.kind} is not namespaced")
        return None
    if args.flag("all-namespaces"):
        return None
    return args.get("namespace") or "default"


def _selected(session: Session, kind: KindInfo, namespace: str | None) -> list[Item]:
    """Every object of ``kind`` matching ``--selector``."""
    data = session.client.list(kind, namespace, selector=session.args.get("selector"))
    return [Item(kind, obj) for obj in data.get("items") or []]


# -- delete ----------------------------------------------------------------------------------
def run_delete(session: Session) -> int:
    args = session.args
    if args.get("filename"):
        if args.positionals or args.get("selector"):
            raise UsageError("delete")
        items = load_items(session)
        if items is None:
            out("No resources specified\n")
            return 0
    else:
        if not args.positionals or (args.get("selector") and len(args.positionals) > 1):
            raise UsageError("delete")
        items = _delete_targets(session)
    session.check_version()

    def one(item: Item) -> str | None:
        problem = namespace_problem(item, args.get("namespace") if args.get("filename")
                                    else "")
        if problem:
            return problem
        rv = str(item.obj["metadata"].get("resourceVersion") or "") \
            if args.get("filename") else ""
        try:
            session.client.delete(item.kind, item.name, item.namespace, resource_version=rv,
                                  dry_run=args.flag("dry-run"))
        except NotFound as exc:
            if not args.flag("skip-not-exists"):
                return item.describe(exc, verb="delete")
        except ApiError as exc:
            return item.describe(exc, verb="delete")
        return None

    errors = run_items(items, one, label="deleting", reverse=True)
    return _report_deletes(items, errors, dry_run=args.flag("dry-run"))


def _delete_targets(session: Session) -> list[Item]:
    args = session.args
    kind = _kind_or_fail(session, args.positionals[0], "")
    names = args.positionals[1:]
    if args.get("namespace") and args.flag("all-namespaces"):
        raise CommandError("cannot use both --namespace and --all-namespaces flags at the "
                           "same time")
    if args.flag("all-namespaces") and not args.get("selector"):
        raise CommandError("cannot use --all-namespace flag for deleting named resources")
    namespace = _cli_namespace(session, kind)
    if args.get("selector"):
        return _selected(session, kind, namespace)
    if not names:
        raise UsageError("delete")
    if any(n == "" for n in names):
        raise CommandError("resource name may not be empty")
    return [Item(kind, {"metadata": {"name": n, "namespace": namespace}}) for n in names]


def _report_deletes(items: list[Item], errors: list[str | None], *, dry_run: bool) -> int:
    kind = single_kind(items)
    done = sum(1 for e in errors if e is None)
    failures = [e for e in errors if e]
    if done or not failures:
        out(f"Successfully deleted {done} {quoted(kind)}resource(s)"
            f"{' (dry run)' if dry_run else ''}\n")
    if failures:
        err("".join(f"Failed to delete {quoted(kind)}resource: {e}\n" for e in failures) + "\n")
    return 1 if failures else 0


# -- patch -----------------------------------------------------------------------------------
def run_patch(session: Session) -> int:
    args = session.args
    if len(args.positionals) != 2 or not args.get("patch"):
        raise UsageError("patch")
    patch_type = args.get("type") or "strategic"
    if patch_type not in ("strategic", "merge", "json"):
        raise CommandError(f"hit error: unknown patch type '{patch_type}': use strategic, "
                           "merge or json")
    try:
        document: Any = json.loads(args.get("patch"))
    except ValueError as exc:
        raise CommandError(f"hit error: the patch is not valid JSON: {exc}") from None
    kind = _kind_or_fail(session, args.positionals[0], "hit error: ")
    name = args.positionals[1]
    namespace = _cli_namespace(session, kind)
    session.check_version()
    try:
        session.client.patch(kind, name, namespace, document, patch_type,
                             dry_run=args.flag("dry-run"))
    except ApiError as exc:
        # A merge patch holds the new value of every field it sets (named in field errors).
        patched = document if patch_type != "json" and isinstance(document, dict) else None
        raise CommandError(_patch_failure(exc, kind, name, namespace, patched)) from None
    out(f"Successfully patched 1 '{kind.kind}' resource"
        f"{' (dry run)' if args.flag('dry-run') else ''}\n")
    return 0


def _patch_failure(exc: ApiError, kind: KindInfo, name: str, namespace: str | None,
                   patched: dict | None) -> str:
    """calicoctl's words for a failed patch (resourcemgr.Patch: get, patch, decode the patched
    object strictly, update): the get's error as it is, an unknown field in the patched object
    as massageError prints it (one plain line), a patch that does not apply as it is, and the
    update's error after ``updating existing resource:``."""
    cause = describe_error(exc, kind, name, namespace, patched, verb="patch")
    if isinstance(exc, NotFound) or (isinstance(exc, BadRequest) and not exc.causes):
        return f"hit error: {cause}"
    if any(c.get("reason") == "FieldUnknown" for c in exc.causes):
        return cause
    return f"hit error: updating existing resource: {cause}"


# -- label -----------------------------------------------------------------------------------
def run_label(session: Session) -> int:
    args = session.args
    selector = args.get("selector")
    want = 2 if selector else 3
    if len(args.positionals) != want or (args.flag("overwrite") and args.flag("remove")):
        raise UsageError("label")
    typed_kind, label = args.positionals[0], args.positionals[-1]
    key, value = _label_arg(label, remove=args.flag("remove"))
    kind = _kind_or_fail(session, typed_kind, "")
    namespace = _cli_namespace(session, kind)
    session.check_version()
    if selector:
        targets = [(i.name, i.namespace) for i in _selected(session, kind, namespace)]
    else:
        targets = [(args.positionals[1], namespace)]
    code = 0
    for name, ns in targets:
        try:
            out(_label_one(session, kind, f"{typed_kind} {name}", name, ns, key, value) + "\n")
        except CommandError as exc:
            err(f"{exc}\n")
            code = 1
    return code


def _label_arg(text: str, *, remove: bool) -> tuple[str, str | None]:
    if remove:
        if "=" in text:
            raise UsageError("label")
        return text, None
    parts = text.split("=")
    if len(parts) != 2:
        if len(parts) == 1:
            raise UsageError("label")
        raise CommandError(f"invalid label {text}")
    return parts[0], parts[1]


def _label_one(session: Session, kind: KindInfo, shown: str, name: str, namespace: str | None,
               key: str, value: str | None) -> str:
    """Get, change one label, update with the fetched resourceVersion; the success line."""
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
        verb = f"Successfully removed label {key} from {shown}"
    else:
        if key in labels and labels[key] != value and not session.args.flag("overwrite"):
            raise CommandError(f"failed to update label of {shown}, key {key} is already "
                               "present. please use '--overwrite' to set a new value")
        verb = (f"Successfully updated label {key} on {shown}" if key in labels
                else f"Successfully set label {key} on {shown}")
        labels[key] = value
    obj["metadata"]["labels"] = labels
    try:
        session.client.replace(kind, obj)
    except CtlError as exc:
        cause = describe_error(exc, kind, name, namespace, obj, verb="label")
        raise CommandError(f"failed to update {shown}, label not changed: {cause}") from None
    return verb
