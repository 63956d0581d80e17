"""``datastore migrate``: calicoctl's etcd → Kubernetes migration, here from one apiserver to
another. ``lock`` and ``unlock`` set ClusterInformation's ``spec.datastoreReady`` (the one field
of it the apiserver lets an admin patch); ``export`` prints every resource in calicoctl's file
shape; ``import`` applies such a file to a new datastore."""
from __future__ import annotations

import json
import sys

from .. import inputs, output
from ..client import ApiError, KindInfo
from ..messages import describe
from ..session import CommandError, Session, out
from . import ipam
from .apply import apply_one, write_items

V3 = "projectcalico.org/v3"
SECTION = "===\n"
# Resources others refer to come first (the apiserver checks a policy's tier and a BGPPeer's
# filters exist); IP pools before what is allocated from them. The rest follow by name.
DEPENDENCY_ORDER = ("Tier", "BGPFilter", "IPPool")
SERVER_OWNED = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
                "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")
# What a new datastore already holds, and import may overwrite: the protected tiers
# (libcalico-go's EnsureInitialized), the configurations calico-node and kube-controllers
# create, and the profile every datastore serves without storing it.
BUILT_IN = {"Tier": ("default", "kube-admin", "kube-baseline"),
            "FelixConfiguration": ("default",), "BGPConfiguration": ("default",),
            "KubeControllersConfiguration": ("default",),
            "Profile": ("projectcalico-default-allow",)}
VIRTUAL = {("Profile", "projectcalico-default-allow")}
FEDERATION_COPY = "federation.projectcalico.org/cluster"


def run(session: Session) -> int:
    args = session.args
    step = next(s for s in ("export", "import", "lock", "unlock") if args.flag(s))
    if step == "import":
        return _import(session)
    session.check_version()
    if step == "export":
        return _export(session)
    _set_ready(session, ready=step == "unlock")
    out(f"Datastore {step}ed.\n")
    return 0


def _cluster_information(session: Session) -> tuple[KindInfo, dict]:
    kind = inputs.kind_named(session, "clusterinformation")
    try:
        return kind, session.client.get(kind, "default", None)
    except ApiError as exc:
        raise CommandError("error retrieving ClusterInformation: "
                           f"{describe(exc, kind.kind, 'default')}") from None


def _locked(session: Session) -> bool:
    return (_cluster_information(session)[1].get("spec") or {}).get("datastoreReady") is False


def _set_ready(session: Session, *, ready: bool) -> None:
    kind, _ = _cluster_information(session)
    try:
        session.client.patch(kind, "default", None, {"spec": {"datastoreReady": ready}}, "merge")
    except ApiError as exc:
        raise CommandError(f"error updating ClusterInformation for "
                           f"{'unlocking' if ready else 'locking'}: "
                           f"{describe(exc, kind.kind, 'default')}") from None


def _kinds(session: Session) -> list[KindInfo]:
    """The kinds a client can write, in dependency order, but IPAM's (its own section)."""
    writable = [k for k in session.client.kinds()
                if not k.read_only and k.kind not in ipam.IPAM_KINDS]
    return sorted(writable, key=lambda k: (DEPENDENCY_ORDER.index(k.kind)
                                          if k.kind in DEPENDENCY_ORDER
                                          else len(DEPENDENCY_ORDER), k.kind))


def _exported(obj: dict) -> dict:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_OWNED}
    return {**obj, "metadata": meta}


def _export(session: Session) -> int:
    """calicoctl's export: a ``<Kind>List`` per kind, each followed by ``---``; then, each
    after ``===``, the ClusterInformation as JSON and the IPAM data (calicoctl's JSON of
    libcalico-go's keys and values)."""
    if not _locked(session):
        raise CommandError("datastore is not locked. Run the `ctl datastore migrate lock` "
                           "command in order to begin migration")
    for kind in _kinds(session):
        items = [_exported(obj) for obj in session.client.list(kind, None).get("items") or []
                 if (kind.kind, obj["metadata"]["name"]) not in VIRTUAL
                 and FEDERATION_COPY not in (obj["metadata"].get("labels") or {})]
        out(output.to_yaml(output.go_order({"apiVersion": V3, "kind": f"{kind.kind}List",
                                            "items": items, "metadata": {}})) + "---\n")
    _, info = _cluster_information(session)
    out(SECTION + output.to_json(info) + "\n" + SECTION
        + json.dumps(ipam.exported(session), indent=2) + "\n")
    return 0


def _import(session: Session) -> int:
    """calicoctl's import: into a datastore with nothing but its built-ins, locked first;
    the resources are applied in the file's order (the export's dependency order), then
    the IPAM data."""
    filename = session.args.get("--filename")
    try:
        if filename == "-":
            parts = sys.stdin.read().split(SECTION)
        else:
            with open(filename, encoding="utf-8") as handle:
                parts = handle.read().split(SECTION)
    except OSError as exc:
        raise CommandError(f"error while reading migration file: {exc.strerror}: "
                           f"{filename}") from None
    if len(parts) != 3:
        raise CommandError(f"imported file: {filename} is improperly formatted. Try "
                           "recreating with 'ctl datastore migrate export'")
    try:
        ipam_data = json.loads(parts[2])
    except ValueError as exc:
        raise CommandError(f"failed to read IPAM resources: {exc}") from None
    found = _existing(session)
    if found:
        raise CommandError(f"datastore already has Calico resources: found existing {found}. "
                           "Import into a new datastore, which holds only the apiserver's "
                           "built-in objects")
    if not _locked(session):
        _set_ready(session, ready=False)
        out("Datastore locked.\n")
    items = inputs.from_text(session, parts[0], "stdin" if filename == "-" else filename)
    if write_items(session, items, apply_one, command="apply", past="applied"):
        return 1
    ipam.imported(session, ipam_data)
    out("Datastore information successfully imported. Please refer to the datastore "
        "migration documentation for next steps.\n")
    return 0


def _existing(session: Session) -> str:
    """What the datastore holds beyond its built-ins ("": nothing)."""
    for kind in _kinds(session):
        for obj in session.client.list(kind, None).get("items") or []:
            if obj["metadata"]["name"] not in BUILT_IN.get(kind.kind, ()):
                return f"Calico {kind.kind} resource"
    return "IPAM resources" if ipam.exported(session) else ""
