"""``ctl validate`` without a server (issue 14.6): the verdict of the checks the server runs,
from the model both share (``calicomodel``), never from server code."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

from calicomodel.catalog import Catalog
from conftest import SHARED
from ctl.client import ApiClient, ApiError, Connection, MethodNotAllowed, AlreadyExists
from ctl.offline import OfflineClient
from ctl_harness import ctl

CONFORMANCE = SHARED / "conformance"
NOWHERE = "http://127.0.0.1:9"   # the discard port: nothing answers there

POLICY = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: office}
spec: {nets: [192.0.2.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-tcp-6379, namespace: production}
spec:
  selector: role == 'database'
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: [6379], nets: [10.0.0.0/33]}
"""


def test_validate_works_with_no_server_at_all(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(POLICY.split("---")[0])
    r = ctl(NOWHERE, "validate", "-f", str(good))
    assert (r.code, r.stdout, r.stderr) == (
        0, "Successfully validated 1 'GlobalNetworkSet' resource(s)\n", "")

    bad = tmp_path / "policy.yaml"
    bad.write_text(POLICY)
    r = ctl(NOWHERE, "validate", "-f", str(bad))
    assert r.code == 1, r.output
    assert "connect" not in r.output.lower(), r.output
    assert "10.0.0.0/33" in r.output, r.output
    assert "file " + str(bad) + ", document 2 (NetworkPolicy production/allow-tcp-6379): " \
        "spec.ingress[0].destination.nets[0]" in r.stderr, r.stderr


def _cases() -> list[tuple[int, dict]]:
    """Every resource ``run.py validation`` sends for Calico's validation table."""
    sys.path.insert(0, str(CONFORMANCE))
    try:
        import run  # noqa: PLC0415 - the shared runner lives outside the repository
    finally:
        sys.path.remove(str(CONFORMANCE))
    cases = yaml.safe_load((CONFORMANCE / "validation_cases.yaml").read_text())
    return [(case["id"], obj) for case in cases for obj in run.wrap(case) or []]


def _answer(client, kind, obj: dict) -> tuple:
    try:
        created = client.create(kind, copy.deepcopy(obj), dry_run=True)
    except ApiError as exc:
        return type(exc).__name__, exc.message, exc.causes
    return "accepted", created.get("spec"), created["metadata"].get("labels")


def test_offline_verdicts_are_the_servers_on_calicos_validation_table(apiserver_process):
    """Each resource of Calico's validation table, validated offline and by a server's dry
    run: the same acceptance with the same defaults, or the same error word for word. The
    server alone refuses what depends on its state or on the caller (a built-in name taken,
    a kind served read-only); calicoctl's offline validate accepts those too."""
    if not (CONFORMANCE / "validation_cases.yaml").is_file():
        pytest.skip("../shared/conformance is not present")
    offline = OfflineClient()
    online = ApiClient(Connection(apiserver_process.url))
    kinds = {k.kind: k for k in online.kinds()}
    tier = {"apiVersion": "projectcalico.org/v3", "kind": "Tier",
            "metadata": {"name": "eng"}, "spec": {"order": 100}}
    online.create(kinds["Tier"], tier)       # the staged cases' tier, as run.py makes it
    namespaced = {k.kind for k in Catalog() if k.namespaced}
    same, taken, read_only = 0, [], []
    for case_id, obj in _cases():
        if obj.get("kind") not in kinds:
            continue
        if obj["kind"] in namespaced:
            obj.setdefault("metadata", {}).setdefault("namespace", "default")
        mine, theirs = _answer(offline, kinds[obj["kind"]], obj), \
            _answer(online, kinds[obj["kind"]], obj)
        if mine == theirs:
            same += 1
            continue
        # a built-in of that name exists: valid all the same; a kind served read-only (or
        # a name Kubernetes owns) is refused whatever it holds, and validated offline
        if theirs[0] == AlreadyExists.__name__:
            assert mine[0] == "accepted", (case_id, mine, theirs)
            taken.append(case_id)
        else:
            assert theirs[0] == MethodNotAllowed.__name__, (case_id, mine, theirs)
            read_only.append(case_id)
    online.close()
    print(f"{same} resources judged the same; valid but named for a built-in: {taken}; "
          f"refused by the server whatever they hold: {read_only}")
    assert same > 600
    # knp.default.* (Kubernetes' policies) and BlockAffinities (IPAM's, read-only)
    assert read_only == [529, 690, 691]


KNP = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
    ports: [{port: 80, protocol: TCP}]
"""


def test_convert_validates_without_a_server(tmp_path: Path):
    good = tmp_path / "knp.yaml"
    good.write_text(KNP)
    r = ctl(NOWHERE, "convert", "-f", str(good))
    assert r.code == 0, r.output
    assert "  name: web\n" in r.stdout and "- 10.1.0.0/16" in r.stdout, r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(KNP.replace("port: 80", "port: 0"))
    r = ctl(NOWHERE, "convert", "-f", str(bad))
    assert r.code == 1 and r.stderr.startswith(
        "converted manifest resource(s) failed validation: "), r.output
    assert "connect" not in r.output.lower(), r.output
