"""``ipam``: calicoctl's IP address management commands (``calicoctl/commands/ipam``), on the
IPAM objects the apiserver serves from libcalico-go's own etcd layout (IPAMBlock,
BlockAffinity, IPAMHandle, IPAMConfiguration): ``show`` (pool and block use, borrowed
addresses, one address, the configuration), ``check`` (leaked addresses and handles, and
calicoctl's JSON report), ``release`` (one address, or what reports found leaked: the
apiserver's IPAM release action edits the block with a compare-and-swap, as libcalico-go
does) and ``configure``. Output and messages are calicoctl's."""
from __future__ import annotations

import ipaddress
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator

from .. import inputs, output
from ..client import GROUP_PATH, AlreadyExists, ApiError, Conflict, NotFound
from ..session import CLIENT_VERSION, CommandError, Session, out

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
V3 = "projectcalico.org/v3"
# The kinds IPAM keeps in libcalico-go's own layout: a migration carries them in calicoctl's
# IPAM section, not as resources.
IPAM_KINDS = ("BlockAffinity", "IPAMBlock", "IPAMConfiguration", "IPAMHandle")
MIGRATION = f"{GROUP_PATH}/ipam/migration"
# What libcalico-go's GetIPAMConfig creates when there is no IPAM configuration.
DEFAULT_CONFIG = {"strictAffinity": False, "autoAllocateBlocks": True, "maxBlocksPerHost": 0,
                  "kubeVirtVMAddressPersistence": "Enabled"}
DEFAULT_BLOCK_SIZE = {4: 26, 6: 122}
USAGE_HEADER = ("GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS FREE")
BORROWED_HEADER = ("IP", "BORROWING-NODE", "BLOCK", "BLOCK OWNER", "TYPE", "ALLOCATED-TO")
WINDOWS_RESERVED_HANDLE = "windows-reserved-ipam-handle"
TOP_NODES = 20
CONFIGURE_RETRIES = 5


def run(session: Session) -> int:
    args = session.args
    step = next(s for s in ("show", "check", "release", "configure") if args.flag(s))
    session.check_version()
    return {"show": _show, "check": _check, "release": _release, "configure": _configure}[
        step](session)


# -- the data ----------------------------------------------------------------------------------
def _items(session: Session, kind: str) -> list[dict]:
    return session.client.list(inputs.kind_named(session, kind), None).get("items") or []


@dataclass(frozen=True)
class Block:
    """An IPAMBlock's spec, read as libcalico-go's ``AllocationBlock``."""

    net: Network
    spec: dict

    @classmethod
    def of(cls, obj: dict) -> "Block":
        spec = obj.get("spec") or {}
        return cls(ipaddress.ip_network(spec.get("cidr"), strict=False), spec)

    @property
    def capacity(self) -> int:
        return self.net.num_addresses

    @property
    def in_use(self) -> int:
        return self.capacity - len(self.spec.get("unallocated") or [])

    @property
    def affinity(self) -> str | None:
        return self.spec.get("affinity")

    def allocations(self) -> Iterator[tuple[int, Address, dict | None]]:
        """(ordinal, address, attributes or None when they are missing) of each allocation."""
        attributes = self.spec.get("attributes") or []
        for ordinal, index in enumerate(self.spec.get("allocations") or []):
            if index is not None:
                yield ordinal, self.net[ordinal], \
                    attributes[index] if 0 <= index < len(attributes) else None


def _address(text: str) -> Address:
    """``argutils.ValidateIP``: its message on stdout, exit 1, for anything but an IP."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise CommandError(f"Error executing command: invalid IP address specified: {text}",
                           to_stdout=True) from None


def _pools(session: Session) -> list[tuple[Network, dict]]:
    return [(ipaddress.ip_network((p.get("spec") or {}).get("cidr"), strict=False), p)
            for p in _items(session, "ippool")]


def _config(session: Session) -> tuple[dict | None, dict]:
    """The IPAMConfiguration ``default`` (None when there is none) and the configuration in
    effect (libcalico-go's defaults when there is none)."""
    kind = inputs.kind_named(session, "ipamconfiguration")
    try:
        current = session.client.get(kind, "default", None)
    except NotFound:
        return None, dict(DEFAULT_CONFIG)
    return current, dict(current.get("spec") or {})


# -- show ----------------------------------------------------------------------------------------
def _show(session: Session) -> int:
    args = session.args
    if args.get("--ip"):
        _show_ip(session, _address(args.get("--ip")))
    elif args.flag("--show-borrowed"):
        _show_borrowed(session)
    elif args.flag("--show-configuration"):
        _show_configuration(session)
    else:
        _show_usage(session, blocks=args.flag("--show-blocks"))
    return 0


def _usage_row(grouping: str, cidr: str, in_use: int, capacity: int) -> list[str]:
    """A row as calicoctl formats it (``%.5g``, percentages rounded to even)."""
    def share(n: float) -> str:
        return f"{n:.5g} ({100 * n / capacity:.0f}%)"
    return [grouping, cidr, f"{float(capacity):.5g}", share(float(in_use)),
            share(float(capacity - in_use))]


def _show_usage(session: Session, *, blocks: bool) -> None:
    """``showBlockUtilization``: each pool (in name order) with the blocks that overlap it
    first, then blocks of no pool (IPv4 only, as libcalico-go's ``0.0.0.0/0`` grouping)."""
    groups: list[tuple[Network, list[Block]]] = [(net, []) for net, _ in _pools(session)]
    groups.append((ipaddress.ip_network("0.0.0.0/0"), []))
    for block in (Block.of(b) for b in _items(session, "ipamblock")):
        for net, members in groups:
            if net.version == block.net.version and net.overlaps(block.net):
                members.append(block)
                break
    rows = []
    for net, members in groups:
        if net.prefixlen:
            rows.append(_usage_row("IP Pool", str(net), sum(b.in_use for b in members),
                                   net.num_addresses))
        if blocks:
            rows += [_usage_row("Block", str(b.net), b.in_use, b.capacity) for b in members]
    out(output.box_table(USAGE_HEADER, rows))


def _show_borrowed(session: Session) -> None:
    """``showBorrowedDetails``: allocations whose node is not their block's."""
    rows, unclassified = [], 0
    for block in (Block.of(b) for b in _items(session, "ipamblock")):
        parts = (block.affinity or "").split(":")
        owner = parts[1] if len(parts) == 2 else parts[0]
        for _, address, attrs in block.allocations():
            owner_attrs = (attrs or {}).get("secondary") or {}
            if "node" not in owner_attrs:
                unclassified += 1
                continue
            if owner_attrs["node"] == owner:
                continue
            namespace = owner_attrs.get("namespace", "")
            if "vmi-name" in owner_attrs:
                kind, to = "vmi", f"{namespace}/{owner_attrs['vmi-name']}"
            elif "pod" in owner_attrs:
                kind, to = "pod", f"{namespace}/{owner_attrs['pod']}"
            else:
                kind, to = owner_attrs.get("type", ""), ""
            rows.append([str(address), owner_attrs["node"], str(block.net), owner, kind, to])
    out(output.box_table(BORROWED_HEADER, rows))
    if unclassified:
        out(f"\nNote: found {unclassified} IP allocations without an explicit node "
            "association. Unable to determine if they are borrowed.\n")


def _show_ip(session: Session, address: Address) -> None:
    """``showIP``."""
    attrs = _allocation(session, address)
    if attrs is None:
        out(f"{address} is not assigned\n")
        return
    handle = attrs.get("handle_id")
    text = f"IP {address} is in use\nHandle ID: " + (
        "<none>\n" if handle is None else handle.split("\r")[0] + "\n")
    text += _owner_attrs("Active Owner Attributes", attrs.get("secondary")) or \
        "No Active Owner attributes defined\n"
    out(text + _owner_attrs("Alternate Owner Attributes", attrs.get("alternateOwnerAttrs")))


def _allocation(session: Session, address: Address) -> dict | None:
    """``GetAssignmentAttributes``: the attributes of the address's allocation in the block
    its pool puts it in (``{}`` when they are missing); None when it is not allocated."""
    pool = next((p for net, p in _pools(session) if address in net), None)
    if pool is None:
        return None
    size = (pool.get("spec") or {}).get("blockSize") or DEFAULT_BLOCK_SIZE[address.version]
    cidr = ipaddress.ip_network(f"{address}/{size}", strict=False)
    for block in map(Block.of, _items(session, "ipamblock")):
        if block.net == cidr:
            return next((a or {} for _, ip, a in block.allocations() if ip == address), None)
    return None


def _owner_attrs(title: str, attrs: dict | None) -> str:
    if not attrs:
        return ""
    return f"{title}:\n" + "".join(f"  {k}: {attrs[k]}\n" for k in sorted(attrs))


def _show_configuration(session: Session) -> None:
    """``showConfiguration``: libcalico-go's ``ipam.IPAMConfig`` fields with Go's ``%#v``
    (a set KubeVirtVMAddressPersistence is shown as the value its pointer holds)."""
    _, config = _config(session)
    persistence = config.get("kubeVirtVMAddressPersistence")
    out(output.box_table(("PROPERTY", "VALUE"), [
        ["StrictAffinity", _go_bool(config.get("strictAffinity"))],
        ["AutoAllocateBlocks", _go_bool(config.get("autoAllocateBlocks"))],
        ["MaxBlocksPerHost", str(config.get("maxBlocksPerHost") or 0)],
        ["KubeVirtVMAddressPersistence", json.dumps(persistence) if persistence
         else "(*ipam.VMAddressPersistence)(nil)"]]))


def _go_bool(value: Any) -> str:
    return "true" if value is True else "false"


# -- check ---------------------------------------------------------------------------------------
@dataclass
class Allocation:
    """calicoctl's report ``Allocation``: an allocated address and what uses it."""

    ip: str
    attrs: dict | None
    handle: str = ""
    sequence: int = 0
    pod: str = ""
    namespace: str = ""
    node: str = ""
    type: str = ""
    created: str = ""
    in_use: bool = False
    borrowed: bool = False
    owners: list[str] = field(default_factory=list)

    def report(self) -> dict:
        """Its JSON in the report (Go's field order and ``omitempty``)."""
        out_: dict[str, Any] = {"ip": self.ip}
        if self.handle:
            out_["handle"] = self.handle
        out_["sequenceNumber"] = self.sequence
        for key, value in (("pod", self.pod), ("namespace", self.namespace),
                           ("node", self.node), ("type", self.type),
                           ("creationTimestamp", self.created)):
            if value:
                out_[key] = value
        out_["inUse"] = self.in_use
        if self.borrowed:
            out_["borrowed"] = True
        out_["owners"] = self.owners or None
        return out_

    def attr_text(self) -> str:
        """``formatAttrs``: ``Main:<handle> Extra:k=v,…`` (``<missing>`` without attributes)."""
        if self.attrs is None:
            return "<missing>"
        text = f"Main:{self.attrs.get('handle_id') or '<none>'} " \
               f"Extra:{_pairs(self.attrs.get('secondary'))}"
        alternate = self.attrs.get("alternateOwnerAttrs")
        return text + (f" Alternate:{_pairs(alternate)}" if alternate else "")


def _pairs(attrs: dict | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((attrs or {}).items()))


class Checker:
    """``IPAMChecker``: allocations in blocks against the addresses nodes and workloads use,
    and handles against the allocations that name them. Printing follows calicoctl's; its
    Go-map orders are made stable (addresses and handles sorted). Kubernetes Services are
    not served by the apiserver: their load balancer addresses are not looked at (said when
    the LoadBalancer controller is on)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.show_all = session.args.flag("--show-all-ips")
        self.show_problems = self.show_all or session.args.flag("--show-problem-ips")
        self.allocations: dict[str, list[Allocation]] = defaultdict(list)
        self.by_node: dict[str, list[Allocation]] = defaultdict(list)
        self.in_use: dict[str, list[str]] = defaultdict(list)
        self.used_handles: set[str] = set()
        self.handles: dict[str, dict] = {}
        self.leaked_handles: list[str] = []
        self.problems = 0

    @staticmethod
    def say(text: str = "") -> None:
        out(text + "\n")

    def run(self) -> None:
        self.say("Checking IPAM for inconsistencies...")
        self.say()
        info = self.session.client.get(inputs.kind_named(self.session, "clusterinformation"),
                                       "default", None)
        self._blocks()
        active = self._pools()
        self._nodes()
        self._services()
        self._workloads()
        self.say("Loading all handles")
        self.handles = {h["spec"]["handleID"]: h for h in _items(self.session, "ipamhandle")}
        self._top_nodes()
        self._addresses(active)
        self._handles()
        self.say(f"Check complete; found {self.problems} problems.")
        if self.session.args.get("--output"):
            self._report(info, self.session.args.get("--output"))

    def _blocks(self) -> None:
        self.say("Loading all IPAM blocks...")
        blocks = [Block.of(b) for b in _items(self.session, "ipamblock")]
        self.say(f"Found {len(blocks)} IPAM blocks.")
        allocated = 0
        for block in blocks:
            self.say(f" IPAM block {block.net} affinity={block.affinity or '<none>'}:")
            for ordinal, address, attrs in block.allocations():
                allocated += 1
                self._allocate(block, address, attrs, ordinal)
        self.say(f"IPAM blocks record {allocated} allocations.")
        self.say()

    def _allocate(self, block: Block, address: Address, attrs: dict | None,
                  ordinal: int) -> None:
        """``recordAllocation``."""
        ip = str(address)
        alloc = Allocation(ip, attrs, sequence=int(
            (block.spec.get("sequenceNumberForAllocation") or {}).get(str(ordinal), 0)))
        owner = block.affinity[5:] if (block.affinity or "").startswith("host:") else ""
        node = owner
        if attrs is not None:
            handle = attrs.get("handle_id")
            if handle == WINDOWS_RESERVED_HANDLE:
                self._use(ip, "Reserved for Windows")
            elif handle is not None:
                alloc.handle = handle
                self.used_handles.add(handle)
            owner_attrs = attrs.get("secondary") or {}
            node = owner_attrs.get("node") or node
            alloc.pod = owner_attrs.get("pod", "")
            alloc.namespace = owner_attrs.get("namespace", "")
            alloc.type = owner_attrs.get("type", "")
            alloc.created = owner_attrs.get("timestamp", "")
        alloc.node, alloc.borrowed = node, node != owner
        self.allocations[ip].append(alloc)
        self.by_node[node].append(alloc)
        if self.show_all:
            self.say(f"  {ip} allocated; attrs {alloc.attr_text()}")

    def _use(self, ip: str, owner: str) -> None:
        """``recordInUseIP``."""
        if self.show_all:
            self.say(f"  {ip} belongs to {owner}")
        self.in_use[ip].append(owner)
        for alloc in self.allocations.get(ip, ()):
            alloc.in_use = True
            alloc.owners.append(owner)

    def _pools(self) -> list[Network]:
        self.say("Loading all IPAM pools...")
        active = []
        for net, pool in _pools(self.session):
            if not (pool.get("spec") or {}).get("disabled"):
                self.say(f"  {(pool.get('spec') or {}).get('cidr')}")
                active.append(net)
        self.say(f"Found {len(active)} active IP pools.")
        self.say()
        return active

    def _nodes(self) -> None:
        self.say("Loading all nodes.")
        count = 0
        for node in _items(self.session, "node"):
            for ip in _node_ips(node):
                self._use(ip, f"Node({node['metadata']['name']})")
                count += 1
        self.say(f"Found {count} node tunnel IPs.")
        self.say()

    def _services(self) -> None:
        self.say("Loading all service load balancer IPs.")
        try:
            kcc = self.session.client.get(
                inputs.kind_named(self.session, "kubecontrollersconfiguration"), "default", None)
        except NotFound:
            kcc = {}
        if ((kcc.get("spec") or {}).get("controllers") or {}).get("loadBalancer") is None:
            self.say("No configuration for LoadBalancer kubecontroller found, skipping service "
                     "check")
        else:
            self.say("Kubernetes Services are not served by the apiserver, skipping service "
                     "check (addresses allocated to load balancers count as leaked)")
        self.say()

    def _workloads(self) -> None:
        self.say("Loading all workload endpoints.")
        count = 0
        for wep in _items(self.session, "workloadendpoint"):
            meta = wep["metadata"]
            for network in (wep.get("spec") or {}).get("ipNetworks") or []:
                self._use(_normalised(network), f"Workload({meta.get('namespace')}/{meta['name']})")
                count += 1
        self.say(f"Found {count} workload IPs.")
        self.say(f"Workloads and nodes are using {len(self.in_use)} IPs.")
        self.say()

    def _top_nodes(self) -> None:
        self.say(f"Looking for top (up to {TOP_NODES}) nodes by allocations...")
        nodes = sorted(self.by_node, key=lambda n: (-len(self.by_node[n]), n))
        for node in nodes[:TOP_NODES]:
            self.say(f"  {node} has {len(self.by_node[node])} allocations")
        if nodes:
            self.say(f"Node with most allocations has {len(self.by_node[nodes[0]])}; median "
                     f"is {len(self.by_node[nodes[len(nodes) // 2]])}")
        self.say()

    def _addresses(self, active: list[Network]) -> None:
        self.say("Scanning for IPs that are allocated but not actually in use...")
        leaked = [ip for ip in sorted(self.allocations, key=_ip_order) if ip not in self.in_use]
        for ip in leaked if self.show_problems else ():
            for alloc in self.allocations[ip]:
                self.say(f"  {ip} leaked; attrs {alloc.attr_text()}")
        self.say(f"Found {len(leaked)} IPs that are allocated in IPAM but not actually in use.")
        self.say("Scanning for IPs that are in use by a workload or node but not allocated in "
                 "IPAM...")
        outside, unallocated = [], []
        for ip in sorted(self.in_use, key=_ip_order):
            owners = self.in_use[ip]
            if self.show_problems and len(owners) > 1:
                self.say(f"  {ip} has multiple owners.")
            if ip in self.allocations:
                continue
            pooled = any(ipaddress.ip_address(ip) in net for net in active)
            (unallocated if pooled else outside).append(ip)
            for owner in owners if self.show_problems else ():
                self.say(f"  {ip} in use by {owner} and in active IPAM pool but has no IPAM "
                         "allocation." if pooled else
                         f"  {ip} in use by {owner} is not in any active IP pool.")
        self.problems += len(leaked) + len(outside) + len(unallocated)
        self.say(f"Found {len(outside)} in-use IPs that are not in active IP pools.")
        self.say(f"Found {len(unallocated)} in-use IPs that are in active IP pools but have no "
                 "corresponding IPAM allocation.")
        self.say()

    def _handles(self) -> None:
        self.say("Scanning for IPAM handles with no matching IPs...")
        self.leaked_handles = [h for h in sorted(self.handles) if h not in self.used_handles]
        for handle in self.leaked_handles if self.show_all else ():
            self.say(f"  {handle} doesn't have any active IPs.")
        self.problems += len(self.leaked_handles)
        self.say(f"Found {len(self.leaked_handles)} handles with no matching IPs (and "
                 f"{len(self.handles) - len(self.leaked_handles)} handles with matches).")
        self.say("Scanning for IPs with missing handle...")
        missing = sorted(h for h in self.used_handles if h not in self.handles)
        for handle in missing if self.show_problems else ():
            self.say(f"  {handle} is in use in a block but doesn't exist.")
        self.say(f"Found {len(missing)} handles mentioned in blocks with no matching handle "
                 "resource.")

    def _report(self, info: dict, path: str) -> None:
        """calicoctl's machine-readable ``Report`` (what ``release --from-report`` reads)."""
        spec = info.get("spec") or {}
        report: dict[str, Any] = {
            "version": CLIENT_VERSION, "clusterGUID": spec.get("clusterGUID", ""),
            "datastoreLocked": spec.get("datastoreReady") is False,
            "clusterInformationRevision": info["metadata"].get("resourceVersion", ""),
            "clusterType": spec.get("clusterType", ""),
            "allocations": {ip: [a.report() for a in self.allocations[ip]]
                            for ip in sorted(self.allocations)}}
        if self.leaked_handles:
            report["leakedHandles"] = [
                {"ID": h, "UID": self.handles[h]["metadata"].get("uid"),
                 "Revision": self.handles[h]["metadata"].get("resourceVersion", "")}
                for h in self.leaked_handles]
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(report, indent=2))
        except OSError as exc:
            raise CommandError(f"cannot write the report {path}: {exc.strerror}") from None


def _normalised(address: str) -> str:
    return str(ipaddress.ip_interface(address).ip)


def _node_ips(node: dict) -> list[str]:
    """``getNodeIPs``: the IPv4 VXLAN, WireGuard and IPIP tunnel addresses."""
    spec = node.get("spec") or {}
    found = [spec.get("ipv4VXLANTunnelAddr"), (spec.get("wireguard") or {}).get(
        "interfaceIPv4Address"), (spec.get("bgp") or {}).get("ipv4IPIPTunnelAddr")]
    return [_normalised(a) for a in found if a]


def _check(session: Session) -> int:
    Checker(session).run()
    return 0


def _ip_order(ip: str) -> tuple[int, int]:
    address = ipaddress.ip_address(ip)
    return address.version, int(address)


# -- release -------------------------------------------------------------------------------------
def _release(session: Session) -> int:
    args = session.args
    reports = args.all("--from-report")
    if reports:
        _release_from_reports(session, reports, force=args.flag("--force"))
        out("You may now unlock the data store.\n")
    elif args.get("--ip"):
        address = str(_address(args.get("--ip")))
        result = _post_release(session, [{"address": address}], [])
        if result.get("error"):
            raise CommandError(f"error: {result['error']}")
        if address in (result.get("unallocated") or []):
            raise CommandError(f"IP address {address} is not assigned")
        out(f"Successfully released IP address {address}\n")
    return 0


def _post_release(session: Session, ips: list[dict], handles: list[dict]) -> dict:
    """The apiserver's IPAM release action (``POST …/ipam/release``)."""
    try:
        return session.client.request("POST", f"{GROUP_PATH}/ipam/release",
                                      body={"ips": ips, "handles": handles})
    except ApiError as exc:
        raise CommandError(f"error: {exc.message}") from None


def _release_from_reports(session: Session, files: list[str], *, force: bool) -> None:
    """``releaseFromReports``: only what every report found leaked, from reports of this
    cluster at least one of which is current, on a locked datastore (unless ``force``)."""
    info = session.client.get(inputs.kind_named(session, "clusterinformation"), "default", None)
    spec = info.get("spec") or {}
    reports, current = [], False
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
        except OSError as exc:
            raise CommandError(f"open {path}: {exc.strerror.lower()}") from None
        except ValueError as exc:
            raise CommandError(f"the report {path} is not JSON: {exc}") from None
        if spec.get("clusterGUID") != report.get("clusterGUID"):
            raise CommandError(f"cluster does not match the provided report ({path}): "
                               "mismatched cluster GUID. Refusing to release")
        if report.get("version") != CLIENT_VERSION:
            if not force:
                raise CommandError(f"the provided report ({path}) was produced using a "
                                   f"different version ({report.get('version')}) of calicoctl. "
                                   "Refusing to release")
            out("WARNING: Report was produced using a different version of calicoctl. "
                "Ignoring due to --force option\n")
        current = current or info["metadata"].get("resourceVersion") == report.get(
            "clusterInformationRevision")
        reports.append(report)
    if not current:
        raise CommandError("the provided reports are all stale - at least one should be "
                           "up-to-date. Please generate a new report while the data store is "
                           "locked and try again")
    if spec.get("datastoreReady") is not False:
        if not force:
            raise CommandError("data store is not locked. Either lock the data store, or "
                               "re-run with --force")
        out("WARNING: Data store is not locked. Ignoring due to --force option\n")
    ips, handles = _merged(reports)
    result = _post_release(session, list(ips.values()), list(handles.values()))
    if ips:
        out(f"Releasing {len(ips)} old IPs...\n")
        unallocated = result.get("unallocated") or []
        if result.get("error"):
            out(f"An error occurred while releasing some IPs: {result['error']}.  Problems are "
                "often caused by an out-of-date IPAM report.  Try regenerating the IPAM report "
                "and retry.\n")
        else:
            out(f"Released {len(ips) - len(unallocated)} IPs successfully\n")
        if unallocated:
            out(f"{len(unallocated)} addresses marked as leaked in the report had already been "
                "cleaned up.\n")
    else:
        out("Report didn't contain any leaked IPs to clean up.\n")
    if handles:
        _print_handles(handles, result.get("handles") or {})
    else:
        out("Report didn't contain any handles to clean up.\n")


def _merged(reports: list[dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """``mergeReports``: the addresses not in use in every report, and the leaked handles
    of every report at the same revision."""
    ips: dict[str, dict] | None = None
    handles: dict[str, dict] | None = None
    for report in reports:
        found = {}
        for allocations in (report.get("allocations") or {}).values():
            for a in allocations or []:
                if not a.get("inUse") and (ips is None or a.get("ip") in ips):
                    found[a["ip"]] = {"address": a["ip"], "handle": a.get("handle") or "",
                                      "sequenceNumber": a.get("sequenceNumber")}
        ips = found
        leaked = {h["ID"]: {"id": h["ID"], "revision": h.get("Revision") or "",
                            "uid": h.get("UID") or ""}
                  for h in report.get("leakedHandles") or []}
        handles = leaked if handles is None else {
            k: v for k, v in leaked.items()
            if k in handles and handles[k]["revision"] == v["revision"]}
    return ips or {}, handles or {}


def _print_handles(handles: dict[str, dict], outcome: dict[str, str]) -> None:
    """``releaseHandles``' progress line and totals."""
    out(f"Deleting {len(handles)} handles...\n"
        "Key: '.' = Deleted OK; 'x' = skip, handle missing/changed.\n")
    tally: Counter[str] = Counter()
    for handle in handles:
        result = outcome.get(handle, "skipped")
        if result == "released":
            out(".")
        elif result == "skipped":
            out("x")
        else:
            out(f"\nDeleting handle {handle} failed: {result}.\n")
        tally[result if result in ("released", "skipped") else "error"] += 1
    out(f"\nReleased {tally['released']} handles; {tally['skipped']} skipped; "
        f"{tally['error']} errors.\n")


# -- configure -----------------------------------------------------------------------------------
def _go_parse_bool(text: str) -> bool | None:
    """``strconv.ParseBool``."""
    return {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False,
            "False": False}.get(text)


def _configure(session: Session) -> int:
    """``updateIPAMConfig``: the IPAMConfiguration ``default`` with the given settings (the
    apiserver holds libcalico-go's rules on them)."""
    args = session.args
    strict = args.get("--strictaffinity")
    if strict and _go_parse_bool(strict) is None:
        raise CommandError("invalid value. Use true or false to set strictaffinity")
    blocks = args.get("--max-blocks-per-host")
    if blocks and not (blocks.isascii() and blocks.lstrip("+-").isdigit()):
        raise CommandError("invalid value for maxblockhost. Use a valid number")
    persistence = args.get("--kubevirt-ip-persistence")
    if persistence and persistence not in ("Enabled", "Disabled"):
        raise CommandError("invalid value for --kubevirt-ip-persistence. Use Enabled or "
                           "Disabled")
    if not (strict or blocks or persistence):
        raise CommandError("at least one configuration option must be specified")
    changes = {"strictAffinity": _go_parse_bool(strict) if strict else None,
               "maxBlocksPerHost": int(blocks) if blocks else None,
               "kubeVirtVMAddressPersistence": persistence or None}
    changes = {k: v for k, v in changes.items() if v is not None}
    kind = inputs.kind_named(session, "ipamconfiguration")
    for _ in range(CONFIGURE_RETRIES):
        current, config = _config(session)
        meta = {"name": "default"}
        if current is not None:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        obj = {"apiVersion": V3, "kind": "IPAMConfiguration", "metadata": meta,
               "spec": {**config, **changes}}
        try:
            if current is None:
                session.client.create(kind, obj)
            else:
                session.client.replace(kind, obj)
            break
        except (Conflict, AlreadyExists):
            continue
        except ApiError as exc:
            reason = exc.causes[0].get("message") if exc.causes else exc.message
            raise CommandError(f"error: {reason}") from None
    else:
        raise CommandError("error: the IPAM configuration kept changing; try again")
    if strict:
        out(f"Successfully set StrictAffinity to: {_go_bool(changes['strictAffinity'])}\n")
    if blocks:
        out(f"Successfully set MaxBlocksPerHost to: {changes['maxBlocksPerHost']}\n")
    if persistence:
        out(f"Successfully set KubeVirtVMAddressPersistence to: {persistence}\n")
    return 0


# -- migration (datastore migrate) ---------------------------------------------------------------
def exported(session: Session) -> dict:
    """calicoctl's IPAM migration JSON, from the apiserver (``GET …/ipam/migration``)."""
    return session.client.request("GET", MIGRATION)


def imported(session: Session, data: Any) -> None:
    """Create what a migration's IPAM section holds (``POST …/ipam/migration``), with
    calicoctl's messages. An empty section (a datastore without IPAM data) imports nothing."""
    if not data:
        return
    out("Importing IPAM resources\n")
    result = session.client.request("POST", MIGRATION, body=data)
    created, errors = result.get("created") or 0, result.get("errors") or []
    listed = "[" + " ".join(errors) + "]"
    if not created:
        raise CommandError(f"failed to import any IPAM resources: {listed}")
    if errors:
        out(f"Partial success: applied the first {created} out of {created + len(errors)} "
            "resources:\n")
        raise CommandError(f"hit error(s): {listed}")
    out(f"Successfully applied {created} IPAM resource(s)\n")
