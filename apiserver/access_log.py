"""The access log, the request id and the request metrics, in one middleware that runs first,
so it times each request whole and sees its final answer (errors and 404s included); plus
the server's logging set-up (``--log-format text|json``).

Every response carries its request id in ``Audit-Id``, as kube-apiserver's do: a client's own
``Audit-Id`` or ``X-Request-Id`` when it is a sane token, so one id follows a request through
proxies, the client and this log; else a new UUID. A watch is logged when it ends."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

from .api import keys
from .metrics import RequestMetrics, Route

AUDIT_ID = web.RequestKey("audit_id", str)
HEADER = "Audit-Id"
CLIENT_HEADERS = (HEADER, "X-Request-Id")
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
_SENT = web.RequestKey("sent", web.StreamResponse)
_BARE = re.compile(r"[!#-<>-~]+")
CLIENT_GONE = 499   # no answer was started: the client left or the server is stopping
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("httpx", "httpcore")   # a line per peer request at INFO: the federation's chatter

log = logging.getLogger("apiserver.access")


def request_id(headers: Mapping[str, str]) -> str:
    """The client's id when it is a token a log line can hold as it is, else a new one."""
    for name in CLIENT_HEADERS:
        given = headers.get(name)
        if given is not None and _SANE.fullmatch(given):
            return given
    return str(uuid.uuid4())


def middleware(metrics: RequestMetrics) -> Middleware:
    """The outermost middleware: id, metrics and one access-log line per request."""
    @web.middleware
    async def observe(request: web.Request, handler) -> web.StreamResponse:
        start = time.perf_counter()
        request[AUDIT_ID] = request_id(request.headers)
        route = metrics.route(request)
        route.active.inc()
        response = None
        try:
            response = await handler(request)
            return response
        finally:
            route.active.dec()
            elapsed = time.perf_counter() - start
            sent = response if response is not None else request.get(_SENT)
            code = sent.status if sent is not None else CLIENT_GONE
            route.done(code, elapsed)
            if log.isEnabledFor(logging.INFO):
                size = (sent.body_length or sent.content_length or 0) if sent is not None else 0
                log.info(Entry(request, route, code, elapsed, size, sent))
    return observe


async def stamp(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the id goes on every answer, a streamed one too (whose headers
    leave before the middleware gets it back)."""
    response.headers[HEADER] = request[AUDIT_ID]
    request[_SENT] = response


class Entry:
    """One access-log line, formatted only when a handler emits it: ``str()`` is the text
    form (logfmt), ``fields()`` the JSON one. ``size`` is the body's length, or for a streamed
    answer (a list, a watch) the bytes aiohttp wrote for it, headers and chunking included."""

    __slots__ = ("request", "route", "code", "seconds", "size", "response")

    def __init__(self, request: web.Request, route: Route, code: int, seconds: float,
                 size: int, response: web.StreamResponse | None) -> None:
        self.request, self.route, self.code = request, route, code
        self.seconds, self.size, self.response = seconds, size, response

    def fields(self) -> dict[str, Any]:
        request, route = self.request, self.route
        actor = request.get(keys.ACTOR)
        info = request.match_info if route.resource else {}
        name = info.get("name", "")
        if not name and self.code == 201:
            name = _created_name(self.response)
        return {"auditID": request[AUDIT_ID], "user": actor.user if actor else "",
                "verb": route.audit_verb, "resource": route.resource,
                "namespace": info.get("namespace", ""), "name": name,
                "code": self.code, "duration": round(self.seconds, 6), "bytes": self.size,
                "method": request.method, "uri": request.raw_path, "remote": request.remote,
                "userAgent": request.headers.get("User-Agent", "")}

    def __str__(self) -> str:
        return " ".join(f"{key}={value if not isinstance(value, str) else _logfmt(value)}"
                        for key, value in self.fields().items())


def _created_name(response: web.StreamResponse) -> str:
    """The name of a created object, which only the answer holds (a POST names none; it may
    ask for ``generateName``). Read only when the line is written."""
    try:
        return json.loads(response.body)["metadata"]["name"]
    except (AttributeError, TypeError, ValueError, KeyError):
        return ""


def _logfmt(text: str) -> str:
    """A logfmt value: bare when it is printable ASCII without space, quote or equals sign."""
    return text if _BARE.fullmatch(text) else json.dumps(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line for every log record: time (UTC), level, logger, message,
    and an access-log line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _utc(record.created), "level": record.levelname,
                               "logger": record.name}
        if isinstance(record.msg, Entry):
            out["message"] = "HTTP"
            out.update(record.msg.fields())
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str)


def _utc(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + \
        f".{int(created % 1 * 1000):03d}Z"


def configure_logging(level: str, log_format: str) -> None:
    """The process's logging: every line to stderr as text or JSON; httpx's per-request lines
    (the federation's peer calls) only when they are warnings."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
