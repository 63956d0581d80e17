"""Where a kind lives in etcd and how its objects are stored: a ``Layout`` per kind.

The cache, the store and the list pages ask a kind's layout (``Kind.layout``) for its keys
and bytes, never a key format of their own; the catalog routes a key to its kind from the
layouts' prefixes (``Catalog.locate``). Most kinds use ``ResourceLayout``, libcalico-go's v3
resource layout (``model.SerializeValue`` / ``kvPairToResource``); IPAM's kinds use
libcalico-go's own IPAM keys and values (``ipam.py``).
"""
from __future__ import annotations

import orjson
from dataclasses import dataclass
from typing import Any, Protocol

from .layout import collection_prefix, object_key, parse_key
from .calico import DEFAULT_TIER, POLICY_METADATA, TIER_LABEL

_ORDER = ("kind", "apiVersion", "metadata", "spec", "status")


def dumps(obj: Any) -> bytes:
    """Compact JSON, UTF-8 (not escaped): how objects are stored and served."""
    return orjson.dumps(obj)


def loads(data: bytes | str) -> Any:
    """JSON from etcd or the cache (not a request body: those go through the API's own
    checking decoder). Raises ValueError."""
    return orjson.loads(data)


class Layout(Protocol):
    """A kind's keys and stored values. ``lossless``: decoding what ``encode`` wrote gives
    the object back as it was (metadata and all); a lossy layout stores only some of it, and
    what a write returns is then what a read of it gives (``decode``)."""

    lossless: bool

    def prefixes(self, namespace: str | None = None) -> tuple[str, ...]:
        """The key ranges holding the kind's objects (in a namespace), in key order; no
        prefix of one kind's may begin another's."""

    def key(self, obj: dict) -> str:
        """Where ``obj`` is stored (from its name, or for IPAM from its spec)."""

    def parse(self, key: str) -> tuple[str | None, str] | None:
        """``(namespace, name)`` of the object at ``key``; None when no object of the kind
        can be there."""

    def encode(self, obj: dict) -> bytes:
        """The stored bytes; ``obj`` is not mutated."""

    def decode(self, key: str, value: bytes, revision: int, create_revision: int) -> dict:
        """The API object at ``key`` for stored bytes at ``revision``. Raises ValueError on
        undecodable data."""


@dataclass(frozen=True)
class ResourceLayout:
    """``/calico/resources/v3/projectcalico.org/<plural>/[<namespace>/]<name>`` holding the
    whole object without ``resourceVersion`` (it is the mod_revision); a policy (``tiered``)
    stores its name in the ``projectcalico.org/metadata`` annotation and is read back with
    its tier label."""

    plural: str
    namespaced: bool
    tiered: bool = False
    lossless = True

    def prefixes(self, namespace: str | None = None) -> tuple[str, ...]:
        return (collection_prefix(self.plural, namespace),)

    def key(self, obj: dict) -> str:
        meta = obj["metadata"]
        return object_key(self.plural, meta["name"],
                          meta.get("namespace") if self.namespaced else None)

    def parse(self, key: str) -> tuple[str | None, str] | None:
        parsed = parse_key(key)
        if parsed is None or parsed[0] != self.plural or bool(parsed[1]) != self.namespaced:
            return None
        return parsed[1], parsed[2]

    def encode(self, obj: dict) -> bytes:
        meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
        if self.tiered:
            meta["annotations"] = {**(meta.get("annotations") or {}),
                                   POLICY_METADATA: dumps({"name": meta["name"]}).decode()}
        out = {k: obj[k] for k in _ORDER if k in obj and k != "metadata"}
        out["metadata"] = meta
        return dumps({k: out[k] for k in _ORDER if k in out})

    def decode(self, key: str, value: bytes, revision: int, create_revision: int) -> dict:
        obj = loads(value)
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
            raise ValueError("not a Calico resource")
        meta = obj["metadata"]
        meta["resourceVersion"] = str(revision)
        meta.pop("selfLink", None)
        if self.tiered:
            annotations = meta.get("annotations") or {}
            annotations.pop(POLICY_METADATA, None)
            if not annotations:
                meta.pop("annotations", None)
            labels = meta.setdefault("labels", {})
            labels.setdefault(TIER_LABEL, (obj.get("spec") or {}).get("tier") or DEFAULT_TIER)
        return obj
