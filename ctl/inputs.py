"""The resources a command acts on: read from ``-f`` (files, stdin, directories; decoded
strictly, as calicoctl does, before anything is sent), named as ``<KIND> <NAME>`` on the
command line, or selected by ``--selector``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from . import decode, manifests
from .client import ApiError, CtlError, KindInfo
from .messages import describe_write, field_paths, ident, massage
from .session import CommandError, Session

_CLIENT_META = ("name", "namespace", "labels", "annotations")


@dataclass(frozen=True)
class Failure:
    """One resource's failure: calicoctl's text, and (ctl's addition) where in the input
    each of its field causes is, one line per distinct cause."""

    text: str
    where: tuple[str, ...] = ()


@dataclass
class Item:
    """One resource to act on: its kind, the object as sent, its identity, and the file
    (``stdin``) and document it was read from ("" and 0: named on the command line)."""

    kind: KindInfo
    obj: dict[str, Any]
    source: str = ""
    document: int = 0

    @property
    def name(self) -> str:
        return str(self.obj["metadata"].get("name") or "")

    @property
    def namespace(self) -> str | None:
        return self.obj["metadata"].get("namespace") if self.kind.namespaced else None

    @property
    def key(self) -> tuple:
        return (self.kind.kind, self.namespace, self.name)

    @property
    def ident(self) -> str:
        """``Kind(name)`` / ``Kind(namespace/name)``."""
        return ident(self.kind.kind, self.name, self.namespace)

    def describe(self, exc: CtlError, *, command: str) -> str:
        """calicoctl's text for ``exc``, raised by ``command`` on this resource."""
        return describe_write(exc, self.kind, self.name, self.namespace, self.obj,
                              command=command)

    def failure(self, exc: CtlError, *, command: str) -> Failure:
        """``describe``, then, for a resource read from a file, a line naming the file, the
        document and the paths of each distinct field cause the server gave."""
        causes = exc.causes if isinstance(exc, ApiError) and self.source else []
        groups = {text: paths for text, paths in
                  field_paths(causes, self.kind.kind, self.obj).items() if paths}
        origin = "stdin" if self.source == "stdin" else f"file {self.source}"
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        head = f"{origin}, document {self.document} ({self.kind.kind} {name}): "
        return Failure(self.describe(exc, command=command), tuple(
            head + ", ".join(paths) + (f": {text}" if len(groups) > 1 else "")
            for text, paths in groups.items()))

    def for_create(self) -> dict:
        """The object without server-owned metadata (calicoctl's prepareMetadataForCreate)."""
        meta = {k: v for k, v in self.obj["metadata"].items() if k in _CLIENT_META}
        return {**self.obj, "metadata": meta}

    def for_update(self) -> dict:
        """Metadata the client owns, plus the file's resourceVersion when it has one."""
        update = self.for_create()
        if self.obj["metadata"].get("resourceVersion"):
            update["metadata"]["resourceVersion"] = str(self.obj["metadata"]["resourceVersion"])
        return update


Load = Callable[[Callable[[], list[str]], Callable[[Any], Any]], Iterator[manifests.Resource]]


def from_files(session: Session) -> list[Item] | None:
    """Resources from ``-f``, resolved to kinds and decoded strictly (calicoctl's decoder:
    every document, before anything is sent); None when empty and ``--skip-empty``.
    Raises CommandError (nothing has been sent yet)."""
    args = session.args
    return _items(session, lambda kinds, decode: manifests.load(
        args.get("--filename"), recursive=args.flag("--recursive"), kinds=kinds, decode=decode),
        skip_empty=args.flag("--skip-empty"))


def from_text(session: Session, text: str, source: str) -> list[Item]:
    """``from_files`` for the manifests ``text`` read from ``source``. Raises CommandError."""
    return _items(session, lambda kinds, decode: manifests.resolve(
        manifests.parse(text, source), f"file {source}", kinds=kinds, decode=decode),
        skip_empty=True) or []


def _items(session: Session, load: Load, *, skip_empty: bool) -> list[Item] | None:
    schemas: dict[str, dict] | None = None

    def decoded(doc: Any) -> Any:
        nonlocal schemas
        if schemas is None:
            schemas = session.client.schemas()
        try:
            data = json.loads(json.dumps(doc, default=_yaml_only))
        except (TypeError, ValueError) as exc:
            raise manifests.ManifestError(f"unsupported YAML value: {exc}") from None
        return decode.document(data, schemas)

    items = []
    try:
        for res in load(lambda: [k.kind for k in session.client.kinds()], decoded):
            kind = next(k for k in session.client.kinds() if k.kind == res.obj["kind"])
            obj = res.obj
            if not isinstance(obj.get("metadata"), dict):
                obj["metadata"] = {}
            items.append(Item(kind, obj, res.source, res.document))
    except manifests.NoResources as exc:
        if skip_empty:
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


def kind_named(session: Session, name: str, *, prefix: str = "") -> KindInfo:
    """The kind ``<KIND>`` names. Raises CommandError (``prefix`` leads its message)."""
    kind = session.kind(name)
    if kind is None:
        raise CommandError(f"{prefix}resource type '{name}' is not supported")
    return kind


def cli_namespace(session: Session, kind: KindInfo) -> str | None:
    """The namespace of the ``<KIND> <NAME>`` forms (None: every namespace, or a
    cluster-scoped kind). Raises CommandError for a cluster-scoped kind given -n/-A."""
    args = session.args
    if not kind.namespaced:
        if args.get("--namespace") or args.flag("--all-namespaces"):
            raise CommandError(f"{kind.kind} is not namespaced")
        return None
    if args.flag("--all-namespaces"):
        return None
    return args.get("--namespace") or "default"


def selected(session: Session, kind: KindInfo, namespace: str | None) -> list[Item]:
    """Every object of ``kind`` matching ``--selector``."""
    data = session.client.list(kind, namespace, selector=session.args.get("--selector"))
    return [Item(kind, obj) for obj in data.get("items") or []]
