"""Running one operation over many resources: in order for small inputs (calicoctl's
behaviour), with bounded concurrency and a progress bar on a terminal for large ones.

Large inputs run in phases — resources other objects depend on (Tiers, BGPFilters) before
the rest, and after the rest when deleting — and several entries for the same object
always run one after another, in input order.
"""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from .client import BadResponse, ConnectionFailed

T = TypeVar("T")
R = TypeVar("R")

THRESHOLD = 50
WORKERS = 8
PROVIDERS = ("Tier", "BGPFilter")


class Aborted(Exception):
    """The server became unreachable; ``done`` holds the results obtained before."""

    def __init__(self, cause: Exception, done: dict[int, object]) -> None:
        super().__init__(str(cause))
        self.cause, self.done = cause, done


def run_all(items: Sequence[T], fn: Callable[[T], R], *, kind_of: Callable[[T], str],
            key_of: Callable[[T], tuple], reverse: bool = False,
            label: str = "") -> list[R]:
    """``fn`` applied to every item; results in input order. ``fn`` reports per-item
    failures in its result; a ConnectionFailed/BadResponse stops everything (Aborted)."""
    if len(items) <= THRESHOLD:
        done: dict[int, object] = {}
        for i, item in enumerate(items):
            try:
                done[i] = fn(item)
            except (ConnectionFailed, BadResponse) as err:
                raise Aborted(err, done) from None
        return [done[i] for i in range(len(items))]  # type: ignore[misc]
    return _concurrent(items, fn, kind_of, key_of, reverse, label)


def _phases(items: Sequence[T], kind_of: Callable[[T], str], reverse: bool) -> list[list[int]]:
    first = [i for i, it in enumerate(items) if kind_of(it) in PROVIDERS]
    rest = [i for i, it in enumerate(items) if kind_of(it) not in PROVIDERS]
    phases = [rest, first] if reverse else [first, rest]
    return [p for p in phases if p]


def _concurrent(items: Sequence[T], fn: Callable[[T], R], kind_of: Callable[[T], str],
                key_of: Callable[[T], tuple], reverse: bool, label: str) -> list[R]:
    done: dict[int, object] = {}
    progress = _progress(len(items), label)
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            for phase in _phases(items, kind_of, reverse):
                lanes: dict[tuple, list[int]] = {}
                for i in phase:
                    lanes.setdefault(key_of(items[i]), []).append(i)

                def lane(indexes: list[int]) -> None:
                    for i in indexes:
                        done[i] = fn(items[i])
                        progress(1)

                futures = [pool.submit(lane, idx) for idx in lanes.values()]
                for future in futures:
                    try:
                        future.result()
                    except (ConnectionFailed, BadResponse) as err:
                        for other in futures:
                            other.cancel()
                        raise Aborted(err, done) from None
    finally:
        progress(0, close=True)
    return [done[i] for i in range(len(items))]  # type: ignore[misc]


def _progress(total: int, label: str) -> Callable[..., None]:
    """A rich progress bar on stderr when it is a terminal; otherwise a no-op."""
    if not sys.stderr.isatty():
        return lambda n, close=False: None
    bar = Progress(TextColumn(label or "working"), BarColumn(), MofNCompleteColumn(),
                   console=Console(file=sys.stderr), transient=True)
    task = bar.add_task(label, total=total)
    bar.start()

    def advance(n: int, close: bool = False) -> None:
        if close:
            bar.stop()
        else:
            bar.advance(task, n)
    return advance
