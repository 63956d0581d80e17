"""Reading resources from files, stdin and directories, as calicoctl does.

A file holds YAML (or JSON) documents separated by ``---`` lines; each document is one
resource, a sequence of resources, a ``<Kind>List`` (projectcalico.org/v3) or a Kubernetes
``kind: List`` (v1). Every input is read and parsed before anything is sent to the server.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

API_VERSION = "projectcalico.org/v3"
EXTENSIONS = (".yaml", ".yml", ".json")
_SEPARATOR = re.compile(r"^---.*$", re.M)


class ManifestError(Exception):
    """A file that cannot be used (calicoctl prefixes it with ``failed to execute command:``)."""


class NoResources(ManifestError):
    """The inputs hold no resource at all (``--skip-empty`` turns this into success)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps (they stay strings, as in JSON)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


@dataclass(frozen=True)
class Resource:
    """One resource from an input, with where it came from."""

    obj: dict[str, Any]
    source: str


def load(filename: str, *, recursive: bool = False) -> list[Resource]:
    """Every resource named by ``-f`` (``-`` = stdin, a directory = its manifests).
    Raises ManifestError (NoResources when there is nothing at all)."""
    if filename == "-":
        out = parse(sys.stdin.read(), "stdin")
        if not out:
            raise NoResources("no resources specified in file stdin")
        return out
    path = Path(filename)
    if path.is_dir():
        out = []
        for file in _walk(path, recursive):
            out += parse(_read(file), str(file))
        if not out:
            raise NoResources(f"no resources specified in directory {filename}")
        return out
    out = parse(_read(path), filename)
    if not out:
        raise NoResources(f"no resources specified in file {filename}")
    return out


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
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise ManifestError(f"read {path}: is a directory") from None
    except PermissionError:
        raise ManifestError(f"open {path}: permission denied") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"read {path}: {err}") from None


def parse(text: str, source: str) -> list[Resource]:
    """The resources in one file's text. Raises ManifestError naming the file and line."""
    out: list[Resource] = []
    for number, (start, chunk) in enumerate(_documents(text), 1):
        try:
            doc = yaml.load(chunk, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as err:
            raise ManifestError(_yaml_problem(err, source, start)) from None
        out += [Resource(obj, source) for obj in _expand(doc, source, number)]
    return out


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


def _expand(doc: Any, source: str, number: int) -> Iterator[dict[str, Any]]:
    if doc is None:
        return
    if isinstance(doc, list):
        for item in doc:
            yield from _expand_one(item, source, number)
        return
    yield from _expand_one(doc, source, number)


def _expand_one(doc: Any, source: str, number: int) -> Iterator[dict[str, Any]]:
    if not isinstance(doc, dict):
        raise ManifestError(f"{source}: document {number} is not a resource (got "
                            f"{_type_name(doc)}); expected a mapping with apiVersion and kind")
    kind, version = doc.get("kind"), doc.get("apiVersion")
    is_k8s_list = kind == "List" and version == "v1"
    is_calico_list = isinstance(kind, str) and kind.endswith("List") and version == API_VERSION
    if is_k8s_list or is_calico_list:
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(f"{source}: document {number}: items of {kind} must be a list")
        for item in items:
            yield from _expand_one(item, source, number)
        return
    yield doc


def _type_name(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__)
