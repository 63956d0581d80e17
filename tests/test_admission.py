"""The admission chain's federation step: copies belong to the controller, and a local object
takes a copy's name whichever came first."""
from __future__ import annotations

import httpx

from apiserver.api import keys
from apiserver.federation.ownership import CONTROLLER, FEDERATION_LABEL

from conftest import GROUP, gns, running_server


async def test_a_local_create_takes_the_name_a_copy_holds(clean_etcd):
    server = running_server(clean_etcd.endpoint)
    async with server as url, httpx.AsyncClient(base_url=url, timeout=10) as c:
        store = server.app[keys.STORE]
        kind = store.catalog.kind("GlobalNetworkSet")
        await store.create(kind, None, gns("b.x", ["10.1.0.0/16"], {FEDERATION_LABEL: "b"}),
                           actor=CONTROLLER)
        copy = (await c.get(f"{GROUP}/globalnetworksets/b.x")).json()

        changed = {**copy, "spec": {"nets": ["10.9.0.0/16"]}}
        r = await c.put(f"{GROUP}/globalnetworksets/b.x", json=changed)
        assert r.status_code == 403 and "read-only copy" in r.text
        r = await c.post(f"{GROUP}/globalnetworksets",
                         json=gns("y", ["10.2.0.0/16"], {FEDERATION_LABEL: "b"}))
        assert r.status_code == 403, "nobody but the controller makes a copy"

        r = await c.post(f"{GROUP}/globalnetworksets", json=gns("b.x", ["10.3.0.0/16"]))
        assert r.status_code == 201, r.text
        local = (await c.get(f"{GROUP}/globalnetworksets/b.x")).json()
        assert FEDERATION_LABEL not in local["metadata"].get("labels", {})
        assert local["spec"]["nets"] == ["10.3.0.0/16"]
        assert local["metadata"]["uid"] != copy["metadata"]["uid"]

        # a local object is never given up, not even to another local create
        r = await c.post(f"{GROUP}/globalnetworksets", json=gns("b.x", ["10.4.0.0/16"]))
        assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
