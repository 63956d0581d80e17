"""Prometheus metrics of the federation, read from the syncers' status snapshots at scrape
time (so a removed peer's series disappear with it)."""
from __future__ import annotations

from typing import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .syncer import FAILED, STATES, SyncerStatus

NS = "calico_federation"


class FederationCollector(Collector):
    def __init__(self, statuses: Callable[[], list[SyncerStatus]],
                 leader: Callable[[], bool]) -> None:
        self._statuses, self._leader = statuses, leader

    def collect(self) -> Iterable[Metric]:
        labels = ["peer", "kind"]
        state = GaugeMetricFamily(f"{NS}_peer_state", "1 for the syncer's current state",
                                  labels=labels + ["state"])
        failing = GaugeMetricFamily(f"{NS}_failing", "1 while the syncer fails, labelled with "
                                    "why: a peer error (PeerUnreachable, PeerRejected, ...) or "
                                    "the local datastore's reason (InsufficientStorage, ...)",
                                    labels=labels + ["reason"])
        gauges = {
            "objects": GaugeMetricFamily(f"{NS}_objects", "Copies mirrored from the peer",
                                         labels=labels),
            "bytes": GaugeMetricFamily(f"{NS}_bytes", "Size of the copies mirrored from the "
                                       "peer (counted against syncOptions.maxBytes)",
                                       labels=labels),
            "lag_seconds": GaugeMetricFamily(f"{NS}_lag_seconds", "Seconds since the copies "
                                             "were last known to equal the peer's", labels=labels),
            "lag_revisions": GaugeMetricFamily(f"{NS}_lag_revisions", "Peer revisions seen but "
                                               "not yet mirrored", labels=labels),
            "revision": GaugeMetricFamily(f"{NS}_peer_revision", "Peer revision mirrored so far",
                                          labels=labels),
            "conflicts": GaugeMetricFamily(f"{NS}_name_conflicts", "Copies not written because "
                                           "a local object owns the name", labels=labels),
            "invalid": GaugeMetricFamily(f"{NS}_invalid_objects", "Peer objects refused by "
                                         "local validation or syncOptions.allowedNets",
                                         labels=labels),
            "over_quota": GaugeMetricFamily(f"{NS}_quota_exceeded_objects", "Peer objects not "
                                            "imported because the peer's maxObjects or "
                                            "maxBytes is reached", labels=labels),
            "stale": GaugeMetricFamily(f"{NS}_stale", "1 when the copies may be out of date "
                                       "(the peer out of touch too long, or expired by "
                                       "staleTTL)", labels=labels),
        }
        counters = {
            "events_applied": CounterMetricFamily(f"{NS}_events_applied", "Peer watch events "
                                                  "applied", labels=labels),
            "sync_errors": CounterMetricFamily(f"{NS}_sync_errors", "Failures talking to the "
                                               "peer or writing copies", labels=labels),
            "full_resyncs": CounterMetricFamily(f"{NS}_full_resyncs", "Relists after the first "
                                                "(410, reconnects)", labels=labels),
            "backoffs": CounterMetricFamily(f"{NS}_backoffs", "Waits before a reconnect or a "
                                            "relist (failures, watches the peer ended early, "
                                            "repeated 410s)", labels=labels),
        }
        for s in self._statuses():
            values = [s.peer, s.kind]
            for name in STATES:
                state.add_metric(values + [name], 1.0 if s.state == name else 0.0)
            if s.state == FAILED:
                failing.add_metric(values + [s.reason], 1.0)
            gauges["objects"].add_metric(values, s.objects)
            gauges["bytes"].add_metric(values, s.bytes)
            gauges["lag_seconds"].add_metric(values, s.lag_seconds)
            gauges["lag_revisions"].add_metric(values, s.lag_revisions)
            gauges["revision"].add_metric(values, s.revision)
            gauges["conflicts"].add_metric(values, s.conflict_count)
            gauges["invalid"].add_metric(values, s.invalid_count)
            gauges["over_quota"].add_metric(values, s.over_quota_count)
            gauges["stale"].add_metric(values, 1.0 if s.stale else 0.0)
            counters["events_applied"].add_metric(values, s.events_applied)
            counters["sync_errors"].add_metric(values, s.sync_errors)
            counters["full_resyncs"].add_metric(values, s.full_resyncs)
            counters["backoffs"].add_metric(values, s.backoffs)
        leader = GaugeMetricFamily(f"{NS}_leader", "1 when this replica runs the syncers")
        leader.add_metric([], 1.0 if self._leader() else 0.0)
        yield state
        yield failing
        yield from gauges.values()
        yield from counters.values()
        yield leader
