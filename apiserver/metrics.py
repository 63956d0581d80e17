"""``/metrics``: one Prometheus registry per application, with kube-apiserver's series names,
labels and buckets so that existing dashboards and alerts work (``examples/monitoring/``).

Requests are counted by the ``access_log`` middleware through ``RequestMetrics``, whose label
children are made once per request shape, so a request costs a few dict lookups. Everything
else is read from the server's parts when scraped (the watch cache's objects, open watches,
health checks, compactions, the federation's syncers), so nothing is counted twice and a
removed part's series disappear with it."""
from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from typing import AsyncIterator, Iterable

import aiohttp
from aiohttp import web
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge,
                               GCCollector, Histogram, PlatformCollector, ProcessCollector,
                               disable_created_metrics, generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from calicomodel.catalog import GROUP, VERSION, Catalog
from calicomodel.layout import key_type

from .api import keys, resources
from .api.health import Health
from .resources import storage_errors
from .resources.cache import WatchCache
from .storage.compactor import Compactor

METRICS = web.AppKey("metrics", CollectorRegistry)
SIBLING_TIMEOUT = 2.0   # seconds another worker has to hand over its series

# kube-apiserver has no ``*_created`` series, and they would double every counter's lines
disable_created_metrics()

BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10,
           15, 20, 30, 45, 60)
"""kube-apiserver's buckets for ``apiserver_request_duration_seconds`` and
``etcd_request_duration_seconds``."""
LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope",
          "component")
COMPONENT = "apiserver"
APPLY_PATCH = "application/apply-patch"
READ_ONLY = frozenset({"GET", "LIST", "WATCH", "other"})
OTHER = "other"   # the subresource of a path that names nothing this server serves
_METHODS = {m: m for m in ("GET", "POST", "PUT", "PATCH", "DELETE")}
AUDIT_VERBS = {"GET": "get", "LIST": "list", "WATCH": "watch", "POST": "create",
               "PUT": "update", "PATCH": "patch", "APPLY": "patch", "DELETE": "delete"}


def registry() -> CollectorRegistry:
    """A registry of its own (tests run many applications in one process) holding the
    process's series: CPU, memory, file descriptors, Python's garbage collector."""
    reg = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=reg)
    PlatformCollector(registry=reg)
    GCCollector(registry=reg)
    return reg


# -- requests --------------------------------------------------------------------------------
class Route:
    """The series of one request shape (its label values but the code), made once."""

    __slots__ = ("verb", "audit_verb", "resource", "active", "_labels", "_total", "_codes",
                 "_duration")

    def __init__(self, metrics: RequestMetrics, labels: tuple[str, ...]) -> None:
        self.verb, self.resource = labels[0], labels[4]
        self.audit_verb = AUDIT_VERBS.get(self.verb, self.verb.lower())
        self._labels, self._total = labels, metrics.total
        self._codes: dict[int, object] = {}
        watch = self.verb == "WATCH"   # as kube-apiserver: no latency for a long-running one
        self._duration = None if watch else metrics.duration.labels(*labels)
        self.active = metrics.longrunning.labels(labels[0], *labels[2:]) if watch else \
            metrics.inflight.labels("readOnly" if self.verb in READ_ONLY else "mutating")

    def done(self, code: int, seconds: float) -> None:
        counter = self._codes.get(code)
        if counter is None:
            counter = self._codes[code] = self._total.labels(*self._labels, str(code))
        counter.inc()
        if self._duration is not None:
            self._duration.observe(seconds)


class RequestMetrics:
    """``apiserver_request_total``, ``apiserver_request_duration_seconds``,
    ``apiserver_current_inflight_requests`` and ``apiserver_longrunning_requests``, labelled as
    kube-apiserver labels them. Label values come from the route and the catalog only (a path
    that names nothing is ``subresource="other"``), so clients cannot add series."""

    def __init__(self, registry: CollectorRegistry, catalog: Catalog) -> None:
        self._plurals = frozenset(catalog.by_plural)
        self.total = Counter(
            "apiserver_request", "Counter of apiserver requests broken out for each verb, dry "
            "run value, group, version, resource, scope, component, and HTTP response code.",
            LABELS + ("code",), registry=registry)
        self.duration = Histogram(
            "apiserver_request_duration_seconds", "Response latency distribution in seconds "
            "for each verb, dry run value, group, version, resource, subresource, scope and "
            "component (watches excluded).", LABELS, buckets=BUCKETS, registry=registry)
        self.inflight = Gauge(
            "apiserver_current_inflight_requests", "Maximal number of currently used inflight "
            "request limit of this apiserver per request kind in last second.",
            ["request_kind"], registry=registry)
        self.longrunning = Gauge(
            "apiserver_longrunning_requests", "Gauge of all active long-running apiserver "
            "requests broken out by verb, group, version, resource, scope and component.",
            [label for label in LABELS if label != "dry_run"], registry=registry)
        for kind in ("readOnly", "mutating"):
            self.inflight.labels(kind)
        self._routes: dict[tuple[str, ...], Route] = {}

    def route(self, request: web.Request) -> Route:
        labels = self._labels(request)
        route = self._routes.get(labels)
        if route is None:
            route = self._routes[labels] = Route(self, labels)
        return route

    def _labels(self, request: web.Request) -> tuple[str, ...]:
        info, method = request.match_info, request.method
        plural = info.get("plural")
        sub = info.get("subresource", "")
        if plural not in self._plurals or sub not in ("", "status"):
            resource = info.route.resource
            path = resource.canonical if resource is not None and plural is None else OTHER
            return _METHODS.get(method, OTHER), "", "", "", "", path, "", COMPONENT
        named = "name" in info
        if method in ("GET", "HEAD"):
            verb = "GET" if named else "WATCH" if resources.is_watch(request) else "LIST"
        elif method == "PATCH" and \
                request.headers.get("Content-Type", "").startswith(APPLY_PATCH):
            verb = "APPLY"
        else:
            verb = _METHODS.get(method, OTHER)
        scope = "resource" if named else "namespace" if "namespace" in info else "cluster"
        dry_run = "All" if method != "GET" and "dryRun" in request.query else ""
        return verb, dry_run, GROUP, VERSION, plural, sub, scope, COMPONENT


# -- etcd ------------------------------------------------------------------------------------
class EtcdTimer:
    """``etcd_request_duration_seconds{operation,type}`` of one storage's calls (the type:
    ``layout.key_type``)."""

    def __init__(self) -> None:
        self.histogram = Histogram("etcd_request_duration_seconds", "Etcd request latency in "
                                   "seconds for each operation and object type.",
                                   ["operation", "type"], buckets=BUCKETS, registry=None)
        self._children: dict[tuple[str, str], object] = {}

    def observe(self, operation: str, key: str, seconds: float) -> None:
        labels = operation, key_type(key)
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self.histogram.labels(*labels)
        child.observe(seconds)


def storage_timings(storage: object) -> Histogram | None:
    """The histogram of ``storage``'s etcd call durations: one per storage, shared by every
    application on it; None for a storage that does not time its calls."""
    if not hasattr(storage, "timer"):
        return None
    if storage.timer is None:
        storage.timer = EtcdTimer()
    return storage.timer.histogram


# -- state read when scraped -----------------------------------------------------------------
class ResourceCollector(Collector):
    """``apiserver_storage_objects`` from the watch cache (-1 until it is primed, as
    kube-apiserver reports a count it cannot read) and ``apiserver_registered_watchers`` from
    the open watches (``keys.watch_slot``)."""

    def __init__(self, catalog: Catalog, cache: WatchCache,
                 watchers: collections.Counter[str]) -> None:
        self.catalog, self.cache, self.watchers = catalog, cache, watchers

    def collect(self) -> Iterable[Metric]:
        objects = GaugeMetricFamily("apiserver_storage_objects", "Number of stored objects at "
                                    "the time of last check split by kind.", labels=["resource"])
        watchers = GaugeMetricFamily("apiserver_registered_watchers", "Number of currently "
                                     "registered watchers for a given resources",
                                     labels=["group", "version", "kind"])
        primed = self.cache.ready.is_set()
        for kind in self.catalog:
            objects.add_metric([f"{kind.plural}.{GROUP}"],
                               self.cache.count(kind) if primed else -1)
            watchers.add_metric([GROUP, VERSION, kind.kind], self.watchers[kind.kind])
        yield objects
        yield watchers


class HealthCollector(Collector):
    """``kubernetes_healthcheck{name,type}``: 1 when a ``/livez`` or ``/readyz`` check passes.
    Checks are coroutines and ``collect`` is not, so ``serve`` runs them (``refresh``) first."""

    def __init__(self, health: Health) -> None:
        self.health = health
        self._results: list[tuple[str, str, bool]] = []

    async def refresh(self) -> None:
        checks = [(endpoint, check) for endpoint, named in (("livez", self.health.live),
                                                            ("readyz", self.health.ready))
                  for check in named]
        outcomes = await asyncio.gather(*(c.check() for _, c in checks), return_exceptions=True)
        self._results = [(c.name, endpoint, outcome is None)
                         for (endpoint, c), outcome in zip(checks, outcomes)]

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily("kubernetes_healthcheck", "This metric records the result of "
                                  "a single healthcheck.", labels=["name", "type"])
        for name, endpoint, ok in self._results:
            gauge.add_metric([name, endpoint], 1.0 if ok else 0.0)
        yield gauge


HEALTH = web.AppKey("health_metrics", HealthCollector)


class StorageCollector(Collector):
    """Datastore failures by reason (``NoSpace``, ``ServiceUnavailable``…) and compactions."""

    def __init__(self, compactor: Compactor | None) -> None:
        self.compactor = compactor

    def collect(self) -> Iterable[Metric]:
        errors = CounterMetricFamily("apiserver_storage_errors", "Datastore failures answered "
                                     "to clients, by reason", labels=["reason"])
        for reason, count in sorted(storage_errors.counts.items()):
            errors.add_metric([reason], count)
        yield errors
        if self.compactor is not None:
            yield CounterMetricFamily("apiserver_etcd_compactions", "etcd compactions this "
                                      "replica ran", value=self.compactor.compactions)
            yield GaugeMetricFamily("apiserver_etcd_compacted_revision", "The revision this "
                                    "replica last compacted etcd's history at",
                                    value=self.compactor.compacted)


async def serve(request: web.Request) -> web.Response:
    """Readable by admins and viewers when authentication is configured. With ``--workers``
    the answer holds every worker's series, each labelled with its ``worker``."""
    request.app[keys.AUTH].authorize(request[keys.ACTOR], "get", None, path=request.path)
    settings = request.app[keys.SETTINGS]
    if settings.workers > 1 and settings.metrics_dir:
        body = await _all_workers(request.app, settings.metrics_dir, settings.workers)
    else:
        body = await _local(request.app)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _local(app: web.Application) -> bytes:
    await app[HEALTH].refresh()
    return generate_latest(app[METRICS])


# -- several workers --------------------------------------------------------------------------
def worker_socket(directory: str, worker: int) -> str:
    return os.path.join(directory, f"worker-{worker}.sock")


async def sibling_metrics(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx of a worker: its own series on a private unix socket, which the worker a
    scrape reaches reads with the others'."""
    settings = app[keys.SETTINGS]
    if settings.workers <= 1 or not settings.metrics_dir:
        yield
        return
    private = web.Application()
    private.router.add_get("/metrics", lambda _: _answer(app))
    runner = web.AppRunner(private, access_log=None)
    await runner.setup()
    path = worker_socket(settings.metrics_dir, settings.worker)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    await web.UnixSite(runner, path).start()
    yield
    await runner.cleanup()


async def _answer(app: web.Application) -> web.Response:
    return web.Response(body=await _local(app), content_type="text/plain")


async def _all_workers(app: web.Application, directory: str, workers: int) -> bytes:
    """Every worker's exposition merged family by family, each sample labelled ``worker``; a
    worker that does not answer (restarting) is left out."""
    own = app[keys.SETTINGS].worker

    async def fetch(worker: int) -> tuple[int, str]:
        if worker == own:
            return worker, (await _local(app)).decode()
        connector = aiohttp.UnixConnector(path=worker_socket(directory, worker))
        try:
            async with aiohttp.ClientSession(connector=connector) as session, \
                    session.get("http://worker/metrics",
                                timeout=aiohttp.ClientTimeout(total=SIBLING_TIMEOUT)) as r:
                return worker, await r.text()
        except (aiohttp.ClientError, TimeoutError, OSError):
            return worker, ""
    families: dict[str, Metric] = {}
    for worker, text in await asyncio.gather(*(fetch(w) for w in range(workers))):
        for family in text_string_to_metric_families(text):
            merged = families.setdefault(family.name, Metric(family.name, family.documentation,
                                                             family.type, family.unit))
            merged.samples += [s._replace(labels={**s.labels, "worker": str(worker)})
                               for s in family.samples]
    return generate_latest(_Families(list(families.values())))


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families
