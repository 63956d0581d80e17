"""IPAM's kinds in libcalico-go's own etcd layout, so what calico-node and the CNI plugin
write is what the API serves (``libcalico-go/lib/backend/model/{block,block_affinity,
ipam_handle,ipam_config}.go``):

==================  =====================================================  ==============
kind                key                                                    v3 name
==================  =====================================================  ==============
IPAMBlock           /calico/ipam/v2/assignment/ipv<4|6>/block/<net>-<len>  10-0-0-0-26
BlockAffinity       /calico/ipam/v2/<host|virtual>/<node>/ipv<v>/block/…   node1-10-0-0-0-26
IPAMHandle          /calico/ipam/v2/handle/<handle id>                     the id, lower-cased
IPAMConfiguration   /calico/ipam/v2/config                                 default
==================  =====================================================  ==============

Values are libcalico-go's model structs as Go's ``encoding/json`` writes them (its field
names: ``affinity_claim_time``, ``strict_affinity``, ``maxBlocksPerHost``…; map keys sorted);
the v3 spec is what libcalico-go's Kubernetes backend converts them to (``k8s/resources/
ipam_*.go``), names by ``names.CIDRToName``. These values hold no metadata, so reads derive
it: ``uid`` is a hash of the key and its create revision (stable across servers and restarts,
new when a key is deleted and written again), ``creationTimestamp`` is absent (etcd does not
know it), and labels, annotations and managed fields are not stored (the layouts are lossy).
Model fields v3 has no place for (a block's deprecated ``hostAffinity``) are not read.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import uuid
from typing import Any

from .layout import IPAM_ROOT
from .builtins import API_VERSION
from .stored import dumps

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

BLOCKS = IPAM_ROOT + "assignment/"
HANDLES = IPAM_ROOT + "handle/"
CONFIG_KEY = IPAM_ROOT + "config"
AFFINITY_TYPES = ("host", "virtual")
_BLOCK_KEY = re.compile(re.escape(BLOCKS) + r"ipv[46]/block/([^/]+)")
_AFFINITY_KEY = re.compile(re.escape(IPAM_ROOT) + r"(host|virtual)/([^/]+)/ipv[46]/block/([^/]+)")
_HANDLE_KEY = re.compile(re.escape(HANDLES) + r"([^/]+)")
_UIDS = uuid.uuid5(uuid.NAMESPACE_URL, "https://projectcalico.org/ipam/v2")
_MAX_NAME = 253


def network(text: Any) -> Network:
    """The (masked) network of a CIDR text. Raises ValueError."""
    if not isinstance(text, str):
        raise ValueError(f"not a CIDR: {text!r}")
    return ipaddress.ip_network(text, strict=False)


def cidr_name(net: Network) -> str:
    """libcalico-go's ``names.CIDRToName``: ``10.0.0.0/26`` → ``10-0-0-0-26``."""
    return str(net).replace(".", "-").replace(":", "-").replace("/", "-")


def affinity_name(node: str, net: Network) -> str:
    """A BlockAffinity's name (``blockAffinityClientV1.parseKey``): ``<node>-<cidr name>``,
    shortened with a hash when that reaches 253 characters."""
    block = cidr_name(net)
    name = f"{node}-{block}"
    if len(name) < _MAX_NAME:
        return name
    digest = hashlib.sha256(f"{node}+{block}".encode()).hexdigest()[:11]
    return f"{node[:_MAX_NAME - 1 - len(block) - 13]}-{block}-{digest}"


def _segment(net: Network) -> str:
    return f"ipv{net.version}/block/{str(net).replace('/', '-', 1)}"


def _key_network(segment: str) -> Network:
    """The network of a key's last segment (``10.0.0.0-26``), as ``KeyFromDefaultPath``."""
    return network(segment.replace("-", "/", 1))


def _json_object(value: bytes) -> dict:
    obj = json.loads(value)
    if not isinstance(obj, dict):
        raise ValueError("not a libcalico-go IPAM value")
    return obj


def _sorted(mapping: Any) -> Any:
    """A map as Go writes it (keys sorted)."""
    return dict(sorted(mapping.items())) if isinstance(mapping, dict) else mapping


def _attribute(attr: dict) -> dict:
    """An allocation's attributes, in Go's field order without empty fields (the model and
    the v3 type share their json names)."""
    out = {"handle_id": attr.get("handle_id"), "secondary": _sorted(attr.get("secondary")),
           "alternateOwnerAttrs": _sorted(attr.get("alternateOwnerAttrs")),
           "releasedAt": attr.get("releasedAt")}
    return {k: v for k, v in out.items() if v not in (None, {}, "")}


class _IpamLayout:
    """What the four layouts share: lossy values, one prefix each or so, cluster scope."""

    kind = ""
    lossless = False
    _prefixes: tuple[str, ...] = ()

    def prefixes(self, namespace: str | None = None) -> tuple[str, ...]:
        return self._prefixes

    def _object(self, key: str, name: str, spec: dict, revision: int,
                create_revision: int) -> dict:
        uid = uuid.uuid5(_UIDS, f"{key}\n{create_revision}")
        return {"kind": self.kind, "apiVersion": API_VERSION,
                "metadata": {"name": name, "uid": str(uid), "resourceVersion": str(revision)},
                "spec": spec}


class BlockLayout(_IpamLayout):
    """``model.AllocationBlock`` ↔ ``IPAMBlock`` (``ipamBlockClient.IPAMBlockV1toV3``)."""

    kind = "IPAMBlock"
    _prefixes = (BLOCKS,)

    def key(self, obj: dict) -> str:
        return BLOCKS + _segment(network((obj.get("spec") or {}).get("cidr")))

    def parse(self, key: str) -> tuple[str | None, str] | None:
        match = _BLOCK_KEY.fullmatch(key)
        try:
            return (None, cidr_name(_key_network(match[1]))) if match else None
        except ValueError:
            return None

    def encode(self, obj: dict) -> bytes:
        spec = obj.get("spec") or {}
        model: dict[str, Any] = {"cidr": str(network(spec.get("cidr"))),
                                 "affinity": spec.get("affinity")}
        if spec.get("affinityClaimTime"):
            model["affinity_claim_time"] = spec["affinityClaimTime"]
        model.update(allocations=spec.get("allocations") or [],
                     unallocated=spec.get("unallocated") or [],
                     attributes=[_attribute(a) for a in spec.get("attributes") or []],
                     sequenceNumber=spec.get("sequenceNumber") or 0,
                     sequenceNumberForAllocation=_sorted(spec.get("sequenceNumberForAllocation")),
                     deleted=bool(spec.get("deleted")))
        return dumps(model)

    def decode(self, key: str, value: bytes, revision: int, create_revision: int) -> dict:
        parsed, model = self.parse(key), _json_object(value)
        if parsed is None:
            raise ValueError(f"not a block key: {key}")
        spec: dict[str, Any] = {"cidr": str(network(model.get("cidr")))}
        if model.get("affinity") is not None:
            spec["affinity"] = model["affinity"]
        if model.get("affinity_claim_time"):
            spec["affinityClaimTime"] = model["affinity_claim_time"]
        spec.update(allocations=model.get("allocations") or [],
                    unallocated=model.get("unallocated") or [],
                    attributes=[_attribute(a) for a in model.get("attributes") or []
                                if isinstance(a, dict)],
                    sequenceNumber=model.get("sequenceNumber") or 0)
        if model.get("sequenceNumberForAllocation"):
            spec["sequenceNumberForAllocation"] = model["sequenceNumberForAllocation"]
        spec.update(deleted=bool(model.get("deleted")), strictAffinity=False)
        return self._object(key, parsed[1], spec, revision, create_revision)


class AffinityLayout(_IpamLayout):
    """``model.BlockAffinity`` (``{"state", "deleted"}``; node, type and CIDR are in the key)
    ↔ ``BlockAffinity`` (``blockAffinityClientV1.toCRD``)."""

    kind = "BlockAffinity"
    _prefixes = tuple(f"{IPAM_ROOT}{t}/" for t in AFFINITY_TYPES)

    def key(self, obj: dict) -> str:
        spec = obj.get("spec") or {}
        kind, node = spec.get("type") or "host", spec.get("node")
        if kind not in AFFINITY_TYPES or not isinstance(node, str) or not node or "/" in node:
            raise ValueError(f"an affinity needs a node and a type in {AFFINITY_TYPES}")
        return f"{IPAM_ROOT}{kind}/{node}/{_segment(network(spec.get('cidr')))}"

    def parse(self, key: str) -> tuple[str | None, str] | None:
        match = _AFFINITY_KEY.fullmatch(key)
        try:
            return (None, affinity_name(match[2], _key_network(match[3]))) if match else None
        except ValueError:
            return None

    def encode(self, obj: dict) -> bytes:
        spec = obj.get("spec") or {}
        return dumps({"state": spec.get("state") or "", "deleted": bool(spec.get("deleted"))})

    def decode(self, key: str, value: bytes, revision: int, create_revision: int) -> dict:
        match = _AFFINITY_KEY.fullmatch(key)
        if match is None:
            raise ValueError(f"not a block affinity key: {key}")
        net = _key_network(match[3])
        model = _json_object(value or b"{}")   # affinities were once stored without a value
        spec = {"state": model.get("state") or "", "node": match[2], "type": match[1],
                "cidr": str(net), "deleted": bool(model.get("deleted"))}
        return self._object(key, affinity_name(match[2], net), spec, revision, create_revision)


class HandleLayout(_IpamLayout):
    """``model.IPAMHandle`` (``{"block", "deleted"}``; the id is the key) ↔ ``IPAMHandle``,
    named by its id lower-cased (``ipamHandleClient.parseKey``)."""

    kind = "IPAMHandle"
    _prefixes = (HANDLES,)

    def key(self, obj: dict) -> str:
        handle = (obj.get("spec") or {}).get("handleID")
        if not isinstance(handle, str) or not handle or "/" in handle:
            raise ValueError("spec.handleID must be a handle id without '/'")
        return HANDLES + handle

    def parse(self, key: str) -> tuple[str | None, str] | None:
        match = _HANDLE_KEY.fullmatch(key)
        return (None, match[1].lower()) if match else None

    def encode(self, obj: dict) -> bytes:
        spec = obj.get("spec") or {}
        return dumps({"block": _sorted(spec.get("block") or {}),
                      "deleted": bool(spec.get("deleted"))})

    def decode(self, key: str, value: bytes, revision: int, create_revision: int) -> dict:
        match, model = _HANDLE_KEY.fullmatch(key), _json_object(value)
        if match is None:
            raise ValueError(f"not a handle key: {key}")
        spec = {"handleID": match[1], "block": model.get("block") or {},
                "deleted": bool(model.get("deleted"))}
        return self._object(key, match[1].lower(), spec, revision, create_revision)


# v3 spec field ↔ model.IPAMConfig json name, in the model's field order.
_CONFIG_FIELDS = (("strictAffinity", "strict_affinity"),
                  ("autoAllocateBlocks", "auto_allocate_blocks"),
                  ("maxBlocksPerHost", "maxBlocksPerHost"),
                  ("kubeVirtVMAddressPersistence", "kubeVirtVMAddressPersistence"),
                  ("ipCooldownSeconds", "ipCooldownSeconds"))
_CONFIG_SPEC_ORDER = ("strictAffinity", "maxBlocksPerHost", "autoAllocateBlocks",
                      "kubeVirtVMAddressPersistence", "ipCooldownSeconds")
_OMITTED_WHEN_EMPTY = ("maxBlocksPerHost", "kubeVirtVMAddressPersistence", "ipCooldownSeconds")


class ConfigLayout(_IpamLayout):
    """``model.IPAMConfig`` (every field ``omitempty``) ↔ IPAMConfiguration ``default``."""

    kind = "IPAMConfiguration"
    _prefixes = (CONFIG_KEY,)

    def key(self, obj: dict) -> str:
        return CONFIG_KEY

    def parse(self, key: str) -> tuple[str | None, str] | None:
        return (None, "default") if key == CONFIG_KEY else None

    def encode(self, obj: dict) -> bytes:
        spec = obj.get("spec") or {}
        return dumps({model: spec[field] for field, model in _CONFIG_FIELDS
                      if spec.get(field) not in (None, False, 0, "")})

    def decode(self, key: str, value: bytes, revision: int, create_revision: int) -> dict:
        if key != CONFIG_KEY:
            raise ValueError(f"not the IPAM config key: {key}")
        model = _json_object(value)
        values = {field: model.get(name) for field, name in _CONFIG_FIELDS}
        spec = {field: values[field] if field in _OMITTED_WHEN_EMPTY else bool(values[field])
                for field in _CONFIG_SPEC_ORDER
                if field not in _OMITTED_WHEN_EMPTY or values[field] not in (None, 0, "")}
        return self._object(key, "default", spec, revision, create_revision)


BLOCK, AFFINITY, HANDLE, CONFIG = BlockLayout(), AffinityLayout(), HandleLayout(), ConfigLayout()
