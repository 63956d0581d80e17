"""``--workers N``: N serving processes on one port, so every core answers requests.

The parent starts the embedded etcd (when there is one) and N worker processes; each worker is
a whole apiserver — its own watch-fed cache, its own listening socket on the same port
(``SO_REUSEPORT``: the kernel spreads connections over them). Reads stay consistent across
workers because every read that must be current first waits until the worker's cache reaches
etcd's current revision (Kubernetes' consistent reads from cache), and writes wait until the
writing worker's cache holds them; so a client that writes through one worker and reads through
another reads its write. ``/metrics`` answers with every worker's series (each worker also
serves its own on a private unix socket, and the one a scrape reaches gathers them). Workers elect one federation leader among themselves and with other
replicas (each has its own identity), and take turns compacting like replicas do.

A worker dies with the parent (parent-death signal); a worker that exits is started again after
a second. SIGTERM or SIGINT to the parent stops the workers, then the etcd.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import replace
from multiprocessing.process import BaseProcess
from typing import Callable

from .config import Settings

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
STOP_GRACE = 15.0        # seconds a worker has to finish after SIGTERM
QUICK_FAILURE = 5.0      # a worker that exits this soon after its start failed to start
MAX_QUICK_FAILURES = 3   # in a row: then the workers cannot start at all


class WorkersFailing(RuntimeError):
    """Workers exit as soon as they start (a port in use, say): restarting cannot help."""


def die_with_parent() -> None:
    """Ask the kernel to SIGTERM this process when its parent dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def check_port(host: str, port: int) -> None:
    """Raise OSError now when the workers could not listen on ``host:port`` (in use by a
    process that does not share it), rather than after they start and exit one by one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))
        except OSError as err:   # in the words asyncio uses for one worker
            raise OSError(err.errno, f"error while attempting to bind on address "
                                     f"{(host, port)!r}: {(err.strerror or '').lower()}") from None


def supervise(settings: Settings, target: Callable[[Settings], None]) -> None:
    """Run ``target(worker settings)`` in ``settings.workers`` processes until SIGTERM/SIGINT,
    restarting a worker that exits. ``settings.etcd_endpoints`` must name the etcd."""
    check_port(settings.listen_host, settings.listen_port)
    context = multiprocessing.get_context("spawn")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    def start(index: int) -> BaseProcess:
        process = context.Process(target=target, name=f"apiserver-worker-{index}",
                                  args=(replace(settings, worker=index),))
        process.start()
        return process
    metrics_dir = tempfile.mkdtemp(prefix="apiserver-metrics-")
    settings = replace(settings, metrics_dir=metrics_dir)
    workers = [start(i) for i in range(settings.workers)]
    started = [time.monotonic()] * len(workers)
    quick_failures = 0
    log.info("serving with %d workers on %s:%d", settings.workers, settings.listen_host,
             settings.listen_port)
    try:
        while not stopping:
            for index, process in enumerate(workers):
                if process.is_alive() or stopping:
                    continue
                quick_failures = quick_failures + 1 \
                    if time.monotonic() - started[index] < QUICK_FAILURE else 0
                if quick_failures > MAX_QUICK_FAILURES:
                    raise WorkersFailing(f"workers keep exiting at start (the last with code "
                                         f"{process.exitcode}); see the log above")
                log.error("worker %d exited with code %s; starting it again", index,
                          process.exitcode)
                time.sleep(1)
                workers[index], started[index] = start(index), time.monotonic()
            time.sleep(0.2)
    finally:
        for process in workers:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        shutil.rmtree(metrics_dir, ignore_errors=True)
