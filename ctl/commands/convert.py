"""``convert``: Kubernetes NetworkPolicies and Calico v1 resources as Calico v3 resources,
printed as ``calicoctl convert`` printed them (one resource bare, several in a v1 ``List``).
calicoctl validated the result in-process, and so does ctl: with the server's own checks,
offline (``ctl/offline.py``)."""
from __future__ import annotations

from .. import conversion, inputs, manifests, output
from ..client import ApiError
from ..messages import describe
from ..offline import OfflineClient
from ..session import CommandError, Session, out

_RERUN = "Re-run the command with '--ignore-validation' flag to see the converted output"


def run(session: Session) -> int:
    args = session.args
    fmt = args.get("--output") or "yaml"
    if fmt not in ("yaml", "yml", "json"):
        raise CommandError(f"unrecognized output format '{fmt}'")
    filename = args.get("--filename")
    try:
        loaded = [part for d in manifests.read(filename) if d.doc is not None
                  for part in (d.doc if isinstance(d.doc, list) else [d.doc])]
    except manifests.ManifestError as exc:
        raise CommandError(f"failed to create resources from file: {exc}") from None
    results = []
    for doc in loaded:
        if not isinstance(doc, dict):
            raise CommandError("failed to create resources from file: a document is not a "
                               "resource")
        try:
            results += conversion.convert(doc)
        except conversion.ConversionError as exc:
            message = str(exc)
            if message.startswith("unknown resource type"):
                raise CommandError(f"failed to create resources from file: {message}") from None
            raise CommandError(f"failed to convert resource: {message}") from None
    if not results:
        raise CommandError(f"no resources specified in file {filename}")
    if not args.flag("--ignore-validation"):
        session.use(OfflineClient())  # type: ignore[arg-type] - it answers what is asked here
        for obj in results:
            _validate(session, obj)
    value = results[0] if len(results) == 1 else {
        "kind": "List", "apiVersion": "v1", "metadata": {}, "items": results}
    out(output.to_json(value) if fmt == "json" else output.to_yaml(output.go_order(value)))
    return 0


def _validate(session: Session, obj: dict) -> None:
    """The verdict of the server's checks on ``obj`` in the namespace apply would put it in:
    the object alone is judged, as calicoctl's validator judged it. Raises CommandError."""
    kind = inputs.kind_named(session, obj["kind"])
    meta = obj["metadata"]
    if kind.namespaced:
        meta = {**meta, "namespace": meta.get("namespace") or "default"}
        obj = {**obj, "metadata": meta}
    try:
        session.client.create(kind, obj, dry_run=True)
    except ApiError as exc:
        cause = describe(exc, kind.kind, meta.get("name", ""), meta.get("namespace"), obj)
        raise CommandError(f"converted manifest resource(s) failed validation: {cause}"
                           f"{_RERUN}") from None
