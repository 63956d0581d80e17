"""RemoteClusterConfiguration file fields are confined to ``--federation-credentials-dir``
(issue 9, item 3): refused at admission (422 naming each field), re-checked every time the
peer client opens a file, and never shown: no file contents, header values or tokens in the
status, the metrics or the log.

A real etcd, a real in-process apiserver, and a fake peer on a loopback socket that records
every request it gets."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conftest import GROUP
from test_federation_peers import FAST, InProcessServer, eventually, post, rcc, status
from apiserver.storage.embedded import free_port

RCCS = f"{GROUP}/remoteclusterconfigurations"
GNS_ONLY = {"kinds": ["GlobalNetworkSet"]}
OUTSIDE = "outside the federation credentials directory"


class RecordingPeer:
    """A peer apiserver stand-in named ``name`` that records the Authorization header of
    every request. Its lists are empty and its watches end at once, so a syncer keeps
    reconnecting (and re-reading its credentials)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.authorizations: list[str] = []

    async def start(self) -> "RecordingPeer":
        app = web.Application()
        app.router.add_get("/{path:.*}", self._answer)
        self.server = TestServer(app, host="127.0.0.1", port=free_port())
        await self.server.start_server(shutdown_timeout=0.5)
        self.url = f"http://127.0.0.1:{self.server.port}"
        return self

    async def _answer(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization", ""))
        if request.path == "/version":
            return web.json_response({"clusterName": self.name})
        if request.query.get("watch") == "true":
            return web.Response(body=b"", content_type="application/json")
        return web.json_response({"items": [], "metadata": {"resourceVersion": "3"}})

    async def close(self) -> None:
        await self.server.close()


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """(the credentials directory, a directory outside it holding ``secret``)."""
    peers, elsewhere = tmp_path / "peers", tmp_path / "elsewhere"
    peers.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret").write_text("outside-secret-token\n")
    return peers, elsewhere


def importer(etcd, directory: Path, **settings) -> InProcessServer:
    return InProcessServer(etcd.endpoint, cluster_name="cluster-a", federation_options=FAST,
                           federation_credentials_dir=str(directory), **settings)


async def failed_with(client: httpx.AsyncClient, peer: str, words: str) -> dict:
    st = await status(client, peer)
    assert st.get("state") == "Failed" and words in st.get("lastError", ""), st
    return st


async def test_file_fields_outside_the_directory_are_refused_naming_each_field(
        clean_etcd, dirs):
    peers, elsewhere = dirs
    (peers / "escape").symlink_to(elsewhere / "secret")
    server = await importer(clean_etcd, peers, federation=False).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            r = await c.post(RCCS, json=rcc("b", "https://peer.example:5443",
                                            tokenFile=str(elsewhere / "secret"),
                                            caFile="peers/ca.pem",
                                            certFile=f"{peers}/../elsewhere/secret",
                                            keyFile=str(peers / "escape")))
            assert r.status_code == 422, r.text
            body = r.json()
            assert body["reason"] == "Invalid"
            causes = {c["field"]: c["message"] for c in body["details"]["causes"]}
            assert set(causes) == {"spec.tokenFile", "spec.caFile", "spec.certFile",
                                   "spec.keyFile"}
            assert OUTSIDE in causes["spec.tokenFile"]
            assert "not an absolute path" in causes["spec.caFile"]
            assert "'..' is not allowed" in causes["spec.certFile"]
            assert f"a symlink to a file {OUTSIDE}" in causes["spec.keyFile"]
            assert "outside-secret-token" not in r.text
            assert (await c.get(f"{RCCS}/b")).status_code == 404

            # inside (directly, through a symlink that stays inside, or not there yet): allowed
            (peers / "b.token").write_text("tok\n")
            (peers / "current").symlink_to(peers / "b.token")
            good = await post(c, rcc("b", "https://peer.example:5443",
                                     tokenFile=str(peers / "current"),
                                     caFile=str(peers / "ca.pem")))
            # a change to a path outside is refused as well
            good["spec"]["tokenFile"] = "/etc/passwd"
            r = await c.put(f"{RCCS}/b", json=good)
            assert r.status_code == 422, r.text
            assert [c["field"] for c in r.json()["details"]["causes"]] == ["spec.tokenFile"]
            r = await c.patch(f"{RCCS}/b", json={"spec": {"caFile": "/etc/ssl/private/x.pem"}},
                              headers={"Content-Type": "application/merge-patch+json"})
            assert r.status_code == 422, r.text
            assert [c["field"] for c in r.json()["details"]["causes"]] == ["spec.caFile"]
    finally:
        await server.stop()


async def test_a_token_file_swapped_for_a_symlink_leaving_the_directory_is_never_sent(
        clean_etcd, dirs):
    peers, elsewhere = dirs
    # a Kubernetes secret volume's layout: symlinks that stay inside the directory
    (peers / "..2024_01_01").mkdir()
    (peers / "..2024_01_01" / "b.token").write_text("good-token\n")
    (peers / "..data").symlink_to("..2024_01_01")
    (peers / "b.token").symlink_to("..data/b.token")
    peer = await RecordingPeer("cluster-b").start()
    server = await importer(clean_etcd, peers).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            await post(c, rcc("cluster-b", peer.url, tokenFile=str(peers / "b.token"),
                              syncOptions=GNS_ONLY))

            async def reconnected() -> bool:
                return peer.authorizations.count("Bearer good-token") >= 6
            await eventually(reconnected, what="the good token sent on several connections")

            (peers / "b.token").unlink()
            (peers / "b.token").symlink_to(elsewhere / "secret")
            st = await eventually(lambda: failed_with(c, "cluster-b", OUTSIDE),
                                  what="the swapped file refused")
            assert f"tokenFile {peers / 'b.token'}: a symlink to a file {OUTSIDE} {peers}" \
                in st["lastError"]
            sent = len(peer.authorizations)
            await asyncio.sleep(2)   # several reconnect attempts (backoff_max is 0.5 s)
            assert len(peer.authorizations) == sent
            assert not any("outside-secret-token" in a for a in peer.authorizations)
            assert "outside-secret-token" not in (await c.get(f"{RCCS}/cluster-b")).text
    finally:
        await server.stop()
        await peer.close()


async def test_an_rcc_stored_before_the_rule_fails_without_a_request(clean_etcd, dirs):
    """An RCC admitted under another ``--federation-credentials-dir`` (or before the rule):
    its syncer refuses the file, no request is sent, and its status can still be written."""
    peers, elsewhere = dirs
    peer = await RecordingPeer("cluster-b").start()
    old = await importer(clean_etcd, elsewhere, federation=False).start()
    try:
        async with httpx.AsyncClient(base_url=old.url, timeout=10) as c:
            await post(c, rcc("cluster-b", peer.url, tokenFile=str(elsewhere / "secret"),
                              syncOptions=GNS_ONLY))
    finally:
        await old.stop()
    server = await importer(clean_etcd, peers).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            st = await eventually(lambda: failed_with(c, "cluster-b", OUTSIDE),
                                  what="the stored RCC's file refused")
            assert st["lastError"] == (f"GlobalNetworkSet: tokenFile {elsewhere / 'secret'}: "
                                       f"{OUTSIDE} {peers}")
            await asyncio.sleep(1)
            assert peer.authorizations == []
    finally:
        await server.stop()
        await peer.close()


TOKEN_AUTH_CSV = ('admin-secret-1f9c,alice,1,"calico:admin"\n'
                  'viewer-secret-77ab,victor,2,"calico:viewer"\n')
NOT_ONE_TOKEN = {   # file name -> contents that are not one printable token
    "tokens.csv": TOKEN_AUTH_CSV,
    "two-words.token": "first-secret-word second-secret-word\n",
    "control.token": "bell-secret\atoken\n",
    "latin.token": "s\u00e9cret-token\n",
    "empty.token": "\n",
}


async def test_a_file_that_is_not_one_token_is_never_shown(clean_etcd, dirs, caplog):
    caplog.set_level(logging.DEBUG)
    peers, _ = dirs
    for name, contents in NOT_ONE_TOKEN.items():
        (peers / name).write_text(contents)
    secrets = ["admin-secret-1f9c", "viewer-secret-77ab", "alice", "victor", "first-secret",
               "second-secret", "bell-secret", "cret-token", "Bearer"]
    peer = await RecordingPeer("cluster-b").start()
    server = await importer(clean_etcd, peers).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            peer_names = {}
            for i, name in enumerate(NOT_ONE_TOKEN):
                peer_names[f"p{i}"] = name
                await post(c, rcc(f"p{i}", peer.url, tokenFile=str(peers / name),
                                  syncOptions=GNS_ONLY))
            for peer_name, name in peer_names.items():
                st = await eventually(lambda p=peer_name: failed_with(c, p, "does not hold"),
                                      what=f"{name} refused")
                assert st["lastError"] == (f"GlobalNetworkSet: tokenFile {peers / name}: does "
                                           "not hold one printable token")
            shown = [(await c.get(RCCS)).text, (await c.get("/metrics")).text, caplog.text]
            assert "does not hold one printable token" in caplog.text
            for text in shown:
                assert "Illegal header value" not in text
                for secret in secrets:
                    assert secret not in text
            assert peer.authorizations == []
    finally:
        await server.stop()
        await peer.close()
