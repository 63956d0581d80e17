"""``node status``: calicoctl's screen (is calico-node running, then a BGP peer table per IP
family) for any node, read from the CalicoNodeStatus that calico-node fills in, since ctl runs
anywhere rather than next to the node's BIRD sockets. Without a status calico-node keeps
fresh it says so and prints the manifest that asks calico-node to report, never a table it
would have to invent."""
from __future__ import annotations

import socket
from datetime import datetime, timezone

from .. import inputs, output
from ..session import Session, err, out

# calicoctl's display names of the peer types calico-node reports (node/pkg/status/populators).
PEER_TYPES = {"NodeMesh": "node-to-node mesh", "NodePeer": "node specific",
              "GlobalPeer": "global"}
HEADER = ("Peer address", "Peer type", "State", "Since", "Info")
# calico-node refreshes the status every updatePeriodSeconds; three missed refreshes: stale.
STALE_AFTER_PERIODS = 3
REPORT_PERIOD = 10


def run(session: Session) -> int:
    node = session.args.get("--node") or socket.gethostname().strip().lower()
    kind = inputs.kind_named(session, "caliconodestatus")
    reports = [o for o in session.client.list(kind, None).get("items") or []
               if (o.get("spec") or {}).get("node") == node]
    if not reports:
        return _ask(node, node, f'no CalicoNodeStatus asks calico-node on node "{node}" to '
                                "report its status")
    status = max(reports, key=_freshness)
    name = status["metadata"]["name"]
    problem = _staleness(status, datetime.now(timezone.utc))
    if problem:
        return _ask(node, name, f'CalicoNodeStatus "{name}" of node "{node}" {problem}')
    out(screen(status.get("status") or {}))
    out(f"(reported by calico-node on {node} at {status['status']['lastUpdated']}, "
        f"CalicoNodeStatus {name})\n")
    return 0


def screen(status: dict) -> str:
    """calicoctl's output for a node whose calico-node reported ``status``."""
    agent, bgp = status.get("agent") or {}, status.get("bgp") or {}
    daemons = {v: (agent.get(f"birdV{v}") or {}).get("state") for v in ("4", "6")}
    text = "Calico process is running.\n"
    if agent and "Ready" not in daemons.values():
        return text + "\nNone of the BGP backend processes (BIRD or GoBGP) are running.\n\n"
    for version, binary in (("4", "bird"), ("6", "bird6")):
        if agent and daemons[version] != "Ready":
            text += f"\nINFO: BIRDv{version} process: '{binary}' is not running.\n"
            continue
        text += f"\nIPv{version} BGP status\n"
        peers = bgp.get(f"peersV{version}") or []
        if not peers:
            text += f"No IPv{version} peers found.\n"
            continue
        text += output.box_table(HEADER, [
            [p.get("peerIP", ""), PEER_TYPES.get(p.get("type", ""), p.get("type", "")),
             "up" if p.get("state") == "Established" else "start", p.get("since", ""),
             p.get("state", "")] for p in peers])
    return text + "\n"


def _freshness(obj: dict) -> str:
    return str((obj.get("status") or {}).get("lastUpdated") or "")


def _staleness(obj: dict, now: datetime) -> str:
    """Why ``obj`` cannot be shown as the node's current status ("" when it can)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if "BGP" not in (spec.get("classes") or []):
        return "does not ask for BGP status (spec.classes)"
    period = int(spec.get("updatePeriodSeconds") or 0)
    if not period:
        return "asks calico-node for no updates (spec.updatePeriodSeconds is 0)"
    if not status.get("lastUpdated"):
        return "has not been updated by calico-node yet"
    updated = datetime.fromisoformat(str(status["lastUpdated"]).replace("Z", "+00:00"))
    age = int((now - updated).total_seconds())
    if age > STALE_AFTER_PERIODS * period:
        return (f"is stale: calico-node last updated it at {status['lastUpdated']}, {age}s "
                f"ago, more than {STALE_AFTER_PERIODS} times its updatePeriodSeconds "
                f"({period}s)")
    return ""


def _ask(node: str, name: str, why: str) -> int:
    """Say why there is no status to show, and print the manifest that asks for one."""
    err(f"{why}.\nTo have calico-node on {node} report every {REPORT_PERIOD}s, apply the "
        f"manifest below (ctl node status --node {node} | ctl apply -f -), then run this "
        "command again.\n")
    out(output.to_yaml(output.go_order({
        "apiVersion": "projectcalico.org/v3", "kind": "CalicoNodeStatus",
        "metadata": {"name": name},
        "spec": {"classes": ["Agent", "BGP"], "node": node,
                 "updatePeriodSeconds": REPORT_PERIOD}})))
    return 1
