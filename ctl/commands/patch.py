"""``patch``: one resource changed in place by a strategic-merge, merge or JSON patch, which
the server applies (calicoctl ignores ``--type``; here it is honoured)."""
from __future__ import annotations

import json
from typing import Any

from .. import inputs
from ..client import ApiError, BadRequest, KindInfo, NotFound
from ..messages import describe_write
from ..session import CommandError, Session, out

_TYPES = ("strategic", "merge", "json")


def run(session: Session) -> int:
    args = session.args
    patch_type = args.get("--type") or "strategic"
    if patch_type not in _TYPES:
        raise CommandError(f"hit error: unknown patch type '{patch_type}': use strategic, "
                           "merge or json")
    try:
        document: Any = json.loads(args.get("--patch"))
    except ValueError as exc:
        raise CommandError(f"hit error: the patch is not valid JSON: {exc}") from None
    kind = inputs.kind_named(session, args.get("<KIND>"), prefix="hit error: ")
    name = args.get("<NAME>")
    namespace = inputs.cli_namespace(session, kind)
    session.check_version()
    try:
        session.client.patch(kind, name, namespace, document, patch_type,
                             dry_run=args.flag("--dry-run"))
    except ApiError as exc:
        # A merge patch holds the new value of every field it sets (named in field errors).
        patched = document if patch_type != "json" and isinstance(document, dict) else None
        raise CommandError(_failure(exc, kind, name, namespace, patched)) from None
    out(f"Successfully patched 1 '{kind.kind}' resource"
        f"{' (dry run)' if args.flag('--dry-run') else ''}\n")
    return 0


def _failure(exc: ApiError, kind: KindInfo, name: str, namespace: str | None,
             patched: dict | None) -> str:
    """calicoctl's words for a failed patch (resourcemgr.Patch: get, patch, decode the patched
    object strictly, update): the get's error as it is, an unknown field in the patched object
    as massageError prints it (one plain line), a patch that does not apply as it is, and the
    update's error after ``updating existing resource:``."""
    cause = describe_write(exc, kind, name, namespace, patched, command="patch")
    if isinstance(exc, NotFound) or (isinstance(exc, BadRequest) and not exc.causes):
        return f"hit error: {cause}"
    if any(c.get("reason") == "FieldUnknown" for c in exc.causes):
        return cause
    return f"hit error: updating existing resource: {cause}"
