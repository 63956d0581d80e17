"""Trust (issue 9): continue tokens bound to their list, DeleteOptions bodies honoured,
no 5xx from client input, Kubernetes resourceVersion semantics, selector-watch update_rules.
Against a real etcd and real HTTP."""
from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx

from conftest import GROUP, etcdctl, gns, kubectl, netset

GNS = f"{GROUP}/globalnetworksets"


async def _fill(client: httpx.AsyncClient, n: int) -> None:
    for i in range(n):
        assert (await client.post(GNS, json=gns(f"s{i:02d}", ["10.0.0.0/24"]))).status_code == 201


async def _rv(client: httpx.AsyncClient) -> int:
    return int((await client.get(GNS)).json()["metadata"]["resourceVersion"])


# -- 1. continue tokens ----------------------------------------------------------------------
async def test_a_hand_made_continue_token_reads_nothing(client):
    await _fill(client, 3)
    await client.post(f"{GROUP}/namespaces/ns1/networkpolicies", json={
        "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
        "metadata": {"name": "secret-policy", "namespace": "ns1"}, "spec": {"selector": "all()"}})
    rv = await _rv(client)
    for start in ("/", "/calico/", "/calico/resources/v3/projectcalico.org/"):
        forged = base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": start}).encode()).decode()
        for path in (GNS, f"{GROUP}/networksets", f"{GROUP}/namespaces/ns1/networksets"):
            r = await client.get(path, params={"limit": "1", "continue": forged})
            assert r.status_code == 400, (path, start, r.text)
            assert r.json()["reason"] == "BadRequest"
            assert "invalid continue token" in r.json()["message"]
            assert "secret-policy" not in r.text
    huge = base64.urlsafe_b64encode(json.dumps({"rv": 2**63, "start": "/"}).encode()).decode()
    r = await client.get(GNS, params={"limit": "1", "continue": huge})
    assert r.status_code == 400


async def test_a_continue_token_is_bound_to_its_kind_namespace_and_selectors(client):
    await _fill(client, 5)
    for i in range(3):
        await client.post(f"{GROUP}/namespaces/ns1/networksets", json=netset("ns1", f"n{i}",
                                                                             ["10.1.0.0/24"]))
    first = (await client.get(GNS, params={"limit": "2"})).json()
    token = first["metadata"]["continue"]
    # the genuine token goes on with its own list, to the end, in one snapshot
    names = [o["metadata"]["name"] for o in first["items"]]
    while token:
        page = (await client.get(GNS, params={"limit": "2", "continue": token})).json()
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
    assert names == [f"s{i:02d}" for i in range(5)]
    token = first["metadata"]["continue"]
    for path, params in ((f"{GROUP}/networksets", {}), (f"{GROUP}/namespaces/ns1/networksets", {}),
                         (GNS, {"labelSelector": "a=b"}), (GNS, {"fieldSelector": "metadata.name=s03"}),
                         (GNS, {"selector": "all()"}), (f"{GROUP}/tiers", {})):
        r = await client.get(path, params={"limit": "2", "continue": token, **params})
        assert r.status_code == 400 and "invalid continue token" in r.json()["message"], path
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = await client.get(GNS, params={"limit": "2", "continue": tampered})
    assert r.status_code == 400


async def test_a_continue_token_whose_revision_is_compacted_is_410(client, etcd):
    await _fill(client, 3)
    token = (await client.get(GNS, params={"limit": "1"})).json()["metadata"]["continue"]
    await client.post(GNS, json=gns("later", ["10.9.0.0/24"]))
    etcdctl(etcd.endpoint, "compact", str(await _rv(client)))
    r = await client.get(GNS, params={"limit": "1", "continue": token})
    assert r.status_code == 410 and r.json()["reason"] == "Expired", r.text


# -- 2. DeleteOptions in the body --------------------------------------------------------------
async def test_delete_options_in_the_body_are_honoured(client):
    await _fill(client, 1)
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"],
               "propagationPolicy": "Background"}
    r = await client.request("DELETE", f"{GNS}/s00", json=options)
    assert r.status_code == 200 and r.json()["metadata"]["name"] == "s00"
    obj = (await client.get(f"{GNS}/s00")).json()     # still there: it was a dry run
    uid, rv = obj["metadata"]["uid"], obj["metadata"]["resourceVersion"]
    r = await client.request("DELETE", f"{GNS}/s00",
                             json={"kind": "DeleteOptions", "apiVersion": "v1",
                                   "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition" in r.json()["message"]
    r = await client.request("DELETE", f"{GNS}/s00",
                             json={"preconditions": {"resourceVersion": str(int(rv) - 1)}})
    assert r.status_code == 409
    for bad in ({"dryRun": ["Some"]}, {"dryRun": "All"}, {"propagationPolicy": "Sideways"},
                {"preconditions": {"uid": 7}}, {"kind": "Pod"}):
        r = await client.request("DELETE", f"{GNS}/s00", json=bad)
        assert r.status_code == 400, bad
    assert (await client.get(f"{GNS}/s00")).status_code == 200
    r = await client.request("DELETE", f"{GNS}/s00",
                             json={"preconditions": {"uid": uid, "resourceVersion": rv}})
    assert r.status_code == 200
    assert (await client.get(f"{GNS}/s00")).status_code == 404


# -- 4. no 5xx from client input -------------------------------------------------------------
async def test_lone_surrogates_and_huge_integers_are_400(client):
    bodies = [
        '{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkSet","metadata":{"name":"x",'
        '"annotations":{"a":"\\ud800"}},"spec":{"nets":["10.0.0.0/24"]}}',
        '{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkSet","metadata":{"name":"x",'
        '"labels":{"\\udfff":"v"}},"spec":{}}',
        '{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkSet","metadata":{"name":"x"},'
        '"spec":{"nets":["10.0.0.0/24"],"x":' + "9" * 5000 + "}}",
        '{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkSet","metadata":{"name":"x",'
        '"generation":18446744073709551616},"spec":{}}',
    ]
    for body in bodies:
        r = await client.post(GNS, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (body[:80], r.status_code, r.text[:200])
        assert r.json()["kind"] == "Status"
    r = await client.post(f"{GROUP}/felixconfigurations", content=(
        '{"apiVersion":"projectcalico.org/v3","kind":"FelixConfiguration","metadata":'
        '{"name":"default"},"spec":{"logSeverityScreen":"\\udbff"}}'),
        headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await client.post(GNS, content="metadata: {name: x}\nn: " + "9" * 5000,
                          headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400


# -- 5. list semantics -----------------------------------------------------------------------
async def test_resource_version_parameters_are_checked(client):
    for params in ({"resourceVersion": "abc"}, {"resourceVersion": "-1"},
                   {"resourceVersion": str(2**63)}, {"limit": "x"},
                   # digits str.isdigit() accepts and int() refuses (found by the fuzzer)
                   {"limit": "\u00b2"}, {"resourceVersion": "\u0663"}, {"timeoutSeconds": "\u00b9"},
                   {"resourceVersion": "1", "resourceVersionMatch": "Newest"},
                   {"resourceVersionMatch": "NotOlderThan"},
                   {"resourceVersion": "0", "resourceVersionMatch": "Exact"}):
        r = await client.get(GNS, params=params)
        assert r.status_code == 400 and r.json()["reason"] == "BadRequest", params
    r = await client.get(GNS, params={"watch": "1", "resourceVersion": "abc"})
    assert r.status_code == 400


async def test_exact_reads_the_state_at_a_revision_and_410_once_compacted(client, etcd):
    await client.post(GNS, json=gns("first", ["10.0.0.0/24"]))
    rv1 = await _rv(client)
    await client.post(GNS, json=gns("second", ["10.0.1.0/24"]))
    await client.delete(f"{GNS}/first")
    for params in ({}, {"limit": "1"}):
        r = await client.get(GNS, params={"resourceVersion": str(rv1),
                                          "resourceVersionMatch": "Exact", **params})
        assert r.status_code == 200, r.text
        assert [o["metadata"]["name"] for o in r.json()["items"]] == ["first"]
        assert r.json()["metadata"]["resourceVersion"] == str(rv1)
    r = await client.get(GNS, params={"resourceVersion": str(rv1)})   # NotOlderThan: now
    assert [o["metadata"]["name"] for o in r.json()["items"]] == ["second"]
    etcdctl(etcd.endpoint, "compact", str(await _rv(client)))
    r = await client.get(GNS, params={"resourceVersion": str(rv1),
                                      "resourceVersionMatch": "Exact"})
    assert r.status_code == 410 and r.json()["reason"] == "Expired"


async def test_a_list_at_a_future_revision_waits_then_is_504_too_large(client):
    future = await _rv(client) + 1000
    started = time.monotonic()
    r = await client.get(GNS, params={"resourceVersion": str(future)})
    waited = time.monotonic() - started
    assert r.status_code == 504 and r.json()["reason"] == "Timeout", r.text
    assert r.json()["message"].startswith(f"Too large resource version: {future}, current: ")
    assert r.json()["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert r.json()["details"]["retryAfterSeconds"] == 1
    assert 2.5 < waited < 15
    # one the datastore reaches while the request waits is answered
    now = await _rv(client)
    pending = asyncio.ensure_future(client.get(GNS, params={"resourceVersion": str(now + 1)}))
    await asyncio.sleep(0.3)
    await client.post(GNS, json=gns("arrives", ["10.0.2.0/24"]))
    r = await pending
    assert r.status_code == 200 and "arrives" in [o["metadata"]["name"] for o in r.json()["items"]]


async def test_deletion_fields_are_stripped_and_finalizers_refused(client):
    body = gns("x", ["10.0.0.0/24"])
    body["metadata"].update(deletionTimestamp="2020-01-01T00:00:00Z",
                            deletionGracePeriodSeconds=30)
    r = await client.post(GNS, json=body)
    assert r.status_code == 201
    assert "deletionTimestamp" not in r.json()["metadata"]
    assert "deletionGracePeriodSeconds" not in (await client.get(f"{GNS}/x")).json()["metadata"]
    body = gns("y", ["10.0.0.0/24"])
    body["metadata"]["finalizers"] = ["example.com/keep"]
    r = await client.post(GNS, json=body)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "metadata.finalizers"
    r = await client.patch(f"{GNS}/x", json={"metadata": {"finalizers": ["example.com/keep"]}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422


# -- 6. selector watch update_rules ------------------------------------------------------------
async def test_a_label_selector_watch_reports_transitions(client):
    await client.post(GNS, json=gns("w", ["10.0.0.0/24"], {"sel": "yes"}))
    rv = await _rv(client)
    events: list[tuple[str, str, str]] = []

    async def watch():
        async with client.stream("GET", GNS, params={
                "watch": "1", "resourceVersion": str(rv), "labelSelector": "sel=yes",
                "timeoutSeconds": "20"}) as r:
            async for line in r.aiter_lines():
                if line.strip():
                    ev = json.loads(line)
                    meta = ev["object"]["metadata"]
                    events.append((ev["type"], meta["labels"]["sel"], meta["resourceVersion"]))
                    if len(events) == 4:
                        return
    task = asyncio.ensure_future(watch())
    await asyncio.sleep(0.3)
    rvs = []
    for value in ("no", "yes", "no", "maybe", "yes"):
        r = await client.patch(f"{GNS}/w", json={"metadata": {"labels": {"sel": value}}},
                               headers={"Content-Type": "application/merge-patch+json"})
        rvs.append(r.json()["metadata"]["resourceVersion"])
    await asyncio.wait_for(task, 20)
    # DELETED carries the last matching state at the revision it stopped matching
    assert events == [("DELETED", "yes", rvs[0]), ("ADDED", "yes", rvs[1]),
                      ("DELETED", "yes", rvs[2]), ("ADDED", "yes", rvs[4])]


def test_kubectl_delete_dry_run_server_deletes_nothing(apiserver_process):
    with apiserver_process.client() as c:
        for name in ("a", "b"):
            assert c.post(GNS, json=gns(name, ["10.0.0.0/24"])).status_code == 201
    out = kubectl(apiserver_process, "delete", "globalnetworkset", "a", "--dry-run=server")
    assert "(server dry run)" in out.stdout
    kubectl(apiserver_process, "delete", "globalnetworksets", "--all", "--dry-run=server")
    names = kubectl(apiserver_process, "get", "globalnetworksets", "-o", "name").stdout.split()
    assert names == ["globalnetworkset.projectcalico.org/a", "globalnetworkset.projectcalico.org/b"]
    kubectl(apiserver_process, "delete", "globalnetworkset", "a")
    names = kubectl(apiserver_process, "get", "globalnetworksets", "-o", "name").stdout.split()
    assert names == ["globalnetworkset.projectcalico.org/b"]
