"""The application factory: keys, middlewares, routes and lifecycle (``cleanup_ctx``)."""
from __future__ import annotations

import asyncio
import collections
import logging
from pathlib import Path

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from .api import discovery, keys, resources
from .api.codec import error_response
from .auth import Authenticator
from .config import Settings
from .federation.service import Federation
from .resources import errors, hooks
from .resources.cache import WatchCache
from .resources.catalog import Catalog
from .resources.store import ResourceStore
from .resources.validation import Validator
from .storage.interface import Storage

log = logging.getLogger(__name__)
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
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
        response = error_response(_api_error(request, err))
        if isinstance(err, RequestPayloadError) or request.can_read_body:
            response.force_close()
        return response


def _api_error(request: web.Request, err: Exception) -> errors.ApiError:
    if isinstance(err, errors.ApiError):
        return err
    if isinstance(err, web.HTTPRequestEntityTooLarge):
        limit = request.app[keys.SETTINGS].max_request_bytes
        return errors.TooLarge(f"the request body is larger than the limit of {limit} bytes")
    if isinstance(err, web.HTTPMethodNotAllowed):
        return errors.MethodNotAllowed(f"{request.method} is not allowed here; allowed: "
                                       f"{', '.join(sorted(err.allowed_methods))}")
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


def create_app(settings: Settings, storage: Storage, *,
               validator: Validator | None = None) -> web.Application:
    app = web.Application(middlewares=[status_errors, authenticate, deadline],
                          client_max_size=settings.max_request_bytes)
    catalog = Catalog()
    validator = validator or Validator(SCHEMAS)
    cache = WatchCache(storage, catalog)
    store = ResourceStore(storage, cache, validator, catalog)
    app[keys.SETTINGS] = settings
    app[keys.CATALOG] = catalog
    app[keys.VALIDATOR] = validator
    app[keys.STORE] = store
    app[keys.AUTH] = Authenticator(token_file=settings.token_auth_file,
                                   client_certs=bool(settings.client_ca_file))
    app[keys.WATCHES] = collections.Counter()
    app[keys.READINESS] = [lambda: None if cache.ready.is_set() else "watch cache not primed",
                           lambda: None if cache.connected else f"etcd: {cache.last_error}"]
    app.add_routes(discovery.routes())
    app.add_routes(resources.routes())
    app.cleanup_ctx.append(_run_cache)
    federation = Federation(settings, store)
    app[keys.READINESS].append(federation.not_ready)
    app.router.add_get("/metrics", federation.metrics)
    app.cleanup_ctx.append(federation.lifecycle)
    return app


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
            await store.ensure(hooks.builtins())
            return
        except errors.ServiceUnavailable as err:
            log.warning("built-ins not created yet: %s", err.message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
