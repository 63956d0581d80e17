"""``get``: by kind and names, by kind (list, optionally by selector) or by file.

Tables come from the server (``as=Table``); every other format uses the objects the same
Table carries, so one request serves every output format.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import inputs, output
from ..client import ApiError, KindInfo
from ..gotemplate import TemplateError
from ..messages import describe
from ..session import CommandError, Session, err, out

_FAILED = "failed to get resources: "
_EXPORT_STRIP = ("namespace", "uid", "resourceVersion", "creationTimestamp",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


@dataclass
class Results:
    """What one get found: tables (one per named object, or one for a list), the objects
    or list objects for YAML/JSON, and per-object errors."""

    tables: list[dict] = field(default_factory=list)
    objects: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run(session: Session) -> int:
    args = session.args
    try:
        fmt = output.parse_format(args.get("--output"))
    except output.OutputError as exc:
        raise CommandError(str(exc)) from None
    if args.get("--filename"):
        results = _from_files(session)
        if results is None:
            out("No resources specified\n")
            return 0
    else:
        results = _by_kind(session)
    return _print(results, fmt, with_namespace=bool(args.get("--namespace") or
                                                     args.flag("--all-namespaces")))


def _by_kind(session: Session) -> Results:
    args = session.args
    names = args.all("<NAME>")
    if args.get("--namespace") and args.flag("--all-namespaces"):
        raise CommandError("cannot use both --namespace and --all-namespaces flags at the "
                           "same time")
    kind = inputs.kind_named(session, args.get("<KIND>"), prefix=_FAILED)
    if any(n == "" for n in names):
        raise CommandError(f"{_FAILED}resource name may not be empty")
    if names and args.flag("--all-namespaces"):
        raise CommandError("cannot use --all-namespace flag for getting a single resource")
    try:
        session.check_version()
    except CommandError as exc:
        raise CommandError(f"{_FAILED}{exc}") from None
    if not kind.namespaced and (args.get("--namespace") or args.flag("--all-namespaces")):
        return Results(errors=[f"{kind.kind} is not namespaced"])
    namespace = None if args.flag("--all-namespaces") else (args.get("--namespace") or
                                                             "default")
    namespace = namespace if kind.namespaced else None
    if names:
        return _named(session, [(kind, n, namespace) for n in names])
    return _listed(session, kind, namespace)


def _named(session: Session, targets: list[tuple[KindInfo, str, str | None]]) -> Results:
    results = Results()
    for kind, name, namespace in targets:
        try:
            table = session.client.get(kind, name, namespace, table=True)
        except ApiError as exc:
            results.errors.append(describe(exc, kind.kind, name, namespace))
            continue
        if kind.namespaced:
            table = output.with_namespace_column(table)
        if session.args.flag("--export"):
            for row in table.get("rows") or []:
                row["object"] = _exported(row.get("object") or {})
        results.tables.append(table)
        results.objects += [row.get("object") or {} for row in table.get("rows") or []]
    return results


def _listed(session: Session, kind: KindInfo, namespace: str | None) -> Results:
    table = session.client.list(kind, namespace, selector=session.args.get("--selector"),
                                table=True)
    if kind.namespaced:
        table = output.with_namespace_column(table)
    if kind.kind == "Tier":
        table["rows"] = sorted(table.get("rows") or [], key=_tier_order)
    items = [row.get("object") or {} for row in table.get("rows") or []]
    version = str((table.get("metadata") or {}).get("resourceVersion") or "")
    return Results(tables=[table], objects=[output.as_list(
        kind.kind, "projectcalico.org/v3", items, version)])


def _tier_order(row: dict) -> tuple:
    order = ((row.get("object") or {}).get("spec") or {}).get("order")
    return (order is None, order if order is not None else 0)


def _exported(obj: dict) -> dict:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _EXPORT_STRIP}
    return {**obj, "metadata": meta}


def _from_files(session: Session) -> Results | None:
    items = inputs.from_files(session)
    if items is None:
        return None
    session.check_version()
    targets, problems = [], []
    for item in items:
        problem = inputs.namespace_problem(item, session.args.get("--namespace"))
        if problem:
            problems.append(problem)
            continue
        targets.append((item.kind, item.name, item.namespace))
    results = _named(session, targets)
    results.errors = problems + results.errors
    return results


def _print(results: Results, fmt: output.Format, *, with_namespace: bool) -> int:
    try:
        if fmt.tabular:
            out("".join(output.render_table(t, fmt, with_namespace=with_namespace)
                        for t in results.tables))
        elif results.objects:
            out(output.render_objects(results.objects, fmt))
    except output.OutputError as exc:
        raise CommandError(str(exc)) from None
    except TemplateError as exc:
        raise CommandError(f"error executing template: {exc}") from None
    for line in results.errors:
        err(line + "\n")
    return 1 if results.errors else 0
