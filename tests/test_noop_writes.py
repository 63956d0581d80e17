"""Writes that change nothing do not write (issue 12), as in kube-apiserver: a PUT, PATCH or
server-side apply whose result is the stored object returns it with its resourceVersion;
etcd's revision does not move and watches see no event."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml

from conftest import GROUP, REPO, etcdctl
from ctl_harness import ctl

GNS = f"{GROUP}/globalnetworksets"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def revision(etcd) -> int:
    """etcd's current revision."""
    return int(json.loads(etcdctl(etcd.endpoint, "get", "/calico/none", "-w", "json"))
               ["header"]["revision"])


def gns(name: str) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"nets": ["10.0.0.0/24"]}}


async def url_of(client, obj: dict) -> str:
    doc = (await client.get(GROUP)).json()
    plural = next(r["name"] for r in doc["resources"]
                  if r["kind"] == obj["kind"] and "/" not in r["name"])
    ns = obj["metadata"].get("namespace")
    return (f"{GROUP}/namespaces/{ns}/{plural}" if ns else f"{GROUP}/{plural}") + \
        f"/{obj['metadata']['name']}"


async def test_an_unchanged_put_of_every_example_writes_nothing(client, clean_etcd):
    for path in EXAMPLES:
        body = yaml.safe_load(path.read_text())
        url = await url_of(client, body)
        r = await client.post(url.rsplit("/", 1)[0], json=body)
        if r.status_code == 409:        # examples that configure one object twice
            r = await client.put(url, json=body)
        assert r.status_code in (200, 201), (path.name, r.text)
        stored, before = r.json(), revision(clean_etcd)
        for again in (body, stored):        # the manifest, and the object as read back
            r = await client.put(url, json=again)
            assert r.status_code == 200, (path.name, r.text)
            assert r.json() == stored, path.name
        assert revision(clean_etcd) == before, path.name


async def test_patches_that_change_nothing_write_nothing(client, clean_etcd):
    stored = (await client.post(GNS, json=gns("p"))).json()
    before = revision(clean_etcd)
    for document, headers in (({"metadata": {"labels": {"app": "web"}}}, MERGE),
                              ({"spec": {"nets": ["10.0.0.0/24"]}},
                               {"Content-Type": "application/strategic-merge-patch+json"}),
                              ([{"op": "test", "path": "/spec/nets/0", "value": "10.0.0.0/24"}],
                               JSON_PATCH)):
        r = await client.patch(f"{GNS}/p", content=json.dumps(document), headers=headers)
        assert r.status_code == 200 and r.json() == stored, r.text
    assert revision(clean_etcd) == before


async def test_an_apply_that_changes_nothing_writes_nothing_whatever_the_time(client, clean_etcd):
    params = {"fieldManager": "gitops"}
    first = await client.patch(f"{GNS}/a", params=params, content=json.dumps(gns("a")),
                               headers=APPLY)
    assert first.status_code == 201
    before = revision(clean_etcd)
    await asyncio.sleep(1.1)        # managedFields times have a resolution of one second
    r = await client.patch(f"{GNS}/a", params=params, content=json.dumps(gns("a")),
                           headers=APPLY)
    assert r.status_code == 200 and r.json() == first.json()
    assert revision(clean_etcd) == before
    # a manager that starts sharing a field changes the object: that is written
    r = await client.patch(f"{GNS}/a", params={"fieldManager": "other"},
                           content=json.dumps(gns("a")), headers=APPLY)
    assert r.json()["metadata"]["resourceVersion"] != first.json()["metadata"]["resourceVersion"]
    assert revision(clean_etcd) == before + 1


async def test_a_watch_sees_no_event_for_writes_that_change_nothing(client):
    stored = (await client.post(GNS, json=gns("w"))).json()
    rv = stored["metadata"]["resourceVersion"]
    async with client.stream("GET", GNS, params={"watch": "true", "resourceVersion": rv,
                                                 "timeoutSeconds": "10"}) as stream:
        assert (await client.put(f"{GNS}/w", json=stored)).status_code == 200
        r = await client.patch(f"{GNS}/w", content=json.dumps({"metadata": {"labels": {
            "app": "web"}}}), headers=MERGE)
        assert r.json()["metadata"]["resourceVersion"] == rv
        r = await client.patch(f"{GNS}/w", content=json.dumps({"metadata": {"labels": {
            "app": "db"}}}), headers=MERGE)
        changed = r.json()["metadata"]["resourceVersion"]
        lines = stream.aiter_lines()
        event = json.loads(await anext(lines))
    assert event["type"] == "MODIFIED"
    assert event["object"]["metadata"]["resourceVersion"] == changed
    assert event["object"]["metadata"]["labels"] == {"app": "db"}


async def test_ctl_apply_of_an_unchanged_file_bumps_nothing(server, clean_etcd, tmp_path: Path):
    manifest = tmp_path / "gns.yaml"
    manifest.write_text(yaml.safe_dump(gns("c")))
    assert (await asyncio.to_thread(ctl, server, "apply", "-f", str(manifest))).code == 0
    before = revision(clean_etcd)
    run = await asyncio.to_thread(ctl, server, "apply", "-f", str(manifest))
    assert run.stdout == "Successfully applied 1 'GlobalNetworkSet' resource(s)\n", run.output
    assert revision(clean_etcd) == before
