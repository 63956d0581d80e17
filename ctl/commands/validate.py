"""``validate``: each resource of ``-f`` checked without a server, as calicoctl's validate
does, by the server's own checks (``ctl/offline.py``); calicoctl's summary lines."""
from __future__ import annotations

from ..inputs import Item
from ..offline import OfflineClient
from ..session import Session
from .apply import write_all


def run(session: Session) -> int:
    session.use(OfflineClient())  # type: ignore[arg-type] - it answers what validate asks
    return write_all(session, _validate, past="validated", check_version=False)


def _validate(session: Session, item: Item) -> None:
    session.client.create(item.kind, item.for_create(), dry_run=True)
