"""``/metrics``: one Prometheus registry per application, which the server's parts add their
collectors to (the federation's, the storage's). Values are read at scrape time from the
parts themselves, so nothing is counted twice and a removed part's series disappear with it."""
from __future__ import annotations

from typing import Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .api import keys
from .resources import storage_errors
from .storage.compactor import Compactor

METRICS = web.AppKey("metrics", CollectorRegistry)


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


def registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=False)


async def serve(request: web.Request) -> web.Response:
    """Readable by admins and viewers when authentication is configured."""
    request.app[keys.AUTH].authorize(request[keys.ACTOR], "get", None, path=request.path)
    return web.Response(body=generate_latest(request.app[METRICS]),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})
