"""``create``, ``apply`` and ``replace``: every resource of ``-f`` written in input order (or
with bounded concurrency when there are many), never stopping at a failure."""
from __future__ import annotations

from typing import Callable

from .. import inputs, report
from ..client import AlreadyExists, BadResponse, ConnectionFailed, CtlError, MethodNotAllowed
from ..inputs import Failure, Item
from ..session import Session, out

Write = Callable[[Session, Item], None]


def _create(session: Session, item: Item) -> None:
    try:
        session.client.create(item.kind, item.for_create(), dry_run=_dry(session))
    except AlreadyExists:
        if not session.args.flag("--skip-exists"):
            raise


def apply_one(session: Session, item: Item) -> None:
    """calicoctl's apply: create, or replace what exists (or what only an update may write)."""
    try:
        session.client.create(item.kind, item.for_create(), dry_run=_dry(session))
    except (AlreadyExists, MethodNotAllowed):
        session.client.replace(item.kind, item.for_update(), dry_run=_dry(session))


def _replace(session: Session, item: Item) -> None:
    session.client.replace(item.kind, item.for_update(), dry_run=_dry(session))


def _dry(session: Session) -> bool:
    return session.args.flag("--dry-run")


_WRITES: dict[str, tuple[Write, str]] = {
    "create": (_create, "created"), "apply": (apply_one, "applied"),
    "replace": (_replace, "replaced")}


def run(session: Session) -> int:
    write, past = _WRITES[session.args.command]
    return write_all(session, write, past=past)


def write_all(session: Session, write: Write, *, past: str, check_version: bool = True) -> int:
    """``write`` for every resource of ``-f``, then calicoctl's summary (``past`` is the
    verb in it). Exit code 1 when any failed."""
    items = inputs.from_files(session)
    if items is None:
        out("No resources specified\n")
        return 0
    if check_version:
        session.check_version()
    return write_items(session, items, write, command=session.args.command, past=past)


def write_items(session: Session, items: list[Item], write: Write, *, command: str,
                past: str) -> int:
    """``write`` for every item, then calicoctl's summary of ``command``. Exit code 1 when
    any failed."""

    def one(item: Item) -> Failure | None:
        problem = inputs.namespace_problem(item, session.args.get("--namespace"))
        if problem:
            return Failure(problem)
        try:
            write(session, item)
        except (ConnectionFailed, BadResponse):
            raise
        except CtlError as exc:
            return item.failure(exc, command=command)
        return None

    errors = report.run_items(items, one, label=f"{command.removesuffix('e')}ing")
    report.writes(command, past, items, errors, dry_run=_dry(session))
    return 1 if any(errors) else 0
