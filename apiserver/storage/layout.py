"""libcalico-go's etcdv3 key layout (``libcalico-go/lib/backend/model/resource.go``)."""
from __future__ import annotations

ROOT = "/calico/resources/v3/projectcalico.org/"


def object_key(plural: str, name: str, namespace: str | None = None) -> str:
    """``/calico/resources/v3/projectcalico.org/<plural>[/<namespace>]/<name>``."""
    if namespace:
        return f"{ROOT}{plural}/{namespace}/{name}"
    return f"{ROOT}{plural}/{name}"


def collection_prefix(plural: str, namespace: str | None = None) -> str:
    """The range prefix of a collection, with a trailing ``/`` so ``ns1`` never matches ``ns10``."""
    if namespace:
        return f"{ROOT}{plural}/{namespace}/"
    return f"{ROOT}{plural}/"


def parse_key(key: str) -> tuple[str, str | None, str] | None:
    """``(plural, namespace or None, name)`` of a resource key, or None for foreign keys."""
    if not key.startswith(ROOT):
        return None
    parts = key[len(ROOT):].split("/")
    if len(parts) == 2 and all(parts):
        return parts[0], None, parts[1]
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    return None
