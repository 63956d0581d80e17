"""The HTTP client of one peer cluster's apiserver (the ordinary list/watch API, DESIGN §7).
One per peer, shared by the syncers of all its kinds: one connection pool, one set of
credentials.

Exception tree (everything a syncer must handle is a ``PeerError``; ``str(err)`` is the text
shown in the peer's status):

    PeerError
    ├── PeerUnreachable   connect/TLS/read failures, timeouts, 5xx, a peer that stops sending
    ├── PeerRejected      401/403: the token or client certificate is not accepted; or a
    │                     credentials file may not or cannot be used (credentials.py)
    ├── PeerProtocolError the answer is not what a projectcalico.org/v3 apiserver sends
    │   │                 (garbage, wrong shapes, a line that never ends)
    │   └── AnswerTooLarge  a body over its size cap
    ├── WrongCluster      the apiserver behind the URL is another cluster (or this one)
    └── PeerExpired       410: the revision asked for has been compacted (relist)

Every call has a deadline, and a peer that sends nothing for ``idle_timeout`` seconds is
unreachable (a blackholed peer is noticed that fast: the peer's watches send bookmarks every
few seconds); every response body is read with a size cap, so a hostile or broken peer costs
bounded time and memory. Lists are read in pages (``limit``/``continue``); a large page is
parsed a few items at a time, yielding to the event loop in between (``json.loads`` holds the
GIL, so a thread would not help), so one peer's big list does not stall the server.
"""
from __future__ import annotations

import asyncio
import json
import re
import ssl
from dataclasses import dataclass, field
from typing import AsyncIterator

import httpx

from calicomodel.catalog import API_VERSION
from calicomodel.formats import is_digits

from ..config import Settings
from .credentials import CredentialError, digest, read_token, tls_context

PREFIX = f"/apis/{API_VERSION}"


class PeerError(Exception):
    pass


class PeerUnreachable(PeerError):
    pass


class PeerRejected(PeerError):
    pass


class PeerProtocolError(PeerError):
    pass


class AnswerTooLarge(PeerProtocolError):
    pass


class WrongCluster(PeerError):
    pass


class PeerExpired(PeerError):
    pass


@dataclass(frozen=True)
class PeerConfig:
    """How to reach one peer: the connection part of a RemoteClusterConfiguration spec."""

    name: str
    api_server: str
    token_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False


@dataclass(frozen=True)
class Limits:
    """Deadlines and size caps for every call to a peer."""

    connect_timeout: float = 5.0
    idle_timeout: float = 8.0            # nothing received for this long: the peer is gone
                                         # (its watches send a bookmark every 5 s)
    request_timeout: float = 30.0        # a whole page (or /version) must arrive within this
    watch_seconds: int = 60              # ask the peer to end each watch after this long (on
                                         # each reconnection, the identity and the export
                                         # are checked again)
    page_size: int = 500                 # objects per page of a list
    max_page_bytes: int = 64 * 1024 * 1024   # a larger page is asked for again, halved
    max_event_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class Identity:
    """Who a peer is: the cluster name its ``/version`` reports, and the ``clusterGUID`` of
    its ClusterInformation (new whenever its datastore is rebuilt; None when not served)."""

    name: str
    guid: str | None


@dataclass(frozen=True)
class PeerList:
    """One page of a list; every page of a list has the revision of its first."""

    items: list[dict]
    revision: int


@dataclass(frozen=True)
class PeerEvent:
    """One watch event. ``type`` is ADDED, MODIFIED, DELETED or BOOKMARK."""

    type: str
    object: dict
    revision: int


@dataclass
class PeerClient:
    """The HTTP client of one peer: one connection pool of at most ``connections``
    connections (a watch per kind, and a request). ``refresh`` re-reads the credentials files
    (from ``credentials_dir`` only) so rotated tokens and certificates are picked up. Close
    with ``aclose``."""

    config: PeerConfig
    limits: Limits = field(default_factory=Limits)
    credentials_dir: str = Settings.federation_credentials_dir
    connections: int = 3
    _client: httpx.AsyncClient | None = None
    _fingerprint: bytes | None = None

    async def refresh(self) -> None:
        """Re-read the credentials files. When they changed the pool is replaced (streams on
        the old one end, and reconnect with the new credentials); when one may not or cannot
        be used the pool is closed and PeerRejected raised, before anything is sent."""
        config = self.config
        try:
            fingerprint = digest((("tokenFile", config.token_file), ("caFile", config.ca_file),
                                  ("certFile", config.cert_file), ("keyFile", config.key_file)),
                                 self.credentials_dir)
        except CredentialError as err:
            await self.aclose()
            raise PeerRejected(str(err)) from None
        if fingerprint != self._fingerprint:
            await self.aclose()
            self._fingerprint = fingerprint

    def _connect(self) -> httpx.AsyncClient:
        """A connection pool for the peer. Raises PeerRejected (and sends nothing) when a
        credentials file may not or cannot be used."""
        headers = {"Accept": "application/json", "User-Agent": "calico-apiserver-federation"}
        try:
            if self.config.token_file:
                token = read_token(self.config.token_file, self.credentials_dir)
                headers["Authorization"] = f"Bearer {token}"
            verify = self._tls_context()
        except CredentialError as err:
            raise PeerRejected(str(err)) from None
        return httpx.AsyncClient(
            base_url=self.config.api_server.rstrip("/"), headers=headers, verify=verify,
            timeout=self._timeout(self.limits.request_timeout), follow_redirects=False,
            trust_env=False, limits=httpx.Limits(max_connections=self.connections,
                                                 max_keepalive_connections=self.connections))

    def _timeout(self, total: float | None) -> httpx.Timeout:
        """``total`` for a call; a peer that sends nothing for ``idle_timeout`` fails sooner."""
        limits = self.limits
        return httpx.Timeout(total, connect=limits.connect_timeout, read=limits.idle_timeout,
                             pool=limits.request_timeout)

    def _tls_context(self) -> ssl.SSLContext | bool:
        if not self.config.api_server.startswith("https://"):
            return True
        ctx = tls_context(self.config.ca_file, self.config.cert_file, self.config.key_file,
                          self.credentials_dir)
        if self.config.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._connect()
        return self._client

    # -- calls ---------------------------------------------------------------------------------
    async def identity(self) -> Identity:
        """Who the peer says it is. Raises PeerError."""
        body = await self._get_json("/version", {})
        name = body.get("clusterName") if isinstance(body, dict) else None
        if not isinstance(name, str):
            raise PeerProtocolError("the peer's /version does not name its cluster "
                                    "(no clusterName): is this a calico apiserver?")
        info = await self._get_json(f"{PREFIX}/clusterinformations/default", {},
                                    missing_ok=True)
        spec = info.get("spec") if isinstance(info, dict) else None
        guid = spec.get("clusterGUID") if isinstance(spec, dict) else None
        return Identity(name, guid if isinstance(guid, str) and guid else None)

    async def exported(self) -> tuple[tuple[str, str], ...] | None:
        """What the peer exports to us: the names and resourceVersions of its FederationExport
        rules for our identity (None when it does not say). Raises PeerError."""
        rules = await self._get_json(f"{PREFIX}/federationexports", {}, missing_ok=True)
        items = rules.get("items") if isinstance(rules, dict) else None
        if not isinstance(items, list):
            return None
        metas = [i.get("metadata") for i in items if isinstance(i, dict)]
        return tuple(sorted((str(m.get("name")), str(m.get("resourceVersion")))
                            for m in metas if isinstance(m, dict)))

    async def pages(self, plural: str) -> AsyncIterator[PeerList]:
        """Every object of a kind (all namespaces), in pages of at most ``page_size`` items
        from one snapshot of the peer; a page over ``max_page_bytes`` is asked for again with
        half the limit. Raises PeerExpired when the snapshot is compacted before the last page
        (relist) and PeerError on anything else wrong."""
        path, what = f"{PREFIX}/{plural}", f"the list of {plural}"
        limit, token, revision = self.limits.page_size, "", None
        while True:
            params = {"limit": str(limit), **({"continue": token} if token else {})}
            try:
                body = await self._get_json(path, params)
            except AnswerTooLarge:
                if limit == 1:
                    raise
                limit //= 2
                continue
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise PeerProtocolError(f"{what} is not a list object")
            page = PeerList(body["items"], _revision(body.get("metadata"), what))
            if revision not in (None, page.revision):
                raise PeerProtocolError(f"{what} changed its resourceVersion between pages")
            revision = page.revision
            following = body["metadata"].get("continue") or ""
            if not isinstance(following, str) or (following and following == token):
                raise PeerProtocolError(f"{what} sent a bad continue token")
            yield page
            if not following:
                return
            token = following

    async def watch(self, plural: str, since: int) -> AsyncIterator[PeerEvent]:
        """Events after revision ``since``, until the peer ends the watch. Raises PeerExpired
        on a 410 (as a status or as an ERROR event) and PeerError on anything else wrong,
        PeerUnreachable when no event or bookmark arrives for ``idle_timeout`` seconds."""
        params = {"watch": "true", "resourceVersion": str(since), "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(self.limits.watch_seconds)}
        idle = self.limits.idle_timeout
        try:
            async with self.client.stream("GET", f"{PREFIX}/{plural}", params=params,
                                          timeout=self._timeout(None)) as resp:
                if resp.status_code != 200:
                    await self._raise_status(resp)
                lines = _lines(resp.aiter_bytes(), self.limits.max_event_bytes)
                while True:
                    try:
                        async with asyncio.timeout(idle):
                            line = await anext(lines, None)
                    except TimeoutError:
                        raise PeerUnreachable(f"the watch of {plural} sent no event or "
                                              f"bookmark for {idle:g}s") from None
                    if line is None:
                        return
                    if line.strip():
                        yield _event(line, plural)
        except httpx.HTTPError as err:
            raise self._transport_error(err) from None

    async def _get_json(self, path: str, params: dict, *, missing_ok: bool = False) -> object:
        """The JSON body of a GET; None for a 403 or 404 when ``missing_ok``."""
        try:
            async with asyncio.timeout(self.limits.request_timeout):
                async with self.client.stream("GET", path, params=params) as resp:
                    if missing_ok and resp.status_code in (403, 404):
                        return None
                    if resp.status_code != 200:
                        await self._raise_status(resp)
                    raw = await _read_capped(resp, self.limits.max_page_bytes, path)
        except TimeoutError:
            raise PeerUnreachable(f"GET {path} did not finish within "
                                  f"{self.limits.request_timeout:g}s") from None
        except httpx.HTTPError as err:
            raise self._transport_error(err) from None
        try:
            return await loads(raw)
        except (ValueError, RecursionError):
            raise PeerProtocolError(f"GET {path} did not answer JSON") from None

    async def _raise_status(self, resp: httpx.Response) -> None:
        try:
            raw = await _read_capped(resp, 64 * 1024, resp.url.path)
            message = json.loads(raw).get("message") or ""
        except (PeerError, ValueError, AttributeError, httpx.HTTPError):
            message = ""
        what = f"GET {resp.url.path}: {resp.status_code}" + (f" {message}" if message else "")
        if resp.status_code in (401, 403):
            raise PeerRejected(f"the peer refused our credentials ({what})")
        if resp.status_code == 410:
            raise PeerExpired(what)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise PeerUnreachable(what)
        raise PeerProtocolError(f"unexpected answer ({what})")

    def _transport_error(self, err: httpx.HTTPError) -> PeerError:
        if isinstance(err, httpx.ReadTimeout):
            return PeerUnreachable(f"the peer sent nothing for {self.limits.idle_timeout:g}s "
                                   "(ReadTimeout)")
        if isinstance(err, httpx.TimeoutException):
            return PeerUnreachable(f"timed out talking to the peer ({type(err).__name__})")
        if isinstance(err, httpx.ConnectError):
            return PeerUnreachable(f"cannot connect to the peer: {err}")
        if isinstance(err, (httpx.RemoteProtocolError, httpx.DecodingError)):
            return PeerProtocolError(f"the peer broke the HTTP protocol: {err}")
        if isinstance(err, httpx.LocalProtocolError):   # its text quotes our headers (the token)
            return PeerUnreachable("the request to the peer could not be sent "
                                   "(LocalProtocolError)")
        return PeerUnreachable(f"{type(err).__name__}: {err}")


async def _read_capped(resp: httpx.Response, cap: int, what: str) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared and _is_number(declared, 20) and int(declared) > cap:
        raise AnswerTooLarge(f"GET {what}: the answer ({declared} bytes) is larger than the "
                             f"limit of {cap} bytes")
    chunks, size = [], 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise AnswerTooLarge(f"GET {what}: the answer is larger than the limit of "
                                 f"{cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _lines(chunks: AsyncIterator[bytes], cap: int) -> AsyncIterator[bytes]:
    """Newline-delimited lines; a line longer than ``cap`` bytes is a PeerProtocolError."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        while (end := buf.find(b"\n")) >= 0:
            yield bytes(buf[:end])
            del buf[:end + 1]
        if len(buf) > cap:
            raise PeerProtocolError(f"a watch event is longer than the limit of {cap} bytes")
    if buf.strip():
        yield bytes(buf)


def _event(line: bytes, plural: str) -> PeerEvent:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        raise PeerProtocolError(f"the watch of {plural} sent a line that is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise PeerProtocolError(f"the watch of {plural} sent something that is not an event")
    type_, obj = data.get("type"), data["object"]
    if type_ == "ERROR":
        code, message = obj.get("code"), obj.get("message") or "an ERROR event"
        if code == 410:
            raise PeerExpired(f"watch of {plural}: {message}")
        raise PeerUnreachable(f"watch of {plural}: {code} {message}")
    if type_ not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
        raise PeerProtocolError(f"the watch of {plural} sent an event of type {type_!r}")
    return PeerEvent(type_, obj, _revision(obj.get("metadata"), f"a {type_} event"))


def _revision(meta: object, what: str) -> int:
    """A resourceVersion: an etcd revision, i.e. at most 19 ASCII digits."""
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    if not _is_number(rv, 19):
        raise PeerProtocolError(f"{what} has no valid metadata.resourceVersion")
    return int(rv)  # type: ignore[arg-type]


def _is_number(text: object, digits: int) -> bool:
    """A non-negative decimal integer of at most ``digits`` ASCII digits (``str.isdigit``
    alone also accepts "²" and other digits ``int`` refuses)."""
    return isinstance(text, str) and len(text) <= digits and is_digits(text)


INCREMENTAL_BYTES = 256 * 1024   # bodies larger than this are parsed incrementally
ITEMS_PER_STEP = 100             # list items parsed between yields to the event loop
_WS = re.compile(r"[ \t\n\r]*")   # JSON whitespace (json's own definition)


async def loads(raw: bytes) -> object:
    """``json.loads(raw)``, the same value or ValueError, yielding to the event loop every
    ITEMS_PER_STEP items of a large body's top-level ``items`` array."""
    if len(raw) <= INCREMENTAL_BYTES:
        return json.loads(raw)
    steps = _parse(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        await asyncio.sleep(0)


def _parse(text: str):
    """A generator that parses ``text`` like ``json.loads``, yielding now and then while it
    reads a top-level object's ``items`` array; its return value is the parsed value."""
    decoder, ws = json.JSONDecoder(), _WS.match
    i = ws(text, 0).end()
    if not text.startswith("{", i):
        return decoder.decode(text)
    out: dict = {}
    i, done = _opened(text, i + 1, "}")
    while not done:
        key, i = decoder.raw_decode(text, i)
        if not isinstance(key, str):
            raise ValueError("an object key is not a string")
        i = ws(text, i).end()
        if not text.startswith(":", i):
            raise ValueError("':' expected")
        i = ws(text, i + 1).end()
        if key == "items" and text.startswith("[", i):
            out[key], i = yield from _array(decoder, text, i + 1)
        else:
            out[key], i = decoder.raw_decode(text, i)
        i, done = _separated(text, i, "}")
    if ws(text, i).end() != len(text):
        raise ValueError("extra data after the JSON value")
    return out


def _array(decoder: json.JSONDecoder, text: str, i: int):
    """The array whose ``[`` ends before ``i``, and the index after it; yields every
    ITEMS_PER_STEP items."""
    items: list = []
    i, done = _opened(text, i, "]")
    while not done:
        item, i = decoder.raw_decode(text, i)
        items.append(item)
        if len(items) % ITEMS_PER_STEP == 0:
            yield
        i, done = _separated(text, i, "]")
    return items, i


def _opened(text: str, i: int, close: str) -> tuple[int, bool]:
    """Just inside a container: the index of its first member, or past ``close`` (True)."""
    i = _WS.match(text, i).end()
    return (i + 1, True) if text.startswith(close, i) else (i, False)


def _separated(text: str, i: int, close: str) -> tuple[int, bool]:
    """After a member: the index of the next one, or past ``close`` (True)."""
    i = _WS.match(text, i).end()
    if text.startswith(",", i):
        return _WS.match(text, i + 1).end(), False
    if text.startswith(close, i):
        return i + 1, True
    raise ValueError(f"',' or '{close}' expected")
