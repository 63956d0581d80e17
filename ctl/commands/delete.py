"""``delete``: by file, by ``<KIND> <NAME>...`` or by ``<KIND> --selector``; in reverse
input order (dependants before what they depend on) when there are many."""
from __future__ import annotations

from .. import inputs, report
from ..arguments import UsageError
from ..client import ApiError, NotFound
from ..inputs import Failure, Item
from ..session import CommandError, Session, out


def run(session: Session) -> int:
    args = session.args
    from_files = bool(args.get("--filename"))
    if from_files:
        items = inputs.from_files(session)
        if items is None:
            out("No resources specified\n")
            return 0
    else:
        items = _named(session)
    session.check_version()

    def one(item: Item) -> Failure | None:
        problem = inputs.namespace_problem(item, args.get("--namespace") if from_files else "")
        if problem:
            return Failure(problem)
        version = str(item.obj["metadata"].get("resourceVersion") or "") if from_files else ""
        try:
            session.client.delete(item.kind, item.name, item.namespace,
                                  resource_version=version, dry_run=args.flag("--dry-run"))
        except NotFound as exc:
            if not args.flag("--skip-not-exists"):
                return item.failure(exc, command="delete")
        except ApiError as exc:
            return item.failure(exc, command="delete")
        return None

    errors = report.run_items(items, one, label="deleting", reverse=True)
    report.deletes(items, errors, dry_run=args.flag("--dry-run"))
    return 1 if any(errors) else 0


def _named(session: Session) -> list[Item]:
    """The resources of the ``<KIND> <NAME>...`` and ``<KIND> --selector`` forms."""
    args = session.args
    names, selector = args.all("<NAME>"), args.get("--selector")
    if selector and names:
        raise UsageError()
    kind = inputs.kind_named(session, args.get("<KIND>"))
    if args.get("--namespace") and args.flag("--all-namespaces"):
        raise CommandError("cannot use both --namespace and --all-namespaces flags at the "
                           "same time")
    if args.flag("--all-namespaces") and not selector:
        raise CommandError("cannot use --all-namespace flag for deleting named resources")
    namespace = inputs.cli_namespace(session, kind)
    if selector:
        return inputs.selected(session, kind, namespace)
    if not names:
        raise UsageError()
    if any(n == "" for n in names):
        raise CommandError("resource name may not be empty")
    return [Item(kind, {"metadata": {"name": n, "namespace": namespace}}) for n in names]
