"""``cluster diags``: a snapshot of what the apiserver knows, in one ``.tar.gz`` in the current
directory, collected and announced as calicoctl's bundle is (its steps numbered ``[n]``, the
archive's path last). calicoctl gathers pod logs and CRDs with kubectl; here every resource
(YAML and a wide table per kind), the server's version, discovery, metrics, verbose readiness
and the federation status of every RemoteClusterConfiguration."""
from __future__ import annotations

import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .. import output
from ..client import GROUP_PATH, CtlError, KindInfo
from ..session import Session, out

Step = tuple[str, str, Callable[[], str]]     # what, file under cluster/, how to get it


def run(session: Session) -> int:
    session.check_version()
    out("==== Begin collecting diagnostics. ====\n")
    with tempfile.TemporaryDirectory() as temp:
        out(f"Created temporary directory: {temp}\n")
        name = "calico-diagnostics-" + datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
        root = Path(temp) / name / "cluster"
        out("Collecting cluster information...\n")
        for number, (what, file, collect) in enumerate(_steps(session), 1):
            out(f"[{number}] {what}\n")
            try:
                text = collect()
            except CtlError as exc:
                out(f"[{number}] Failed to collect {file}: {exc}\n")
                continue
            path = root / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        out("\n==== Producing a diagnostics bundle. ====\n")
        archive = f"{name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(Path(temp) / name, arcname=name)
    out(f"Diagnostic bundle created at ./{archive}\n")
    return 0


def _steps(session: Session) -> list[Step]:
    client = session.client

    def as_json(path: str) -> Callable[[], str]:
        return lambda: output.to_json(client.request("GET", path)) + "\n"

    steps: list[Step] = [
        ("Collect apiserver version", "version.json", as_json("/version")),
        ("Collect API discovery", "discovery/apis.json", as_json("/apis")),
        ("Collect API discovery of projectcalico.org/v3", "discovery/projectcalico.org-v3.json",
         as_json(GROUP_PATH)),
        ("Collect apiserver metrics", "metrics.txt", lambda: client.text("/metrics")),
        ("Collect apiserver readiness (verbose)", "readyz.txt",
         lambda: client.text("/readyz", params={"verbose": "true"}))]
    for kind in client.kinds():
        steps += _resource_steps(session, kind)
    federation = next((k for k in client.kinds() if k.kind == "RemoteClusterConfiguration"),
                      None)
    if federation is not None:
        steps.append(("Collect federation status", "federation-status.yaml",
                      lambda: _federation_status(session, federation)))
    return steps


def _resource_steps(session: Session, kind: KindInfo) -> list[Step]:
    """A kind's objects as ``get -A -o yaml`` and ``-o wide`` print them (one request)."""
    listed: dict[str, dict] = {}

    def table() -> dict:
        if "table" not in listed:
            found = session.client.list(kind, None, table=True)
            listed["table"] = output.with_namespace_column(found) if kind.namespaced else found
        return listed["table"]

    def as_yaml() -> str:
        items = [row.get("object") or {} for row in table().get("rows") or []]
        version = str((table().get("metadata") or {}).get("resourceVersion") or "")
        return output.render_objects([output.as_list(kind.kind, "projectcalico.org/v3", items,
                                                     version)], output.Format("yaml"))

    def as_text() -> str:
        return output.render_table(table(), output.Format("wide"),
                                   with_namespace=kind.namespaced)

    resource = f"{kind.plural}.v3.projectcalico.org"
    return [(f"Collect Calico {resource} (yaml)", f"crd/{kind.plural}.projectcalico.org.yaml",
             as_yaml),
            (f"Collect Calico {resource} (wide text)",
             f"crd/{kind.plural}.projectcalico.org.txt", as_text)]


def _federation_status(session: Session, kind: KindInfo) -> str:
    """Each RemoteClusterConfiguration's name with the status the server keeps of it."""
    items = session.client.list(kind, None).get("items") or []
    return output.to_yaml({obj["metadata"]["name"]: obj.get("status") or {} for obj in items})

