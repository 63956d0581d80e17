"""Reading resources from files, stdin and directories, as calicoctl does.

A file holds YAML (or JSON) documents separated by ``---`` lines; each document is one
resource, a sequence of resources, a ``<Kind>List`` (projectcalico.org/v3) or a Kubernetes
``kind: List`` (v1). Documents are handled one after another, as calicoctl does: each is
parsed, its kinds are checked, then it is decoded (``decode.document``), so the first problem
in input order is the one reported. Callers collect every resource before sending anything.

Kinds are checked as calicoctl checks them: a document's ``kind`` must be one the server
serves (exact spelling) with apiVersion projectcalico.org/v3, and a ``<Kind>List`` must name
such a kind and hold only resources of that kind.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator

import yaml

API_VERSION = "projectcalico.org/v3"
EXTENSIONS = (".yaml", ".yml", ".json")
_SEPARATOR = re.compile(r"^---.*$", re.M)


class ManifestError(Exception):
    """A file that cannot be used (calicoctl prefixes it with ``failed to execute command:``)."""


class NoResources(ManifestError):
    """The inputs hold no resource at all (``--skip-empty`` turns this into success)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML as Go's yaml.v2 reads it: no implicit timestamps (they stay strings, as in
    JSON) and no base-60 numbers (``8:9`` is a port range, not 489)."""


class _FastLoader(getattr(yaml, "CSafeLoader", _Loader)):  # type: ignore[misc]
    """``_Loader`` scanned and parsed by libyaml (a 1,000-object file: 0.1 s, not 1 s). Its
    error messages are libyaml's own, so a document it refuses is read again by ``_Loader``
    for the message (closer to Go's)."""


_NUMBERS = {
    "tag:yaml.org,2002:int": re.compile(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    "tag:yaml.org,2002:float": re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")}
_Loader.yaml_implicit_resolvers = _FastLoader.yaml_implicit_resolvers = {
    k: [(tag, _NUMBERS.get(tag, rx)) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


@dataclass(frozen=True)
class Resource:
    """One resource from an input, with where it came from: the file (``stdin``) and the
    number of its ``---`` document (from 1)."""

    obj: dict[str, Any]
    source: str
    document: int


@dataclass(frozen=True)
class Document:
    """One parsed ``---`` document of a file (``number`` counts from 1)."""

    doc: Any
    source: str
    number: int


def load(filename: str, *, recursive: bool = False,
         kinds: Callable[[], Collection[str]],
         decode: Callable[[Any], Any] = lambda doc: doc) -> Iterator[Resource]:
    """Every resource named by ``-f`` (``-`` = stdin, a directory = its manifests), in
    document order. ``kinds()`` names the kinds the server serves (called once, when there is
    a document to check); ``decode`` maps a document whose kinds are known to its decoded
    form (raising its own errors). Raises ManifestError (NoResources, at the end, when there
    was nothing at all)."""
    documents: Iterator[Document]
    if Path(filename).is_dir():
        documents, where = (d for file in _walk(Path(filename), recursive)
                            for d in parse(_read(file), str(file))), f"directory {filename}"
    else:
        documents, where = read(filename), f"file {'stdin' if filename == '-' else filename}"
    yield from resolve(documents, where, kinds=kinds, decode=decode)


def resolve(documents: Iterable[Document], where: str, *,
            kinds: Callable[[], Collection[str]],
            decode: Callable[[Any], Any] = lambda doc: doc) -> Iterator[Resource]:
    """The resources of ``documents``, read from ``where`` (``file x``), as ``load``
    describes. Raises ManifestError."""
    empty = True
    for resource in _Resolver(kinds, decode).resources(documents):
        empty = False
        yield resource
    if empty:
        raise NoResources(f"no resources specified in {where}")


def read(filename: str) -> Iterator[Document]:
    """The documents of one file (``-``: stdin), each parsed when it is reached. Raises
    ManifestError."""
    return parse(_read_stdin(), "stdin") if filename == "-" else parse(_read(Path(filename)),
                                                                          filename)


def _walk(root: Path, recursive: bool) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(EXTENSIONS):
                yield Path(dirpath) / name
        if not recursive:
            return


def _read(path: Path) -> str:
    try:
        return _text(path.read_bytes(), f"read {path}: the file")
    except FileNotFoundError:
        raise ManifestError(f"open {path}: no such file or directory") from None
    except NotADirectoryError:
        raise ManifestError(f"open {path}: not a directory") from None
    except IsADirectoryError:
        raise ManifestError(f"read {path}: is a directory") from None
    except PermissionError:
        raise ManifestError(f"open {path}: permission denied") from None
    except OSError as err:
        raise ManifestError(f"read {path}: {err.strerror or err}") from None


def _read_stdin() -> str:
    return _text(sys.stdin.buffer.read(), "read stdin: the input")


def _text(data: bytes, what: str) -> str:
    """``data`` as UTF-8 text with universal newlines. Raises ManifestError naming the first
    byte that is not UTF-8 and its line (``what`` names the input: ``read x: the file``)."""
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ManifestError(f"{what} is not valid UTF-8 text (byte 0x{data[err.start]:02x} "
                            f"on line {line})") from None


def parse(text: str, source: str) -> Iterator[Document]:
    """The documents in one file's text, each parsed when it is reached. Raises
    ManifestError naming the file and line."""
    for number, (start, chunk) in enumerate(_documents(text), 1):
        try:
            doc = yaml.load(chunk, Loader=_FastLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as err:
            try:
                yaml.load(chunk, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
            except yaml.YAMLError as python_err:
                err = python_err
            raise ManifestError(_yaml_problem(err, source, start)) from None
        yield Document(doc, source, number)


def _documents(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each ``---``-separated document."""
    start, line = 0, 1
    for match in _SEPARATOR.finditer(text):
        yield line, text[start:match.start()]
        line += text.count("\n", start, match.end()) + 1
        start = match.end() + 1
    yield line, text[start:]


def _yaml_problem(err: yaml.YAMLError, source: str, first_line: int) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if mark is None:
        return f"error parsing {source}: {problem}"
    return f"error parsing {source} line {first_line + mark.line}: {problem}"


class _Resolver:
    """Documents → resources: every kind of a document checked, then the document decoded,
    then sequences and Lists expanded."""

    def __init__(self, kinds: Callable[[], Collection[str]],
                 decode: Callable[[Any], Any]) -> None:
        self._kinds_of_server = kinds
        self._kinds: Collection[str] | None = None
        self._decode = decode

    def known(self, kind: Any) -> bool:
        if self._kinds is None:
            self._kinds = self._kinds_of_server()
        return isinstance(kind, str) and kind in self._kinds

    def resources(self, documents: Iterable[Document]) -> Iterator[Resource]:
        for d in documents:
            if d.doc is None:
                continue
            for _ in self._objects(d.doc, d):  # calicoctl knows every type before decoding
                pass
            for obj in self._objects(self._decode(d.doc), d):
                yield Resource(obj, d.source, d.number)

    def _objects(self, doc: Any, where: Document) -> Iterator[dict[str, Any]]:
        for part in doc if isinstance(doc, list) else [doc]:
            yield from self._expand(part, where)

    def _expand(self, doc: Any, where: Document) -> Iterator[dict[str, Any]]:
        if not isinstance(doc, dict):
            raise ManifestError(f"{where.source}: document {where.number} is not a resource "
                                f"(got {_type_name(doc)}); expected a mapping with apiVersion "
                                "and kind")
        kind, version = doc.get("kind"), doc.get("apiVersion")
        if kind == "List" and version == "v1":
            for item in self._items(doc, where):
                yield from self._expand(item, where)
            return
        if isinstance(kind, str) and kind.endswith("List") and version == API_VERSION \
                and self.known(kind[:-len("List")]):
            yield from self._typed_items(doc, kind[:-len("List")], where)
            return
        if not self.known(kind) or version != API_VERSION:
            raise ManifestError(f"unknown resource type ({kind or ''}) and/or version "
                                f"({version or ''}) in {where.source}")
        yield doc

    def _typed_items(self, doc: dict, element: str, where: Document) -> Iterator[dict]:
        """The items of a ``<Kind>List``: each is a ``<Kind>`` (decoded as one, as Go's typed
        list does, so a missing kind/apiVersion is the list's)."""
        for index, item in enumerate(self._items(doc, where), 1):
            if not isinstance(item, dict):
                raise ManifestError(f"{where.source}: document {where.number}: item {index} "
                                    f"of {doc['kind']} is not a resource (got "
                                    f"{_type_name(item)})")
            kind, version = item.get("kind") or element, item.get("apiVersion") or API_VERSION
            if (kind, version) != (element, API_VERSION):
                raise ManifestError(f"{where.source}: document {where.number}: item {index} "
                                    f"of {doc['kind']} has kind {kind} ({version}); a "
                                    f"{doc['kind']} holds only {element} resources")
            yield {**item, "apiVersion": API_VERSION, "kind": element}

    @staticmethod
    def _items(doc: dict, where: Document) -> list:
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(f"{where.source}: document {where.number}: items of "
                                f"{doc['kind']} must be a list")
        return items


def _type_name(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__)
