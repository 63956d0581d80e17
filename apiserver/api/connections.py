"""Bounds on client connections, so a server runs for months whatever its clients do.

* An idle keep-alive connection is closed after ``Settings.idle_timeout`` (aiohttp's own
  keep-alive timer, which also covers a connection that never sends a request).
* A request's headers must be complete ``Settings.header_timeout`` seconds after its first byte
  arrived (slowloris), and its body must arrive within that time or at ``MIN_BODY_RATE``,
  whichever allows longer (``read``).
* At most ``Settings.max_connections`` connections are open; one more is answered
  ``503`` with a ``Status`` and closed at once, before anything is read from it.
* ``accept()`` failing for want of file descriptors is logged once per ``LOG_EVERY`` seconds
  (asyncio already waits a second before it accepts again).
"""
from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from calicomodel.errors import ServiceUnavailable, Timeout

from . import keys
from .codec import dumps

log = logging.getLogger(__name__)
MIN_BODY_RATE = 64 * 1024       # bytes per second a client must send a body at, at least
LOG_EVERY = 10.0


class GuardedServer(Server):
    """An aiohttp ``Server`` that knows its limits (read by each connection's handler)."""

    max_connections: int = 0     # 0: no limit
    header_timeout: float = 0.0  # 0: no limit


class GuardedRequestHandler(RequestHandler):
    """Refuses a connection over the cap and cuts one whose headers come too slowly."""

    __slots__ = ("_header_deadline",)

    def __init__(self, manager: Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._manager
        limit = getattr(server, "max_connections", 0)
        if limit and len(server.connections) >= limit:
            _refuse(transport, limit)
            return
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        timeout = getattr(self._manager, "header_timeout", 0.0)
        if timeout and self._header_deadline is None and self._between_requests():
            self._header_deadline = self._loop.call_later(timeout, self._headers_due)
        super().data_received(data)

    def _between_requests(self) -> bool:
        """Waiting for a request: nothing parsed yet and none being handled."""
        return self._waiter is not None and not self._messages

    def _headers_due(self) -> None:
        self._header_deadline = None
        if self._between_requests() and self.transport is not None:
            log.debug("closing a connection whose request headers did not arrive in time")
            self.force_close()
            self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        super().connection_lost(exc)

    async def _handle_request(self, request, start_time, request_handler):  # type: ignore[override]
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        return await super()._handle_request(request, start_time, request_handler)


def _refuse(transport: asyncio.BaseTransport, limit: int) -> None:
    body = dumps(ServiceUnavailable(f"too many connections (the limit is {limit}); try again",
                                    retry_after=1).status())
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    transport.write(head.encode() + body)   # type: ignore[attr-defined]
    transport.close()


async def read(request: web.Request) -> bytes:
    """The request body, within the header timeout or at ``MIN_BODY_RATE``: a client that
    trickles its body is answered 504 and its connection closed."""
    settings = request.app[keys.SETTINGS]
    size = request.content_length or settings.max_request_bytes
    allowed = max(settings.header_timeout or 30.0, size / MIN_BODY_RATE)
    try:
        async with asyncio.timeout(allowed):
            return await request.read()
    except TimeoutError:
        raise Timeout(f"the request body did not arrive within {allowed:g}s (at least "
                      f"{MIN_BODY_RATE // 1024} KiB/s is needed)") from None


def raise_open_files_limit() -> None:
    """Let the process use as many file descriptors as its hard limit allows (the soft limit
    is often 1024: fewer connections than ``max_connections``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Log asyncio's "socket.accept() out of system resource" once per ``LOG_EVERY``
    seconds instead of a traceback per attempt; pass everything else on."""
    previous = loop.get_exception_handler()
    last = [0.0]
    skipped = [0]

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if context.get("message") != "socket.accept() out of system resource":
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - last[0] < LOG_EVERY:
            skipped[0] += 1
            return
        log.error("cannot accept connections: %s (%d more failures in the last %gs); "
                  "retrying every second", context.get("exception"), skipped[0], LOG_EVERY)
        last[0], skipped[0] = now, 0
    loop.set_exception_handler(handler)
