"""Request bodies in, responses out: JSON/YAML decoding with limits, and JSON rendering."""
from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web

from ..resources.errors import ApiError, BadRequest, UnsupportedMediaType

JSON = "application/json"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
MAX_DEPTH = 64


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors/aliases (no "billion laughs") and without implicit timestamps."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not accepted")
        return super().compose_node(parent, index)


_NoAliasLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise BadRequest when ``value`` nests deeper than ``limit`` (iteratively, no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise BadRequest(f"the request body nests deeper than {limit} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def parse_body(raw: bytes, content_type: str) -> Any:
    """Decode a JSON (or YAML) body. Raises BadRequest / UnsupportedMediaType."""
    if not raw.strip():
        raise BadRequest("the request body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(f"the request body is not valid UTF-8 (byte {err.start})") from None
    base = content_type.split(";")[0].strip().lower()
    try:
        if base in YAML_TYPES:
            value = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a safe loader subclass
        elif base in ("", JSON, "text/plain") or base.endswith("+json"):
            value = json.loads(text)
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
    except RecursionError:
        raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    _depth(value)
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def respond(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(value), status=status, content_type=JSON)


def respond_raw(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON)


def error_response(err: ApiError) -> web.Response:
    return respond(err.status(), err.code)
