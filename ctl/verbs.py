"""calicoctl's verbs over the HTTP API: what each one sends, counts and prints.

Every verb returns the exit code (0 success, 1 any error) and writes results to stdout,
errors to stderr, with calicoctl's wording (``messages.py``).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Callable

from . import batch, config, decode, manifests
from .cli import Args, UsageError
from .client import (AlreadyExists, ApiClient, BadResponse, ConnectionFailed, CtlError,
                     KindInfo, MethodNotAllowed, NotFound, kind_lookup)
from .messages import describe, ident, massage, read_only_refusal

CLIENT_VERSION = "v3.32.1"
_KEEP_META = ("name", "namespace", "labels", "annotations")


class CommandError(Exception):
    """Ends the command: ``message`` on stderr (or stdout), exit 1."""

    def __init__(self, message: str, *, to_stdout: bool = False) -> None:
        super().__init__(message)
        self.to_stdout = to_stdout


@dataclass
class Item:
    """One resource to act on: its kind, the object as sent, and its identity."""

    kind: KindInfo
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.obj["metadata"].get("name") or "")

    @property
    def namespace(self) -> str | None:
        return self.obj["metadata"].get("namespace") if self.kind.namespaced else None

    @property
    def key(self) -> tuple:
        return (self.kind.kind, self.namespace, self.name)

    def describe(self, err: CtlError, *, verb: str) -> str:
        return describe_error(err, self.kind, self.name, self.namespace, self.obj, verb=verb)


# The resource-manager operation behind each verb that writes: apply refuses a read-only
# kind itself; replace, patch and label end in the kind's update; create and delete are the
# kind's own.
_OPERATIONS = {"create": "create", "apply": "apply", "replace": "update", "patch": "update",
               "label": "update", "delete": "delete"}


def describe_error(err: CtlError, kind: KindInfo, name: str, namespace: str | None,
                   obj: dict | None = None, *, verb: str) -> str:
    """calicoctl's text for ``err`` raised by ``verb`` on one resource. calicoctl refuses
    writes to a read-only kind in its own resource manager, so the server's refusal of a kind
    it serves read-only is worded as calicoctl's."""
    if isinstance(err, MethodNotAllowed) and kind.read_only and verb in _OPERATIONS:
        return read_only_refusal(kind.kind, _OPERATIONS[verb])
    return describe(err, kind.kind, name, namespace, obj)


class Session:
    """A verb's view of the world: parsed arguments and a lazily built client."""

    def __init__(self, args: Args) -> None:
        self.args = args
        self._client: ApiClient | None = None

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            flags = config.Flags(
                server=self.args.get("server"), token=self.args.get("token"),
                ca_file=self.args.get("certificate-authority"),
                cert_file=self.args.get("client-certificate"),
                key_file=self.args.get("client-key"), timeout=self.args.get("timeout"),
                config=self.args.get("config") or config.DEFAULT_CONFIG)
            try:
                self._client = ApiClient(config.connection(flags))
            except config.ConfigError as err:
                raise CommandError(str(err), to_stdout=err.to_stdout) from None
        return self._client

    def kind(self, name: str) -> KindInfo | None:
        return kind_lookup(self.client.kinds(), name)

    def check_version(self) -> None:
        """calicoctl's client/cluster version check (skipped when the cluster has none)."""
        if self.args.flag("allow-version-mismatch"):
            return
        info = self.kind("clusterinformation")
        if info is None:
            return
        try:
            cluster = self.client.get(info, "default", None).get("spec", {}).get(
                "calicoVersion") or ""
        except NotFound:
            return
        if cluster and _version_core(cluster) != _version_core(CLIENT_VERSION):
            raise CommandError(f"version mismatch.\nClient Version:   {CLIENT_VERSION}\n"
                               f"Cluster Version:  {cluster}\n"
                               "Use --allow-version-mismatch to override")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _version_core(version: str) -> str:
    return version.lstrip("v").split("-", 1)[0]


def out(text: str) -> None:
    sys.stdout.write(text)


def err(text: str) -> None:
    sys.stderr.write(text)


# -- inputs ----------------------------------------------------------------------------------
def load_items(session: Session) -> list[Item] | None:
    """Resources from ``-f``, resolved to kinds and decoded strictly (calicoctl's decoder:
    every document, before anything is sent); None when empty and ``--skip-empty``.
    Raises CommandError (nothing has been sent yet)."""
    args = session.args
    schemas: dict[str, dict] | None = None

    def decoded(doc: Any) -> Any:
        nonlocal schemas
        if schemas is None:
            schemas = decode.schemas(session.client)
        try:
            data = json.loads(json.dumps(doc, default=_yaml_only))
        except (TypeError, ValueError) as exc:
            raise manifests.ManifestError(f"unsupported YAML value: {exc}") from None
        return decode.document(data, schemas)

    items = []
    try:
        for res in manifests.load(args.get("filename"), recursive=args.flag("recursive"),
                                  kinds=lambda: [k.kind for k in session.client.kinds()],
                                  decode=decoded):
            kind = next(k for k in session.client.kinds() if k.kind == res.obj["kind"])
            obj = res.obj
            if not isinstance(obj.get("metadata"), dict):
                obj["metadata"] = {}
            items.append(Item(kind, obj))
    except manifests.NoResources as exc:
        if args.flag("skip-empty"):
            return None
        raise CommandError(str(exc)) from None
    except (manifests.ManifestError, decode.DecodeError) as exc:
        raise CommandError(massage(f"failed to execute command: {exc}")) from None
    return items


def _yaml_only(value: Any) -> Any:
    """YAML values JSON has no type for, as Go's yaml.v2 reads them: ``!!binary`` is the
    decoded text, a ``!!set`` a map of nulls."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return dict.fromkeys(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def namespace_problem(item: Item, cli_namespace: str) -> str:
    """calicoctl's handleNamespace: fills in the namespace or says what is wrong ('' = ok)."""
    meta = item.obj["metadata"]
    given = meta.get("namespace") or ""
    if item.kind.namespaced:
        if not given:
            meta["namespace"] = cli_namespace or "default"
        elif cli_namespace and given != cli_namespace:
            return ("resource namespace does not match client namespace. "
                    f"{given} != {cli_namespace}")
        return ""
    if given:
        return ("namespace should not be specified for a non-namespaced resource. "
                f"{item.kind.kind} is not a namespaced resource")
    return ""


def for_create(obj: dict) -> dict:
    """The object without server-owned metadata (calicoctl's prepareMetadataForCreate)."""
    meta = {k: v for k, v in obj["metadata"].items() if k in _KEEP_META}
    return {**obj, "metadata": meta}


def for_update(obj: dict) -> dict:
    """Metadata the client owns, plus the file's resourceVersion when it has one."""
    meta = {k: v for k, v in obj["metadata"].items() if k in _KEEP_META}
    if obj["metadata"].get("resourceVersion"):
        meta["resourceVersion"] = str(obj["metadata"]["resourceVersion"])
    return {**obj, "metadata": meta}


def single_kind(items: list[Item]) -> str:
    kinds = {i.kind.kind for i in items}
    return kinds.pop() if len(kinds) == 1 else ""


def quoted(kind: str) -> str:
    return f"'{kind}' " if kind else ""


# -- create / apply / replace / validate -----------------------------------------------------
def _create(session: Session, item: Item) -> None:
    try:
        session.client.create(item.kind, for_create(item.obj), dry_run=_dry(session))
    except AlreadyExists:
        if not session.args.flag("skip-exists"):
            raise


def _apply(session: Session, item: Item) -> None:
    try:
        session.client.create(item.kind, for_create(item.obj), dry_run=_dry(session))
    except (AlreadyExists, MethodNotAllowed):
        session.client.replace(item.kind, for_update(item.obj), dry_run=_dry(session))


def _replace(session: Session, item: Item) -> None:
    session.client.replace(item.kind, for_update(item.obj), dry_run=_dry(session))


def _validate(session: Session, item: Item) -> None:
    """A server-side dry-run create (a dry-run replace when the object exists). The server
    refuses every write of a kind it serves read-only (ClusterInformation), dry runs too, so
    such an object is checked only as ``load_items`` decodes it (strict field names and
    types); calicoctl's offline validate accepts a well-formed one."""
    if item.kind.read_only:
        return
    try:
        session.client.create(item.kind, for_create(item.obj), dry_run=True)
    except AlreadyExists:
        session.client.replace(item.kind, for_create(item.obj), dry_run=True)


def _dry(session: Session) -> bool:
    return session.args.flag("dry-run")


WRITERS: dict[str, tuple[Callable[[Session, Item], None], str]] = {
    "create": (_create, "created"), "apply": (_apply, "applied"),
    "replace": (_replace, "replaced"), "validate": (_validate, "validated"),
}


def write_verb(session: Session) -> int:
    """create, apply, replace and validate: every resource in order, never stopping."""
    verb = session.args.verb
    if not session.args.get("filename"):
        raise UsageError(verb)
    items = load_items(session)
    if items is None:
        out("No resources specified\n")
        return 0
    if verb != "validate":
        session.check_version()
    action, past = WRITERS[verb]

    def one(item: Item) -> str | None:
        problem = namespace_problem(item, session.args.get("namespace"))
        if problem:
            return problem
        try:
            action(session, item)
        except (ConnectionFailed, BadResponse):
            raise
        except CtlError as exc:
            return item.describe(exc, verb=verb)
        return None

    errors = run_items(items, one, label=f"{verb}ing")
    report_writes(verb, past, items, errors, dry_run=_dry(session))
    return 1 if any(errors) else 0


def run_items(items: list[Item], one: Callable[[Item], str | None], *, label: str,
              reverse: bool = False) -> list[str | None]:
    """``one`` over every item (batch rules); a lost server ends the command with one line
    naming every resource that had already succeeded."""
    try:
        return batch.run_all(items, one, kind_of=lambda i: i.kind.kind, key_of=lambda i: i.key,
                             reverse=reverse, label=label)
    except batch.Aborted as exc:
        done = [items[i] for i in sorted(exc.done) if exc.done[i] is None]
        names = ", ".join(describe_id(i) for i in done) or "none"
        raise CommandError(f"{exc.cause}; {len(done)} of {len(items)} resources succeeded "
                           f"before it: {names}") from None


def describe_id(item: Item) -> str:
    """``Kind(name)`` / ``Kind(namespace/name)``."""
    return ident(item.kind.kind, item.name, item.namespace)


def report_writes(verb: str, past: str, items: list[Item], errors: list[str | None], *,
                  dry_run: bool = False) -> None:
    """calicoctl's summary lines for create/apply/replace/validate."""
    kind = single_kind(items)
    failures = [e for e in errors if e]
    suffix = " (dry run)" if dry_run else ""
    if not failures:
        out(f"Successfully {past} {len(items)} {quoted(kind)}resource(s){suffix}\n")
        return
    if verb == "replace":
        out(f"Partial success: replaced the first {len(items)} out of {len(items)} "
            f"{quoted(kind)}resources:\n")
        err(f"hit error: {failures[-1]}\n")
        return
    listed = "[" + " ".join(failures) + "]"
    successes = len(items) - len(failures)
    if successes == 0:
        if len(items) == 1:
            err(f"failed to {verb} {quoted(kind)}resource: {listed}\n")
        else:
            err(f"failed to {verb} any {quoted(kind)}resources: {listed}\n")
        return
    if successes > len(failures):
        out(f"Partial success: {past} the first {successes} out of {len(items)} "
            f"{quoted(kind)}resources:\n")
    err(f"hit error{'' if verb == 'create' else '(s)'}: {listed}\n")


# -- dispatch --------------------------------------------------------------------------------
def run(args: Args) -> int:
    """Run one parsed command; every failure becomes one line and exit code 1."""
    from . import edits, extras, get
    handlers: dict[str, Callable[[Session], int]] = {
        "get": get.run_get, "create": write_verb, "apply": write_verb, "replace": write_verb,
        "validate": write_verb, "delete": edits.run_delete, "patch": edits.run_patch,
        "label": edits.run_label, "version": extras.run_version, "diff": extras.run_diff,
        "completion": extras.run_completion}
    session = Session(args)
    try:
        return handlers[args.verb](session)
    except UsageError:
        from . import helptext
        err(helptext.usage(args.verb))
        return 1
    except CommandError as exc:
        (out if exc.to_stdout else err)(f"{exc}\n")
        return 1
    except CtlError as exc:
        err(f"{exc}\n")
        return 1
    finally:
        session.close()
