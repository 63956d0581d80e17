"""Server-side apply and field ownership (issue 12): ``metadata.managedFields`` per manager,
conflicts between managers, ``force``, removal of fields a manager stops applying, and a
real ``kubectl apply --server-side`` / ``kubectl diff --server-side``."""
from __future__ import annotations

import json

import pytest

from conftest import GROUP, kubectl

APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}
GNS = f"{GROUP}/globalnetworksets"


def gns(name: str, nets: list[str] | None = None, labels: dict | None = None) -> dict:
    """An apply configuration: only what the manager cares about."""
    obj: dict = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                 "metadata": {"name": name}}
    if labels is not None:
        obj["metadata"]["labels"] = labels
    if nets is not None:
        obj["spec"] = {"nets": nets}
    return obj


async def apply(client, config: dict, manager: str | None, *, force: bool = False,
                url: str = GNS):
    params = {"fieldManager": manager} if manager else {}
    if force:
        params["force"] = "true"
    return await client.patch(f"{url}/{config['metadata']['name']}", params=params,
                              content=json.dumps(config), headers=APPLY)


def owners(obj: dict) -> dict[tuple[str, str], dict]:
    """(manager, operation) → fieldsV1."""
    return {(e["manager"], e["operation"]): e["fieldsV1"]
            for e in obj["metadata"].get("managedFields", [])}


# -- the HTTP contract --------------------------------------------------------------------------
async def test_apply_creates_a_missing_object_and_records_its_fields(client):
    r = await apply(client, gns("a", ["10.0.0.0/8"], {"team": "x"}), "gitops")
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["spec"] == {"nets": ["10.0.0.0/8"]} and obj["metadata"]["uid"]
    [entry] = obj["metadata"]["managedFields"]
    assert entry["manager"] == "gitops" and entry["operation"] == "Apply"
    assert entry["apiVersion"] == "projectcalico.org/v3" and entry["fieldsType"] == "FieldsV1"
    assert entry["time"].endswith("Z")
    assert entry["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}},
                                 "f:spec": {"f:nets": {}}}
    got = (await client.get(f"{GNS}/a")).json()
    assert got["metadata"]["managedFields"] == obj["metadata"]["managedFields"]


async def test_apply_options_are_checked_as_kube_apiserver_does(client):
    r = await apply(client, gns("a", ["10.0.0.0/8"]), None)
    assert r.status_code == 422, r.text
    assert r.json()["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                   'Required value: is required for apply patch')
    r = await client.patch(f"{GNS}/a", params={"force": "true", "fieldManager": "m"},
                           content="{}", headers=MERGE)
    assert r.status_code == 422 and "force: Forbidden" in r.json()["message"]
    r = await apply(client, gns("a", ["10.0.0.0/8"]), "m" * 129)
    assert r.status_code == 422 and "fieldManager: Too long" in r.json()["message"]
    config = gns("a", ["10.0.0.0/8"])
    config["metadata"]["managedFields"] = []
    r = await apply(client, config, "m")
    assert r.status_code == 400 and r.json()["message"] == "metadata.managedFields must be nil"
    r = await client.patch(f"{GNS}/a", params={"fieldManager": "m"}, headers=APPLY,
                           content="apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
                                   "metadata: {name: a}\nspec: {nets: [10.1.0.0/16]}\n")
    assert r.status_code == 201 and r.json()["spec"]["nets"] == ["10.1.0.0/16"]   # YAML too


async def test_creates_and_updates_record_an_update_entry_per_manager(client):
    body = {**gns("u", ["10.0.0.0/8"], {"a": "1"})}
    r = await client.post(GNS, json=body, headers={"User-Agent": "mytool/1.2 (linux)"})
    assert r.status_code == 201
    assert owners(r.json()) == {("mytool", "Update"): {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {".": {}, "f:nets": {}}}}
    body["spec"]["nets"] = ["10.2.0.0/16"]
    r = await client.put(f"{GNS}/u", params={"fieldManager": "editor"}, json=body)
    assert owners(r.json()) == {
        ("mytool", "Update"): {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {}},
        ("editor", "Update"): {"f:spec": {"f:nets": {}}}}
    r = await client.patch(f"{GNS}/u", params={"fieldManager": "labeller"}, headers=MERGE,
                           content=json.dumps({"metadata": {"labels": {"b": "2"}}}))
    assert owners(r.json())[("labeller", "Update")] == {"f:metadata": {"f:labels": {"f:b": {}}}}


async def test_the_oldest_of_too_many_updaters_merge_into_ancient_changes(client):
    await client.post(GNS, params={"fieldManager": "m00"}, json=gns("many", ["10.0.0.0/8"],
                                                                    {"l00": "x"}))
    for i in range(1, 12):
        r = await client.patch(f"{GNS}/many", params={"fieldManager": f"m{i:02}"},
                               headers=MERGE,
                               content=json.dumps({"metadata": {"labels": {f"l{i:02}": "x"}}}))
    entries = owners(r.json())
    assert sorted(m for m, _ in entries) == ["ancient-changes"] + [f"m{i:02}" for i in
                                                                   range(3, 12)]
    assert entries[("ancient-changes", "Update")] == {
        "f:metadata": {"f:labels": {".": {}, "f:l00": {}, "f:l01": {}, "f:l02": {}}},
        "f:spec": {".": {}, "f:nets": {}}}


async def test_a_conflicting_apply_names_manager_and_field_and_force_takes_it(client):
    assert (await apply(client, gns("c", ["10.0.0.0/8"]), "alpha")).status_code == 201
    r = await apply(client, gns("c", ["192.168.0.0/16"]), "beta")
    assert r.status_code == 409, r.text
    status = r.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "alpha": .spec.nets'
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                            "message": 'conflict with "alpha"',
                                            "field": ".spec.nets"}]
    assert (await client.get(f"{GNS}/c")).json()["spec"]["nets"] == ["10.0.0.0/8"]
    r = await apply(client, gns("c", ["192.168.0.0/16"]), "beta", force=True)
    assert r.status_code == 200 and r.json()["spec"]["nets"] == ["192.168.0.0/16"]
    assert owners(r.json()) == {("beta", "Apply"): {"f:spec": {"f:nets": {}}}}
    r = await apply(client, gns("c", ["10.0.0.0/8"]), "alpha")          # alpha lost it
    assert r.status_code == 409 and 'conflict with "beta": .spec.nets' in r.json()["message"]


async def test_a_field_an_update_set_conflicts_with_its_update_manager(client):
    r = await client.post(GNS, params={"fieldManager": "creator"},
                          json=gns("d", ["10.0.0.0/8"]))
    assert r.status_code == 201
    r = await apply(client, gns("d", ["10.9.0.0/16"], {"x": "y"}), "gitops")
    assert r.status_code == 409
    assert r.json()["message"] == ('Apply failed with 1 conflict: conflict with "creator" '
                                   'using projectcalico.org/v3: .spec.nets')


async def test_several_conflicts_are_listed_per_manager(client):
    await apply(client, gns("m", ["10.0.0.0/8"]), "alpha")
    await apply(client, gns("m", labels={"tier": "1"}), "beta")
    r = await apply(client, gns("m", ["10.1.0.0/16"], {"tier": "2"}), "gamma")
    assert r.status_code == 409
    assert r.json()["message"] == ('Apply failed with 2 conflicts: conflicts with "alpha":\n'
                                   '- .spec.nets\nconflicts with "beta":\n'
                                   '- .metadata.labels.tier')


async def test_managers_applying_the_same_value_share_it(client):
    await apply(client, gns("s", ["10.0.0.0/8"]), "alpha")
    r = await apply(client, gns("s", ["10.0.0.0/8"]), "beta")
    assert r.status_code == 200
    assert set(owners(r.json())) == {("alpha", "Apply"), ("beta", "Apply")}
    # a shared field stays when one of its managers stops applying it, and goes with the last
    r = await apply(client, gns("s", labels={"only": "labels"}), "alpha")
    assert r.json()["spec"]["nets"] == ["10.0.0.0/8"]
    r = await apply(client, gns("s", labels={"b": "1"}), "beta")
    assert "nets" not in r.json().get("spec", {}), r.text


async def test_removing_a_field_from_the_manifest_removes_it_unless_another_owns_it(client):
    await apply(client, gns("r", ["10.0.0.0/8"], {"a": "1", "b": "2", "c": "3"}), "alpha")
    await apply(client, gns("r", labels={"c": "3"}), "beta")
    r = await apply(client, gns("r", ["10.0.0.0/8"], {"a": "1"}), "alpha")
    assert r.status_code == 200
    assert r.json()["metadata"]["labels"] == {"a": "1", "c": "3"}      # b went, beta keeps c
    assert owners(r.json())[("alpha", "Apply")] == {"f:metadata": {"f:labels": {"f:a": {}}},
                                                   "f:spec": {"f:nets": {}}}


async def test_fields_set_by_updates_survive_an_apply_that_never_named_them(client):
    await apply(client, gns("k", ["10.0.0.0/8"], {"a": "1"}), "alpha")
    await client.patch(f"{GNS}/k", params={"fieldManager": "kubectl-label"}, headers=MERGE,
                       content=json.dumps({"metadata": {"labels": {"extra": "yes"}}}))
    r = await apply(client, gns("k", ["10.0.0.0/8"]), "alpha")
    assert r.json()["metadata"]["labels"] == {"extra": "yes"}


async def test_map_lists_are_owned_item_by_item(client):
    """IPPool status conditions are an ``x-kubernetes-list-type: map`` keyed by type."""
    pool = {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "p"},
            "spec": {"cidr": "10.5.0.0/16"}}
    assert (await apply(client, pool, "admin", url=f"{GROUP}/ippools")).status_code == 201

    def condition(kind: str) -> dict:
        return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "p"},
                "status": {"conditions": [{"type": kind, "status": "True", "reason": "R",
                                           "message": "m",
                                           "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}
    r = await apply(client, condition("Ready"), "one", url=f"{GROUP}/ippools")
    assert r.status_code == 200, r.text
    r = await apply(client, condition("Allocatable"), "two", url=f"{GROUP}/ippools")
    assert r.status_code == 200, r.text
    assert [c["type"] for c in r.json()["status"]["conditions"]] == ["Ready", "Allocatable"]
    assert owners(r.json())[("two", "Apply")] == {"f:status": {"f:conditions": {
        'k:{"type":"Allocatable"}': {".": {}, "f:lastTransitionTime": {}, "f:message": {},
                                     "f:reason": {}, "f:status": {}, "f:type": {}}}}}
    r = await apply(client, {**condition("Ready"), "status": {"conditions": []}}, "one",
                    url=f"{GROUP}/ippools")
    assert [c["type"] for c in r.json()["status"]["conditions"]] == ["Allocatable"]


async def test_the_first_apply_to_an_object_without_managers_meets_before_first_apply(client):
    r = await client.post(GNS, json=gns("b", ["10.0.0.0/8"]))
    assert r.status_code == 201
    r = await client.put(f"{GNS}/b", json={**r.json(), "metadata": {
        **r.json()["metadata"], "managedFields": [{}]}})       # [{}] clears managedFields
    assert "managedFields" not in r.json()["metadata"]
    r = await apply(client, gns("b", ["10.1.0.0/16"]), "gitops")
    assert r.status_code == 409
    assert 'conflict with "before-first-apply" using projectcalico.org/v3: .spec.nets' \
        in r.json()["message"]


async def test_a_resource_version_in_the_configuration_is_a_precondition(client):
    created = (await apply(client, gns("v", ["10.0.0.0/8"]), "m")).json()
    config = gns("v", ["10.1.0.0/16"])
    config["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    assert (await apply(client, config, "m")).status_code == 200
    r = await apply(client, {**config, "spec": {"nets": ["10.2.0.0/16"]}}, "m")
    assert r.status_code == 409 and "the object has been modified" in r.json()["message"]


async def test_dry_run_apply_writes_nothing(client):
    await apply(client, gns("dry", ["10.0.0.0/8"]), "m")
    r = await client.patch(f"{GNS}/dry", params={"fieldManager": "m", "dryRun": "All"},
                           content=json.dumps(gns("dry", ["10.1.0.0/16"])), headers=APPLY)
    assert r.status_code == 200 and r.json()["spec"]["nets"] == ["10.1.0.0/16"]
    assert (await client.get(f"{GNS}/dry")).json()["spec"]["nets"] == ["10.0.0.0/8"]


async def test_a_status_subresource_apply_owns_only_the_status(client):
    url = f"{GROUP}/caliconodestatuses"
    spec = {"apiVersion": "projectcalico.org/v3", "kind": "CalicoNodeStatus",
            "metadata": {"name": "n"}, "spec": {"node": "node1", "classes": ["Agent"],
                                                "updatePeriodSeconds": 10}}
    assert (await apply(client, spec, "admin", url=url)).status_code == 201
    status = {**spec, "status": {"lastUpdated": "2024-01-01T00:00:00Z"}}
    r = await client.patch(f"{url}/n/status", params={"fieldManager": "node"}, headers=APPLY,
                           content=json.dumps(status))
    assert r.status_code == 200, r.text
    entries = {(e["manager"], e.get("subresource", "")): e["fieldsV1"]
               for e in r.json()["metadata"]["managedFields"]}
    assert entries[("node", "status")] == {"f:status": {"f:lastUpdated": {}}}
    assert "f:status" not in entries[("admin", "")]


# -- kubectl --------------------------------------------------------------------------------
MANIFEST = """apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: office
  labels: {{team: {team}}}
spec:
  nets: [{nets}]
"""


@pytest.fixture
def manifests(tmp_path):
    def write(name: str, nets: str, team: str = "net") -> str:
        path = tmp_path / f"{name}.yaml"
        path.write_text(MANIFEST.format(nets=nets, team=team))
        return str(path)
    return write


def test_kubectl_apply_server_side_as_two_managers(apiserver_process, manifests):
    proc = apiserver_process
    first, second = manifests("first", "10.0.0.0/8"), manifests("second", "10.1.0.0/16")
    r = kubectl(proc, "apply", "--server-side", "-f", first)
    assert r.stdout == "globalnetworkset.projectcalico.org/office serverside-applied\n"
    r = kubectl(proc, "apply", "--server-side", "--field-manager=platform", "-f", second,
                check=False)
    assert r.returncode == 1
    assert r.stderr.startswith('error: Apply failed with 1 conflict: conflict with "kubectl": '
                               '.spec.nets\nPlease review the fields above'), r.stderr
    r = kubectl(proc, "apply", "--server-side", "--field-manager=platform", "--force-conflicts",
                "-f", second)
    assert r.stdout == "globalnetworkset.projectcalico.org/office serverside-applied\n"
    got = json.loads(kubectl(proc, "get", "globalnetworkset", "office", "-o", "json",
                             "--show-managed-fields").stdout)
    assert got["spec"]["nets"] == ["10.1.0.0/16"]
    assert {e["manager"]: e["fieldsV1"] for e in got["metadata"]["managedFields"]} == {
        "kubectl": {"f:metadata": {"f:labels": {"f:team": {}}}},
        "platform": {"f:metadata": {"f:labels": {"f:team": {}}}, "f:spec": {"f:nets": {}}}}
    plain = json.loads(kubectl(proc, "get", "globalnetworkset", "office", "-o", "json").stdout)
    assert "managedFields" not in plain["metadata"]


def test_kubectl_diff_server_side(apiserver_process, manifests):
    proc = apiserver_process
    first = manifests("first", "10.0.0.0/8")
    kubectl(proc, "apply", "--server-side", "-f", first)
    r = kubectl(proc, "diff", "--server-side", "-f", first, check=False)
    assert (r.returncode, r.stdout) == (0, "")
    r = kubectl(proc, "diff", "--server-side", "-f", manifests("next", "10.2.0.0/16", "ops"),
                check=False)
    assert r.returncode == 1, r.stderr
    changed = [line for line in r.stdout.splitlines()
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-    team: net", "+    team: ops", "-  - 10.0.0.0/8", "+  - 10.2.0.0/16"]
    assert kubectl(proc, "get", "globalnetworkset", "office", "-o",
                   "jsonpath={.spec.nets}").stdout == '["10.0.0.0/8"]'


def test_kubectl_moves_from_client_side_to_server_side_apply(apiserver_process, manifests):
    """kube-apiserver lets ``kubectl apply --server-side`` take the fields a client-side
    ``kubectl apply`` last applied (and still holds), and keeps its annotation current."""
    proc = apiserver_process
    kubectl(proc, "apply", "-f", manifests("first", "10.0.0.0/8"))
    r = kubectl(proc, "apply", "--server-side", "-f", manifests("second", "10.1.0.0/16", "ops"))
    assert r.stdout == "globalnetworkset.projectcalico.org/office serverside-applied\n"
    got = json.loads(kubectl(proc, "get", "globalnetworkset", "office", "-o", "json",
                             "--show-managed-fields").stdout)
    assert got["spec"]["nets"] == ["10.1.0.0/16"] and got["metadata"]["labels"] == {"team": "ops"}
    fields = {(e["manager"], e["operation"]): e["fieldsV1"]
              for e in got["metadata"]["managedFields"]}
    assert fields[("kubectl", "Apply")] == {"f:metadata": {"f:labels": {"f:team": {}}},
                                           "f:spec": {"f:nets": {}}}
    last = json.loads(got["metadata"]["annotations"]["kubectl.kubernetes.io/"
                                                     "last-applied-configuration"])
    assert last["spec"] == {"nets": ["10.1.0.0/16"]}
