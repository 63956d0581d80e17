"""``diff``: per resource of ``-f``, a unified diff between the stored object and what apply
would store (a server-side dry run). Exit 1 when anything differs or fails."""
from __future__ import annotations

import difflib
from typing import Any

from .. import inputs, output, report
from ..client import ApiError, NotFound
from ..inputs import Item
from ..session import Session, err, out

_VOLATILE = ("uid", "creationTimestamp", "resourceVersion", "generation", "managedFields")


def run(session: Session) -> int:
    items = inputs.from_files(session)
    if items is None:
        out("No resources specified\n")
        return 0
    session.check_version()
    texts = report.run_items(items, lambda item: _diff_one(session, item), label="diffing")
    failed = False
    for text in texts:
        if text and text.startswith("error: "):
            err(text[len("error: "):] + "\n")
            failed = True
        elif text:
            out(text)
            failed = True
    return 1 if failed else 0


def _diff_one(session: Session, item: Item) -> str | None:
    """The diff of one resource, "error: <text>" when it cannot be had, None when equal."""
    problem = inputs.namespace_problem(item, session.args.get("--namespace"))
    if problem:
        return f"error: {problem}"
    try:
        try:
            live: dict[str, Any] | None = session.client.get(item.kind, item.name,
                                                             item.namespace)
        except NotFound:
            live = None
        if live is None:
            after = session.client.create(item.kind, item.for_create(), dry_run=True)
        else:
            after = session.client.replace(item.kind, item.for_update(), dry_run=True)
    except ApiError as exc:
        return f"error: {item.describe(exc, command='apply')}"
    before = output.to_yaml(_stable(live)).splitlines(keepends=True) if live else []
    now = output.to_yaml(_stable(after)).splitlines(keepends=True)
    lines = difflib.unified_diff(before, now, fromfile=f"{item.ident} (live)",
                                 tofile=f"{item.ident} (applied)")
    return "".join(lines) or None


def _stable(obj: dict) -> dict:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE}
    return output.go_order({**obj, "metadata": meta})
