"""The application factory: keys, middlewares, routes and lifecycle (``cleanup_ctx``)."""
from __future__ import annotations

import asyncio
import collections
import logging
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from calicomodel import errors
from calicomodel.builtins import builtins
from calicomodel.catalog import Catalog
from calicomodel.validation import SCHEMAS, Validator

from . import access_log, metrics
from .api import discovery, ipam, keys, resources
from .api.codec import error_response
from .api.connections import GuardedRequestHandler, GuardedServer
from .api.health import EtcdProbe, Health, Named, cache_alive, cache_check
from .auth import Authenticator
from .config import Settings
from .federation import credentials, export, spec
from .federation.ownership import CopyOwnership
from .federation.service import Federation
from .resources.cache import WatchCache
from .resources.ipam_actions import IpamActions
from .resources.store import ResourceStore
from .storage.compactor import Compactor
from .storage.interface import Storage

log = logging.getLogger(__name__)


OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/api", "/apis",
                        "/apis/projectcalico.org", "/apis/projectcalico.org/v3", "/openapi/v3"})


@web.middleware
async def status_errors(request: web.Request, handler) -> web.StreamResponse:
    """Every failure leaves as a ``Status``; an unexpected exception is logged and is a 500.
    A failure that leaves the request body unread (or unreadable) closes the connection, so
    a broken body cannot desynchronise the next request on it."""
    try:
        return await handler(request)
    except asyncio.CancelledError:
        raise
    except Exception as err:   # noqa: BLE001 - rendered as a Status below
        api_error = _api_error(request, err)
        response = error_response(api_error)
        if isinstance(api_error, errors.MethodNotAllowed):
            response.headers["Allow"] = ", ".join(_allowed(request, err))
        if isinstance(err, RequestPayloadError) or request.can_read_body:
            response.force_close()
        return response


def _allowed(request: web.Request, err: Exception) -> list[str]:
    """The methods the target resource supports: what a 405 lists in ``Allow`` (RFC 9110)."""
    allowed = resources.allowed_methods(request)
    if allowed is None and isinstance(err, web.HTTPMethodNotAllowed):
        allowed = set(err.allowed_methods)
    return sorted(allowed or ())


def _api_error(request: web.Request, err: Exception) -> errors.ApiError:
    if isinstance(err, errors.ApiError):
        return err
    if isinstance(err, web.HTTPRequestEntityTooLarge):
        limit = request.app[keys.SETTINGS].max_request_bytes
        return errors.TooLarge(f"the request body is larger than the limit of {limit} bytes")
    if isinstance(err, web.HTTPMethodNotAllowed):
        return errors.MethodNotAllowed(f"{request.method} is not allowed here; allowed: "
                                       f"{', '.join(_allowed(request, err))}")
    if isinstance(err, web.HTTPNotFound):
        return errors.NotFound(f"the server could not find the requested resource ({request.path})")
    if isinstance(err, web.HTTPException):
        return _http_error(err)
    if isinstance(err, RequestPayloadError):   # e.g. a body that is not what its Content-Encoding says
        return errors.BadRequest("the request body cannot be read: "
                                 + str(err).splitlines()[-1].strip())
    log.exception("internal error serving %s %s", request.method, request.path_qs)
    return errors.ApiError("internal error; see the server log")


def _http_error(err: web.HTTPException) -> errors.ApiError:
    class Http(errors.ApiError):
        code, reason = err.status, err.reason.replace(" ", "")
    return Http(err.text or err.reason)


def is_open(path: str) -> bool:
    """Discovery, OpenAPI, version and health need no credentials."""
    return path.rstrip("/") in OPEN_PATHS or path.startswith("/openapi/")


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    request[keys.ACTOR] = None if is_open(request.path) else \
        request.app[keys.AUTH].authenticate(request)
    return await handler(request)


@web.middleware
async def deadline(request: web.Request, handler) -> web.StreamResponse:
    """Bound every request but a watch by ``request_timeout``."""
    if resources.is_watch(request):
        return await handler(request)
    timeout = request.app[keys.SETTINGS].request_timeout
    try:
        async with asyncio.timeout(timeout):
            return await handler(request)
    except TimeoutError:
        maybe = "" if request.method in ("GET", "HEAD") else \
            "; its write may or may not have been applied: read the object to find out"
        raise errors.Timeout(f"the request did not finish within {timeout:g}s{maybe}") from None


def create_app(settings: Settings, storage: Storage, *, validator: Validator | None = None,
               catalog: Catalog | None = None) -> web.Application:
    catalog = catalog or Catalog()
    registry = metrics.registry()
    observe = access_log.middleware(metrics.RequestMetrics(registry, catalog))
    app = web.Application(middlewares=[observe, status_errors, authenticate, deadline],
                          client_max_size=settings.max_request_bytes)
    app.on_response_prepare.append(access_log.stamp)
    validator = validator or Validator(SCHEMAS, catalog)
    cache = WatchCache(storage, catalog)
    store = ResourceStore(storage, cache, validator, catalog)
    app[keys.SETTINGS] = settings
    app[keys.CATALOG] = catalog
    app[keys.VALIDATOR] = validator
    app[keys.STORE] = store
    app[ipam.ACTIONS] = IpamActions(store)
    app[keys.AUTH] = Authenticator(token_file=settings.token_auth_file,
                                   client_certs=bool(settings.client_ca_file))
    app[keys.WATCHES] = collections.Counter()
    app[keys.WATCHERS] = collections.Counter()
    health = Health()
    health.live.append(Named("watch-cache", cache_alive(cache)))
    health.ready += [Named("etcd", EtcdProbe(storage)), Named("watch-cache", cache_check(cache))]
    app.add_routes(health.routes())
    app.add_routes(discovery.routes())
    app.add_routes(ipam.routes())
    app.add_routes(resources.routes())
    app.cleanup_ctx.append(_run_cache)
    store.admission += [CopyOwnership(), credentials.admission(settings.federation_credentials_dir),
                        spec.admission()]
    store.admission.append(export.ExportRules(cache, catalog))
    federation = Federation(settings, store)
    health.ready.append(Named("federation", federation.ready_check))
    app.cleanup_ctx.append(federation.lifecycle)
    compactor = Compactor(storage, settings.etcd_compaction_interval) \
        if settings.etcd_compaction_interval > 0 else None
    if compactor is not None:
        app.cleanup_ctx.append(_background(compactor.run))
    app[metrics.METRICS] = registry
    app[metrics.HEALTH] = metrics.HealthCollector(health)
    for collector in (metrics.StorageCollector(compactor), federation.collector,
                      metrics.ResourceCollector(catalog, cache, app[keys.WATCHERS]),
                      app[metrics.HEALTH], metrics.storage_timings(storage)):
        if collector is not None:
            registry.register(collector)
    app.router.add_get("/metrics", metrics.serve)
    app.cleanup_ctx.append(metrics.sibling_metrics)
    return app


def _background(work: Callable[[], Awaitable[None]]):
    """A cleanup_ctx that runs ``work`` while the application runs."""
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(work(), name=getattr(work, "__qualname__", "background"))
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return lifecycle


async def _run_cache(app: web.Application):
    store = app[keys.STORE]
    await store.cache.start()
    builtins = asyncio.create_task(_ensure_builtins(store))
    yield
    builtins.cancel()
    await asyncio.gather(builtins, return_exceptions=True)
    await store.cache.stop()


async def _ensure_builtins(store: ResourceStore) -> None:
    """Create the built-in Tiers and ClusterInformation once etcd is reachable."""
    delay = 0.1
    while True:
        try:
            await store.cache.ready.wait()
            await store.ensure(builtins())
            return
        except (errors.ServiceUnavailable, errors.Timeout, errors.InsufficientStorage) as err:
            log.warning("built-ins not created yet: %s", err.message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


# -- the HTTP server -------------------------------------------------------------------------
MAX_URL_BYTES = 32 * 1024
"""Longest request line (method, URL, version); longer is 414. Differs from the header limit,
which is how a parser refusal tells which one was crossed."""
MAX_HEADER_BYTES = 16 * 1024
"""Longest header line; longer, or more than aiohttp's 128 header lines, is 431."""


def make_runner(app: web.Application, **kwargs) -> web.AppRunner:
    """The runner that serves ``app`` (``main.serve``; tests pass it to their TestServer):
    URL and header limits, connection limits (``connections.py``), and requests its HTTP
    parser refuses answered as a ``Status``."""
    settings = app[keys.SETTINGS]
    return _StatusRunner(app, max_line_size=MAX_URL_BYTES, max_field_size=MAX_HEADER_BYTES,
                         keepalive_timeout=settings.idle_timeout, **kwargs)


class _StatusRunner(web.AppRunner):
    async def _make_server(self) -> Server:
        server = await super()._make_server()
        guarded = _StatusServer(server.request_handler, request_factory=server.request_factory,
                                handler_cancellation=server.handler_cancellation,
                                **server._kwargs)
        settings = self.app[keys.SETTINGS]
        guarded.max_connections = settings.max_connections
        guarded.header_timeout = settings.header_timeout
        return guarded


class _StatusServer(GuardedServer):
    def __call__(self) -> RequestHandler:
        return _StatusRequestHandler(self, loop=self._loop, **self._kwargs)


class _StatusRequestHandler(GuardedRequestHandler):
    """Answers a request aiohttp refuses before any middleware runs (an oversize URL or header,
    bytes that are not HTTP) or that fails outside the middlewares with a ``Status`` like every
    other error. aiohttp's own answer is plain text quoting up to 100 of the offending bytes,
    and its log line carries them too: a header may hold a credential."""

    __slots__ = ()

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None
                     ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the response has started: no error can follow it")
        err = self._refusal(status, exc)
        if err.code >= 500:
            log.error("error serving a request from %s", request.remote, exc_info=exc)
        else:
            log.debug("refused a request from %s: %s", request.remote, err.message)
        response = error_response(err)
        response.headers[access_log.HEADER] = access_log.request_id(request.headers)
        response.force_close()
        return response

    def _refusal(self, status: int, exc: BaseException | None) -> errors.ApiError:
        if isinstance(exc, LineTooLong):
            if exc.args[1] == self.max_line_size:
                return errors.UriTooLong(f"the request URL is longer than {self.max_line_size} "
                                         "bytes")
            return errors.HeadersTooLarge(f"a request header is longer than "
                                          f"{self.max_field_size} bytes")
        if isinstance(exc, BadHttpMessage) and exc.message == "Too many headers received":
            return errors.HeadersTooLarge(f"the request has more than {self.max_headers} "
                                          "header lines")
        if status == 504:
            return errors.Timeout("the request did not finish in time")
        if status >= 500:
            return errors.ApiError("internal error; see the server log")
        return errors.BadRequest(f"the request is not valid HTTP/1.1 ({type(exc).__name__})")
