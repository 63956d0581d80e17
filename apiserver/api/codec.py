"""Request bodies in, responses out: JSON/YAML decoding with limits, and JSON rendering."""
from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any, Iterable

import yaml
from aiohttp import web

from calicomodel.errors import ApiError, BadRequest, UnsupportedMediaType
from calicomodel.stored import dumps

from ..resources.patch import APPLY

JSON = "application/json"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
MAX_DEPTH = 64
LARGE_BODY = 256 * 1024
INT_RANGE = (-2**63, 2**64)  # int64 and uint64: what Go's decoders accept
# The only way a lone UTF-16 surrogate gets into JSON text that is valid UTF-8: an escape.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


_YAMLBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster parsing


class _Loader(_YAMLBase):  # type: ignore[misc, valid-type]
    """Safe YAML without implicit timestamps and without duplicate keys. Aliases are
    refused after parsing, by ``_check_shape`` (shared containers)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen = set()
        for key_node, _ in node.value:
            key = key_node.value
            if key_node.tag == "tag:yaml.org,2002:str" and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate field {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        names = [k for k, _ in pairs]
        dup = next(k for i, k in enumerate(names) if k in names[:i])
        raise BadRequest(f"the request body has a duplicate field {dup!r}")
    return obj


def _no_constant(name: str) -> Any:
    raise BadRequest(f"the request body has {name}, which is not a JSON number")


def _check_shape(value: Any, limit: int = MAX_DEPTH, *, texts: bool = True) -> None:
    """Raise BadRequest unless ``value`` is plain JSON data: nesting within ``limit``, string
    keys, text that UTF-8 can carry (no lone surrogates; skipped unless ``texts``), finite
    numbers and integers of at most 64 bits, no container reached twice (a YAML alias).
    Iterative."""
    stack, seen = [(value, 1)], set()
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise BadRequest(f"the request body nests deeper than {limit} levels")
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                raise BadRequest("the request body uses YAML aliases, which are not accepted")
            seen.add(id(node))
            if isinstance(node, dict):
                bad = next((k for k in node if not isinstance(k, str)), None)
                if bad is not None:
                    raise BadRequest(f"the request body has a field name that is not a string: "
                                     f"{bad!r}")
                if texts:
                    for k in node:
                        _check_text(k)
                stack.extend((v, depth + 1) for v in node.values())
            else:
                stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, str):
            if texts:
                _check_text(node)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise BadRequest(f"the request body has {node}, which is not a JSON number")
        elif isinstance(node, int) and not isinstance(node, bool):
            if not INT_RANGE[0] <= node < INT_RANGE[1]:
                raise BadRequest("the request body has an integer that does not fit in 64 bits")
        elif not (node is None or isinstance(node, bool)):
            raise BadRequest(f"the request body has a value of type {type(node).__name__}, "
                             "which JSON cannot carry")


def _check_text(text: str) -> None:
    """BadRequest for text with a lone UTF-16 surrogate (JSON's ``"\\ud800"``), which no
    UTF-8 encoder, etcd value or Go client can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise BadRequest("the request body has a string with a lone UTF-16 surrogate "
                         f"(\\u{ord(text[err.start]):04x}), which is not valid Unicode") from None


def parse_body(raw: bytes, content_type: str) -> Any:
    """Decode a JSON (or YAML) body into plain JSON data. Raises BadRequest /
    UnsupportedMediaType."""
    if not raw.strip():
        raise BadRequest("the request body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(f"the request body is not valid UTF-8 (byte {err.start})") from None
    base = base_type(content_type)
    if base == APPLY:   # YAML, which kubectl sends as JSON: that is read as JSON (1e3 too)
        try:
            return parse_body(raw, JSON)
        except BadRequest:
            base = YAML_TYPES[0]
    try:
        if base in YAML_TYPES:
            value = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader subclass
        elif base in ("", JSON, "text/plain") or base.endswith("+json"):
            value = json.loads(text, object_pairs_hook=_no_duplicates,
                               parse_constant=_no_constant)
        else:
            raise UnsupportedMediaType(f"the content type {base!r} is not supported; send "
                                       "application/json or application/yaml")
    except ApiError:
        raise
    except json.JSONDecodeError as err:
        raise BadRequest(f"the request body is not valid JSON: {err.msg} at line {err.lineno} "
                         f"column {err.colno}") from None
    except yaml.YAMLError as err:
        raise BadRequest(f"the request body is not valid YAML: {err}") from None
    except (RecursionError, MemoryError):
        raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:   # Python's 4,300-digit limit on integer conversion
        raise BadRequest("the request body has an integer that does not fit in 64 bits") from None
    _check_shape(value, texts=base in YAML_TYPES or bool(_SURROGATE_ESCAPE.search(text)))
    return value


async def read_body(raw: bytes, content_type: str) -> Any:
    """``parse_body``; a large body is parsed in a thread, so its Python-level work (YAML's
    construction, about 1 s for 2.5 MB; the walk over every value) shares the interpreter
    with other requests."""
    if len(raw) < LARGE_BODY:
        return parse_body(raw, content_type)
    return await asyncio.to_thread(parse_body, raw, content_type)


def base_type(content_type: str) -> str:
    """The media type of a Content-Type header, lower-case, without parameters."""
    return content_type.split(";")[0].strip().lower()


def respond(value: Any, status: int = 200, *, warnings: Iterable[str] = ()) -> web.Response:
    """``value`` as JSON, with a ``Warning: 299 - "…"`` header per warning, as
    kube-apiserver sends them (kubectl prints each)."""
    response = web.Response(body=dumps(value), status=status, content_type=JSON)
    for text in warnings:
        response.headers.add("Warning", f"299 - {json.dumps(text)}")
    return response


STREAM_CHUNK = 256 * 1024


async def respond_list(request: web.Request, head: dict, items: Iterable[bytes], *,
                       field: str = "items") -> web.StreamResponse:
    """``head`` plus an array ``field`` of values already encoded (the cache keeps each
    version's JSON), written in chunks as the client takes them: a list never builds its whole
    body, so concurrent lists of a large collection cost a chunk each, not a copy each."""
    if request.method == "HEAD":
        return respond_raw(dumps(head))
    resp = web.StreamResponse(headers={"Content-Type": JSON})
    await resp.prepare(request)
    buf = bytearray(dumps(head)[:-1] + b',"' + field.encode() + b'":[')
    for i, item in enumerate(items):
        if i:
            buf += b","
        buf += item
        if len(buf) >= STREAM_CHUNK:
            await resp.write(bytes(buf))
            buf.clear()
    buf += b"]}"
    await resp.write(bytes(buf))
    await resp.write_eof()
    return resp


def respond_raw(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON)


def error_response(err: ApiError) -> web.Response:
    return respond(err.status(), err.code)
