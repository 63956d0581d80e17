"""``version``: this client's version always; the cluster's when the server answers."""
from __future__ import annotations

from importlib import metadata

from ..client import CtlError
from ..session import CLIENT_VERSION, Session, err, out


def run(session: Session) -> int:
    try:
        package = metadata.version("calico-apiserver")
    except metadata.PackageNotFoundError:
        package = "unknown"
    out(f"Client Version:    {CLIENT_VERSION}\nctl package:       {package}\n")
    try:
        server = session.client.version()
        info = session.kind("clusterinformation")
        spec = session.client.get(info, "default", None).get("spec", {}) if info else {}
    except CtlError as exc:
        err(f"{exc}\n")
        return 1
    out(f"Cluster Version:   {spec.get('calicoVersion') or server.get('calicoVersion', '')}\n"
        f"Cluster Type:      {spec.get('clusterType', '')}\n"
        f"API Server:        {server.get('gitVersion', '')} ({server.get('platform', '')}, "
        f"cluster {server.get('clusterName', '')})\n")
    return 0
