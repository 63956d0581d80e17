"""What a RemoteClusterConfiguration says, read into a ``PeerSpec``; and the RCC's admission
step for what its schema cannot say.

The RCC's name is the peer's cluster name and the prefix of every copy's name
(``<peer>.<name>``), so it must be a DNS label without dots: with a dot, peer ``b``'s object
``x.y`` and peer ``b.x``'s object ``y`` would both be ``b.x.y``. The same checks are applied
again when an RCC is read (one stored before a rule existed makes its peer fail, saying why).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from calicomodel.catalog import GROUP, Kind
from calicomodel.errors import Cause, Invalid
from calicomodel.formats import DNS_LABEL, IPNetwork, parse_cidr, parse_duration, shown
from calicomodel.selectors import SelectorError, parse

from ..resources.store import Actor, Admission, Validating
from .copies import endpoint_infix
from .peer import PeerConfig

RCC = "RemoteClusterConfiguration"
MAX_OBJECTS = 10_000              # copies of one peer, all kinds together (syncOptions.maxObjects)
MAX_BYTES = 64 * 1024 * 1024      # their size (syncOptions.maxBytes; see copies.copy_bytes)


@dataclass(frozen=True)
class PeerSpec:
    """Everything a RemoteClusterConfiguration says about one peer; ``error`` is set (and
    nothing runs) when the spec cannot be used."""

    config: PeerConfig
    kinds: tuple[str, ...]
    selector: str = ""
    namespaces: frozenset[str] = frozenset()
    stale_ttl: float = 0.0
    max_objects: int = MAX_OBJECTS
    max_bytes: int = MAX_BYTES
    allowed_nets: tuple[IPNetwork, ...] = ()     # empty: every net is allowed
    error: str = ""


def go_duration(text: str) -> float:
    """Seconds in a Go duration (``90s``, ``1h30m``, ``0``). Raises ValueError."""
    nanos = parse_duration(text.strip() or "0")
    if nanos is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m or 1h")
    return nanos / 1e9


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a peer, or None."""
    if not isinstance(name, str) or not (len(name) <= 63 and DNS_LABEL.fullmatch(name)):
        return (f"invalid peer name {shown(name)}: it must be a DNS label (at most 63 "
                "lower-case alphanumerics and '-', no '.'), because copies are named "
                "<peer>.<name> and carry it as the value of the cluster label")
    return None


def net_problems(nets: object) -> list[Cause]:
    """One cause per entry of ``syncOptions.allowedNets`` that is not a CIDR."""
    return [Cause(f"spec.syncOptions.allowedNets[{i}]", f"invalid CIDR {shown(net)}")
            for i, net in enumerate(nets if isinstance(nets, list) else ())
            if parse_cidr(net) is None]


def peer_spec(obj: dict, local_cluster: str, mirrored: Sequence[Kind]) -> PeerSpec:
    """Read an RCC object (already validated by the store) into a PeerSpec; ``mirrored``:
    the kinds federation can mirror, in order (endpoints only when asked for)."""
    name, spec = obj["metadata"]["name"], obj.get("spec") or {}
    opts = spec.get("syncOptions") or {}
    config = PeerConfig(name, spec.get("apiServer", ""), token_file=spec.get("tokenFile"),
                        cert_file=spec.get("certFile"), key_file=spec.get("keyFile"),
                        ca_file=spec.get("caFile"),
                        insecure_skip_tls_verify=bool(spec.get("insecureSkipTLSVerify")))
    asked = opts.get("kinds") or [k.kind for k in mirrored if not endpoint_infix(k)]
    kinds = tuple(k.kind for k in mirrored if k.kind in asked)
    base = PeerSpec(config, kinds, opts.get("selector") or "",
                    frozenset(opts.get("namespaces") or ()),
                    max_objects=opts.get("maxObjects", MAX_OBJECTS),
                    max_bytes=opts.get("maxBytes", MAX_BYTES))
    if name == local_cluster:
        return _error(base, f"the peer {name!r} is this cluster itself (--cluster-name)")
    problem = name_problem(name) or "; ".join(
        f"{c.field}: {c.message}" for c in net_problems(_allowed_nets(obj)))
    if problem:
        return _error(base, problem)
    try:
        parse(base.selector)
    except SelectorError as err:
        return _error(base, f"syncOptions.selector: {err}")
    try:
        ttl = go_duration(opts.get("staleTTL") or "0")
    except ValueError as err:
        return _error(base, f"syncOptions.staleTTL: {err}")
    nets = tuple(parse_cidr(n).network  # type: ignore[union-attr]
                 for n in opts.get("allowedNets") or ())
    return PeerSpec(config, kinds, base.selector, base.namespaces, ttl, base.max_objects,
                    base.max_bytes, nets)


def _allowed_nets(obj: dict) -> object:
    return ((obj.get("spec") or {}).get("syncOptions") or {}).get("allowedNets")


def _error(spec: PeerSpec, error: str) -> PeerSpec:
    return PeerSpec(spec.config, spec.kinds, error=error)


def admission() -> Admission:
    """The RCC's validating admission step: its name is a DNS label (no dots) and every
    ``syncOptions.allowedNets`` entry a CIDR; every problem is refused at once (422)."""
    def admit(kind: Kind, new: dict | None, old: dict | None, actor: Actor) -> None:
        if kind.kind != RCC or new is None:
            return
        name = new["metadata"].get("name")
        nets = _allowed_nets(new)
        # only what is new: an RCC stored before a rule keeps a writable status (which says
        # why its peer does not run); a name never changes
        why = name_problem(name) if old is None else None
        causes = [Cause("metadata.name", why)] if why else []
        if old is None or nets != _allowed_nets(old):
            causes += net_problems(nets)
        if causes:
            raise Invalid(f"{kind.kind}.{GROUP} \"{name}\" is invalid: " + "; ".join(
                f"{c.field}: {c.message}" for c in causes), kind=kind.kind, name=name,
                causes=causes)
    return Validating(admit)


__all__ = ["MAX_BYTES", "MAX_OBJECTS", "PeerSpec", "admission", "go_duration", "peer_spec"]
