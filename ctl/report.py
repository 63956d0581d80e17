"""Running one operation over many resources and saying how it went, in calicoctl's words:
the summary lines of create/apply/replace/validate and of delete, and the one line that
ends a command when the server is lost midway."""
from __future__ import annotations

from typing import Callable, TypeVar

from . import batch
from .inputs import Failure, Item
from .session import CommandError, err, out

R = TypeVar("R")


def run_items(items: list[Item], one: Callable[[Item], R], *, label: str,
              reverse: bool = False) -> list[R]:
    """``one`` over every item (batch rules), each returning its failure or None; a lost
    server ends the command with one line naming every resource that had already
    succeeded. Raises CommandError."""
    try:
        return batch.run_all(items, one, kind_of=lambda i: i.kind.kind, key_of=lambda i: i.key,
                             reverse=reverse, label=label)
    except batch.Aborted as exc:
        done = [items[i] for i in sorted(exc.done) if exc.done[i] is None]
        names = ", ".join(i.ident for i in done) or "none"
        raise CommandError(f"{exc.cause}; {len(done)} of {len(items)} resources succeeded "
                           f"before it: {names}") from None


def _single_kind(items: list[Item]) -> str:
    """The kind all ``items`` share, or "" (calicoctl then names none)."""
    kinds = {i.kind.kind for i in items}
    return kinds.pop() if len(kinds) == 1 else ""


def _quoted(kind: str) -> str:
    return f"'{kind}' " if kind else ""


def writes(command: str, past: str, items: list[Item], errors: list[Failure | None], *,
           dry_run: bool = False) -> None:
    """calicoctl's summary lines for create/apply/replace/validate, then where each failure
    is in the input."""
    kind = _single_kind(items)
    failures = [e for e in errors if e]
    suffix = " (dry run)" if dry_run else ""
    if not failures:
        out(f"Successfully {past} {len(items)} {_quoted(kind)}resource(s){suffix}\n")
        return
    if command == "replace":
        out(f"Partial success: replaced the first {len(items)} out of {len(items)} "
            f"{_quoted(kind)}resources:\n")
        err(f"hit error: {failures[-1].text}\n")
    else:
        listed = "[" + " ".join(f.text for f in failures) + "]"
        successes = len(items) - len(failures)
        if successes == 0 and len(items) == 1:
            err(f"failed to {command} {_quoted(kind)}resource: {listed}\n")
        elif successes == 0:
            err(f"failed to {command} any {_quoted(kind)}resources: {listed}\n")
        else:
            if successes > len(failures):
                out(f"Partial success: {past} the first {successes} out of {len(items)} "
                    f"{_quoted(kind)}resources:\n")
            err(f"hit error{'' if command == 'create' else '(s)'}: {listed}\n")
    _where(failures)


def deletes(items: list[Item], errors: list[Failure | None], *, dry_run: bool) -> None:
    """calicoctl's lines for delete: the count done, then each failure on its own line."""
    kind = _single_kind(items)
    done = sum(1 for e in errors if e is None)
    failures = [e for e in errors if e]
    if done or not failures:
        out(f"Successfully deleted {done} {_quoted(kind)}resource(s)"
            f"{' (dry run)' if dry_run else ''}\n")
    if failures:
        err("".join(f"Failed to delete {_quoted(kind)}resource: {f.text}\n"
                    for f in failures) + "\n")
        _where(failures)


def _where(failures: list[Failure]) -> None:
    """ctl's lines after calicoctl's: where in the input each failure's causes are."""
    err("".join(f"{line}\n" for f in failures for line in f.where))
