"""``validate``: each resource of ``-f`` checked by the server with a dry run, nothing
written; calicoctl's summary lines."""
from __future__ import annotations

from ..client import AlreadyExists
from ..inputs import Item
from ..session import Session
from .apply import write_all


def run(session: Session) -> int:
    return write_all(session, _validate, past="validated", check_version=False)


def _validate(session: Session, item: Item) -> None:
    """A server-side dry-run create (a dry-run replace when the object exists). The server
    refuses every write of a kind it serves read-only (ClusterInformation), dry runs too, so
    such an object is checked only as ``inputs.from_files`` decodes it (strict field names
    and types); calicoctl's offline validate accepts a well-formed one."""
    if item.kind.read_only:
        return
    try:
        session.client.create(item.kind, item.for_create(), dry_run=True)
    except AlreadyExists:
        session.client.replace(item.kind, item.for_create(), dry_run=True)
