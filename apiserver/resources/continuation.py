"""``continue`` tokens that read only the list they came from.

A token carries the snapshot revision and the next etcd key of a paged list. It is
authenticated (HMAC-SHA256) over those and over the list it belongs to — kind, namespace and
the selector texts — with a key every replica shares: it lives in etcd, created by the first
server that needs it. A token altered by hand, or sent with another list, is "invalid continue
token" (400); the key it would start from must also lie inside the requested collection, so
not even a leaked key lets a token read another kind.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets

from calicomodel.errors import BadRequest

from ..storage.interface import KeyExists, Storage
from .storage_errors import translated

KEY_PATH = "/calico/apiserver/v1/continue-key"
MAX_REVISION = 2**63 - 1


def _invalid() -> BadRequest:
    return BadRequest("invalid continue token: it does not belong to this list (kind, "
                      "namespace and selectors must be those of the request that returned it)")


class ContinueTokens:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._key: bytes | None = None

    async def _secret(self) -> bytes:
        if self._key is None:
            with translated():
                kv = await self.storage.get(KEY_PATH)
                if kv is None:
                    try:
                        await self.storage.create(KEY_PATH, secrets.token_bytes(32))
                    except KeyExists:
                        pass
                    kv = await self.storage.get(KEY_PATH)
            self._key = kv.value if kv else secrets.token_bytes(32)
        return self._key

    async def encode(self, scope: str, revision: int, start: str) -> str:
        body = base64.urlsafe_b64encode(json.dumps({"rv": revision, "start": start},
                                                   separators=(",", ":")).encode()).decode()
        return f"{body}.{self._mac(await self._secret(), scope, body)}"

    async def decode(self, scope: str, prefixes: tuple[str, ...], token: str) -> tuple[int, str]:
        """(revision, start key) of a token issued for ``scope`` whose start key lies in one of
        the collection's ``prefixes``; BadRequest otherwise."""
        body, _, mac = token.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(await self._secret(), scope,
                                                           body).encode()):
            raise _invalid()
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
            revision, start = data["rv"], data["start"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _invalid() from None
        if not (isinstance(revision, int) and 0 < revision <= MAX_REVISION
                and isinstance(start, str) and start.startswith(prefixes)):
            raise _invalid()
        return revision, start

    @staticmethod
    def _mac(key: bytes, scope: str, body: str) -> str:
        digest = hmac.new(key, f"{scope}\n{body}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
