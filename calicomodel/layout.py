"""libcalico-go's etcdv3 key layout: its v3 resources (``libcalico-go/lib/backend/model/
resource.go``) and the root of its IPAM data (``model/block.go`` and siblings; the IPAM keys
themselves are ``ipam.py``'s)."""
from __future__ import annotations

ROOT = "/calico/resources/v3/projectcalico.org/"
IPAM_ROOT = "/calico/ipam/v2/"


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


def key_type(key: str) -> str:
    """A key's bounded type, for metrics: the plural of a resource key or collection prefix
    (``globalnetworksets``), the kind directory of an IPAM key (``/calico/ipam/v2/host``, never
    one per node), else the key's directory (``/calico/federation/v1``)."""
    if key.startswith(ROOT):
        end = key.find("/", len(ROOT))
        return key[len(ROOT):end if end >= 0 else None] or ROOT[:-1]
    if key.startswith(IPAM_ROOT):
        return IPAM_ROOT + key[len(IPAM_ROOT):].split("/", 1)[0]
    return key.rpartition("/")[0]
