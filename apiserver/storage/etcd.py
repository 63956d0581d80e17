"""etcd v3 storage over gRPC — the only module that imports aetcd.

aetcd 1.0.0 gives us the generated protobuf stubs; what it lacks is added here, in one place:
TLS channels, failover across several endpoints (gRPC ``pick_first`` over a static address
list), a deadline on every call, the revision of every write (from the Txn response header),
paged ranges at a revision, and raw watch streams that report compaction.
"""
from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import grpc
from aetcd import rpc

from .interface import (Compacted, FutureRevision, Indeterminate, KeyExists, KeyNotFound,
                        KeyValue, ListResult, NoSpace, RevisionConflict, StorageError, TooLarge,
                        Unavailable, WatchEvent)

log = logging.getLogger(__name__)

MAX_MESSAGE = 256 * 1024 * 1024
_NOT_SENT = "failed to connect to all addresses"  # gRPC's words for a call that never left


@dataclass(frozen=True)
class EtcdTLS:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


def _target(endpoints: list[str]) -> tuple[str, bool]:
    """A gRPC target naming every endpoint, and whether the endpoints use https."""
    addrs, secure = [], False
    for url in endpoints:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        secure = secure or parts.scheme == "https"
        host, port = parts.hostname or "127.0.0.1", parts.port or 2379
        for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            ip = info[4][0]
            addrs.append(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
    unique = list(dict.fromkeys(addrs))
    if len(unique) == 1:
        return unique[0], secure
    family = "ipv6" if all(a.startswith("[") for a in unique) else "ipv4"
    return f"{family}:" + ",".join(unique), secure


def _error(err: grpc.aio.AioRpcError, *, write: bool = False) -> StorageError:
    """The storage error for a failed call. A write that failed after it may have reached
    etcd (a dropped stream, a deadline, an etcd-side timeout) is Indeterminate; one that
    never left (no connection to any endpoint) is Unavailable."""
    code, details = err.code(), err.details() or ""
    if "database space exceeded" in details:   # the NOSPACE alarm: nothing was written
        return NoSpace(details)
    if "compacted" in details:
        return Compacted(0)
    if "future revision" in details:
        return FutureRevision(details)
    if code == grpc.StatusCode.INVALID_ARGUMENT and "too large" in details:
        return TooLarge(details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return TooLarge(details)
    message = f"etcd: {code.name.lower()}: {details}"
    if write and not (code == grpc.StatusCode.UNAVAILABLE and _NOT_SENT in details):
        return Indeterminate(message)
    return Unavailable(message)


def _kv(kv: rpc.KeyValue) -> KeyValue:
    return KeyValue(kv.key.decode(), kv.value, kv.mod_revision, kv.create_revision)


def _range_end(prefix: bytes) -> bytes:
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


class Timer(Protocol):
    """Told how long each etcd call took (``metrics.storage_timings``)."""

    def observe(self, operation: str, key: str, seconds: float) -> None: ...


class EtcdStorage:
    """``Storage`` on an etcd v3 cluster. Create it inside the event loop that uses it.
    ``timer``, when set, is told the duration of every call: its operation and the key or
    prefix it was about."""

    timer: Timer | None = None

    def __init__(self, endpoints: list[str], *, tls: EtcdTLS | None = None,
                 timeout: float = 5.0) -> None:
        target, secure = _target(endpoints)
        options = [("grpc.max_receive_message_length", MAX_MESSAGE),
                   ("grpc.max_send_message_length", MAX_MESSAGE),
                   ("grpc.keepalive_time_ms", 10_000),
                   ("grpc.keepalive_timeout_ms", 5_000),
                   ("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1_000)]
        tls = tls or EtcdTLS()
        if secure or tls.ca_file or tls.cert_file:
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(tls.ca_file), private_key=_read(tls.key_file),
                certificate_chain=_read(tls.cert_file))
            self._channel = grpc.aio.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=options)
        self.endpoints = endpoints
        self.timeout = timeout
        self._kv = rpc.KVStub(self._channel)
        self._watch = rpc.WatchStub(self._channel)
        self._lease = rpc.LeaseStub(self._channel)
        self._maintenance = rpc.MaintenanceStub(self._channel)

    async def _call(self, method, request, operation: str, key: str, *, write: bool = False):
        start = time.perf_counter()
        try:
            return await method(request, timeout=self.timeout, wait_for_ready=False)
        except grpc.aio.AioRpcError as err:
            raise _error(err, write=write) from None
        finally:
            if self.timer is not None:
                self.timer.observe(operation, key, time.perf_counter() - start)

    async def get(self, key: str) -> KeyValue | None:
        resp = await self._call(self._kv.Range, rpc.RangeRequest(key=key.encode()), "get", key)
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def list(self, prefix: str, *, revision: int = 0, start: str | None = None,
                   limit: int = 0) -> ListResult:
        p = prefix.encode()
        req = rpc.RangeRequest(key=(start or prefix).encode(), range_end=_range_end(p),
                               revision=revision, limit=limit)
        resp = await self._call(self._kv.Range, req, "list", prefix)
        return ListResult([_kv(kv) for kv in resp.kvs], resp.header.revision, resp.more)

    async def current_revision(self) -> int:
        resp = await self._call(self._kv.Range, rpc.RangeRequest(key=b"\0", count_only=True),
                                "revision", "")
        return resp.header.revision

    async def _txn(self, operation: str, key: str, compare: list, success: list):
        """A transaction about ``key`` that reads it when its comparison fails."""
        req = rpc.TxnRequest(compare=compare, success=success, failure=[
            rpc.RequestOp(request_range=rpc.RangeRequest(key=key.encode()))])
        return await self._call(self._kv.Txn, req, operation, key, write=True)

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        k = key.encode()
        resp = await self._txn(
            "create", key,
            [rpc.Compare(key=k, result=rpc.Compare.EQUAL, target=rpc.Compare.VERSION, version=0)],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value, lease=lease))])
        if not resp.succeeded:
            kvs = resp.responses[0].response_range.kvs
            raise KeyExists(key, _kv(kvs[0]) if kvs else None)
        return resp.header.revision

    async def create_many(self, items: list[tuple[str, bytes]]) -> int:
        k = [key.encode() for key, _ in items]
        req = rpc.TxnRequest(
            compare=[rpc.Compare(key=key, result=rpc.Compare.EQUAL, target=rpc.Compare.VERSION,
                                 version=0) for key in k],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value))
                     for key, (_, value) in zip(k, items)])
        resp = await self._call(self._kv.Txn, req, "txn", items[0][0], write=True)
        if not resp.succeeded:
            raise KeyExists(items[0][0])
        return resp.header.revision

    async def update(self, key: str, value: bytes, *, expect_revision: int) -> int:
        k = key.encode()
        resp = await self._txn(
            "update", key,
            [rpc.Compare(key=k, result=rpc.Compare.EQUAL, target=rpc.Compare.MOD,
                         mod_revision=expect_revision)],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value))])
        if not resp.succeeded:
            kvs = resp.responses[0].response_range.kvs
            if not kvs:
                raise KeyNotFound(key)
            raise RevisionConflict(key, _kv(kvs[0]))
        return resp.header.revision

    async def delete(self, key: str, *, expect_revision: int = 0) -> KeyValue:
        k = key.encode()
        compare = [rpc.Compare(key=k, result=rpc.Compare.EQUAL, target=rpc.Compare.MOD,
                               mod_revision=expect_revision)] if expect_revision else []
        resp = await self._txn("delete", key, compare, [rpc.RequestOp(
            request_delete_range=rpc.DeleteRangeRequest(key=k, prev_kv=True))])
        if not resp.succeeded:
            kvs = resp.responses[0].response_range.kvs
            if not kvs:
                raise KeyNotFound(key)
            raise RevisionConflict(key, _kv(kvs[0]))
        deleted = resp.responses[0].response_delete_range
        if not deleted.deleted or not deleted.prev_kvs:
            raise KeyNotFound(key)
        prev = deleted.prev_kvs[0]
        return KeyValue(key, prev.value, resp.header.revision, prev.create_revision)

    def watch(self, prefix: str, *, start_revision: int) -> "EtcdWatch":
        return EtcdWatch(self._watch, prefix, start_revision, self.timer)

    async def grant_lease(self, ttl: int) -> int:
        resp = await self._call(self._lease.LeaseGrant, rpc.LeaseGrantRequest(TTL=ttl),
                                "leaseGrant", "")
        return resp.ID

    async def keepalive(self, lease: int) -> int:
        call = self._lease.LeaseKeepAlive(timeout=self.timeout)
        try:
            await call.write(rpc.LeaseKeepAliveRequest(ID=lease))
            resp = await call.read()
            return 0 if resp is grpc.aio.EOF else resp.TTL
        except grpc.aio.AioRpcError as err:
            raise _error(err) from None
        finally:
            call.cancel()

    async def revoke(self, lease: int) -> None:
        try:
            await self._call(self._lease.LeaseRevoke, rpc.LeaseRevokeRequest(ID=lease),
                             "leaseRevoke", "")
        except Unavailable:
            log.warning("could not revoke lease %x; it will expire by itself", lease)

    async def alarms(self) -> list[str]:
        resp = await self._call(self._maintenance.Alarm, rpc.AlarmRequest(
            action=rpc.AlarmRequest.GET, memberID=0, alarm=rpc.NONE), "alarms", "")
        return sorted({rpc.AlarmType.Name(a.alarm) for a in resp.alarms})

    async def compaction_turn(self, key: str, version: int, value: bytes) -> tuple[bool, int, int]:
        k = key.encode()
        resp = await self._txn(
            "txn", key,
            [rpc.Compare(key=k, result=rpc.Compare.EQUAL, target=rpc.Compare.VERSION,
                         version=version)],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value))])
        if resp.succeeded:
            return True, version + 1, resp.header.revision
        kvs = resp.responses[0].response_range.kvs
        return False, kvs[0].version if kvs else 0, resp.header.revision

    async def compact(self, revision: int) -> None:
        await self._call(self._kv.Compact, rpc.CompactionRequest(revision=revision),
                         "compact", "")

    async def close(self) -> None:
        await self._channel.close()


class EtcdWatch:
    """One etcd watch stream: iterate for ``(revision, events)`` batches.

    An empty prefix watches the whole keyspace. Iteration raises Compacted or Unavailable;
    ``close()`` ends it."""

    def __init__(self, stub: rpc.WatchStub, prefix: str, start_revision: int,
                 timer: Timer | None = None) -> None:
        self._stub, self._prefix, self._start = stub, prefix.encode(), start_revision
        self._timer = timer
        self._call = None

    def __aiter__(self) -> "EtcdWatch":
        return self

    async def _open(self) -> None:
        self._call = self._stub.Watch()
        key, end = (self._prefix, _range_end(self._prefix)) if self._prefix else (b"\0", b"\0")
        await self._call.write(rpc.WatchRequest(create_request=rpc.WatchCreateRequest(
            key=key, range_end=end, start_revision=self._start, prev_kv=True)))

    async def __anext__(self) -> tuple[int, list[WatchEvent]]:
        opening = 0.0   # when a stream being opened was asked for: timed to its first answer
        try:
            if self._call is None:
                opening = time.perf_counter()
                await self._open()
            while True:
                resp = await self._call.read()
                if opening and self._timer is not None:
                    self._timer.observe("watch", self._prefix.decode(),
                                        time.perf_counter() - opening)
                    opening = 0.0
                if resp is grpc.aio.EOF:
                    raise Unavailable("etcd closed the watch stream")
                if resp.compact_revision:
                    raise Compacted(resp.compact_revision)
                if resp.canceled:
                    raise Unavailable(f"etcd cancelled the watch: {resp.cancel_reason}")
                # the creation answer is an empty batch: the watch is up, with or without writes
                return resp.header.revision, [_event(ev) for ev in resp.events]
        except grpc.aio.AioRpcError as err:
            raise _error(err) from None

    def close(self) -> None:
        if self._call is not None:
            self._call.cancel()


def _event(ev: rpc.Event) -> WatchEvent:
    prev = _kv(ev.prev_kv) if ev.prev_kv.key else None
    if ev.type == rpc.Event.DELETE:
        return WatchEvent("DELETE", KeyValue(ev.kv.key.decode(), b"", ev.kv.mod_revision), prev)
    return WatchEvent("PUT", _kv(ev.kv), prev)


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None

