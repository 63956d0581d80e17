"""Authentication, authorization, TLS serving and etcd over TLS, against real processes."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
import trustme

from apiserver.storage.embedded import EmbeddedEtcd
from conftest import GROUP, ApiserverProcess, _tmp_root, etcdctl

TOKENS = {"admin": "admin-token-1f9c", "viewer": "viewer-token-77ab",
          "peer": "peer-token-5d2e", "nobody": "nobody-token-0000"}
KEY = "/calico/resources/v3/projectcalico.org"


def gns(name: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": name, **({"labels": labels} if labels else {})},
            "spec": {"nets": ["10.0.0.0/24"]}}


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.csv"
    path.write_text(f'{TOKENS["admin"]},alice,1,"calico:admin"\n'
                    f'{TOKENS["viewer"]},victor,2,"calico:viewer,other"\n'
                    f'{TOKENS["peer"]},cluster-b,3,calico:federation\n'
                    f'{TOKENS["nobody"]},nemo,4\n')
    return path


@pytest.fixture
def secured(clean_etcd, token_file):
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--token-auth-file",
                            str(token_file), token=TOKENS["admin"]).start()
    yield proc
    proc.stop()


def as_user(proc: ApiserverProcess, who: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}
    return httpx.Client(base_url=proc.url, headers=headers, timeout=10)


def test_anonymous_and_bad_tokens_are_401_but_discovery_and_health_are_open(secured):
    with as_user(secured, None) as anon:
        r = anon.get(f"{GROUP}/globalnetworksets")
        assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
        for path in ("/healthz", "/readyz", "/livez", "/version", "/apis", GROUP, "/openapi/v3"):
            assert anon.get(path).status_code == 200, path
        r = anon.get(f"{GROUP}/globalnetworksets", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = anon.get(f"{GROUP}/globalnetworksets", headers={"Authorization": "Basic abc"})
        assert r.status_code == 401
    assert "wrong" not in secured.output()
    assert all(t not in secured.output() for t in TOKENS.values())


def test_roles(secured):
    with as_user(secured, "admin") as admin:
        assert admin.post(f"{GROUP}/globalnetworksets", json=gns("a")).status_code == 201
    with as_user(secured, "viewer") as viewer:
        assert viewer.get(f"{GROUP}/globalnetworksets/a").status_code == 200
        assert viewer.get(f"{GROUP}/tiers").status_code == 200
        r = viewer.post(f"{GROUP}/globalnetworksets", json=gns("b"))
        assert r.status_code == 403
        assert r.json()["message"] == ('user "victor" cannot create resource "globalnetworksets" '
                                       'in API group "projectcalico.org"')
        assert viewer.delete(f"{GROUP}/globalnetworksets/a").status_code == 403
    with as_user(secured, "nobody") as nobody:
        assert nobody.get(f"{GROUP}/globalnetworksets").status_code == 403
    with as_user(secured, "peer") as peer:
        assert peer.get(f"{GROUP}/globalnetworksets").status_code == 200
        assert peer.get(f"{GROUP}/networksets").status_code == 200
        # nothing is exported to it (no FederationExport names it): "a" is not there for it
        assert peer.get(f"{GROUP}/globalnetworksets/a").status_code == 404
        assert peer.get(f"{GROUP}/globalnetworkpolicies").status_code == 403
        assert peer.post(f"{GROUP}/globalnetworksets", json=gns("c")).status_code == 403


def test_federation_role_never_sees_mirrored_copies(secured, clean_etcd):
    copy = gns("cluster-c.x", labels={"federation.projectcalico.org/cluster": "cluster-c"})
    etcdctl(clean_etcd.endpoint, "put", f"{KEY}/globalnetworksets/cluster-c.x", json.dumps(copy))
    with as_user(secured, "admin") as admin:
        admin.post(f"{GROUP}/globalnetworksets", json=gns("local"))
        names = [o["metadata"]["name"] for o in admin.get(f"{GROUP}/globalnetworksets").json()["items"]]
        assert names == ["cluster-c.x", "local"]
        r = admin.delete(f"{GROUP}/globalnetworksets/cluster-c.x")
        assert r.status_code == 403 and "cluster-c" in r.json()["message"]
        r = admin.post(f"{GROUP}/globalnetworksets",
                       json=gns("forged", labels={"federation.projectcalico.org/cluster": "z"}))
        assert r.status_code == 403
        r = admin.post(f"{GROUP}/federationexports", json={
            "apiVersion": "projectcalico.org/v3", "kind": "FederationExport",
            "metadata": {"name": "all-to-b"}, "spec": {"users": ["cluster-b"]}})
        assert r.status_code == 201, r.text
    with as_user(secured, "peer") as peer:
        listed = peer.get(f"{GROUP}/globalnetworksets").json()
        assert [o["metadata"]["name"] for o in listed["items"]] == ["local"]
        paged = peer.get(f"{GROUP}/globalnetworksets?limit=1").json()
        seen = [o["metadata"]["name"] for o in paged["items"]]
        while paged["metadata"].get("continue"):
            paged = peer.get(f"{GROUP}/globalnetworksets?limit=1&continue="
                             f"{paged['metadata']['continue']}").json()
            seen += [o["metadata"]["name"] for o in paged["items"]]
        assert seen == ["local"]
        table = peer.get(f"{GROUP}/globalnetworksets",
                         headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
        assert [row["cells"][0] for row in table["rows"]] == ["local"]
        assert peer.get(f"{GROUP}/globalnetworksets/cluster-c.x").status_code == 404
        with peer.stream("GET", f"{GROUP}/globalnetworksets?watch=1&timeoutSeconds=1") as resp:
            events = [json.loads(line) for line in resp.iter_lines() if line.strip()]
        assert [e["object"]["metadata"]["name"] for e in events] == ["local"]
        # changes after a resourceVersion: a copy appearing and going is never shown
        rv = listed["metadata"]["resourceVersion"]
        copy_y = gns("cluster-c.y", labels={"federation.projectcalico.org/cluster": "cluster-c"})
        etcdctl(clean_etcd.endpoint, "put", f"{KEY}/globalnetworksets/cluster-c.y", json.dumps(copy_y))
        etcdctl(clean_etcd.endpoint, "del", f"{KEY}/globalnetworksets/cluster-c.x")
        with as_user(secured, "admin") as admin:
            admin.post(f"{GROUP}/globalnetworksets", json=gns("local-2"))
        with peer.stream("GET", f"{GROUP}/globalnetworksets?watch=1&resourceVersion={rv}"
                         "&timeoutSeconds=1") as resp:
            events = [json.loads(line) for line in resp.iter_lines() if line.strip()]
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
            [("ADDED", "local-2")]


def test_tls_serving_with_client_certificates(clean_etcd, tmp_path):
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    admin_cert = ca.issue_cert("alice@example.com", common_name="alice",
                               organization_name="calico:admin")
    viewer_cert = ca.issue_cert("bob@example.com", common_name="bob",
                                organization_name="calico:viewer")
    paths = {}
    for name, blob in (("ca.pem", ca.cert_pem), ("server.pem", server_cert.cert_chain_pems[0]),
                       ("server.key", server_cert.private_key_pem)):
        blob.write_to_path(str(tmp_path / name))
        paths[name] = str(tmp_path / name)
    for who, cert in (("admin", admin_cert), ("viewer", viewer_cert)):
        cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / f"{who}.pem"))
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--listen", "0.0.0.0:0",
                            "--tls-cert-file", paths["server.pem"],
                            "--tls-private-key-file", paths["server.key"],
                            "--client-ca-file", paths["ca.pem"],
                            ca=paths["ca.pem"], cert=str(tmp_path / "admin.pem"))
    proc.args = [a if a != "0.0.0.0:0" else f"127.0.0.1:{proc.port}" for a in proc.args]
    proc.start()
    try:
        with proc.client() as admin:
            assert admin.post(f"{GROUP}/globalnetworksets", json=gns("tls")).status_code == 201
        with proc.client(cert=str(tmp_path / "viewer.pem")) as viewer:
            assert viewer.get(f"{GROUP}/globalnetworksets/tls").status_code == 200
            r = viewer.delete(f"{GROUP}/globalnetworksets/tls")
            assert r.status_code == 403 and '"bob"' in r.json()["message"]
        with proc.client(cert=None) as anonymous:
            assert anonymous.get(f"{GROUP}/globalnetworksets").status_code == 401
        with pytest.raises(httpx.HTTPError):
            httpx.get(proc.url.replace("https", "http") + "/healthz", timeout=3)
    finally:
        proc.stop()


def test_public_listener_is_allowed_with_insecure_flag_and_warns(clean_etcd):
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--insecure")
    proc.args[proc.args.index("--listen") + 1] = f"0.0.0.0:{proc.port}"
    proc.start()
    try:
        assert "without TLS and authentication" in proc.output()
    finally:
        proc.stop()


def test_etcd_over_tls_with_client_certificates(tmp_path):
    ca = trustme.CA()
    etcd_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("apiserver", common_name="apiserver")
    files = {"ca.pem": ca.cert_pem, "etcd.pem": etcd_cert.cert_chain_pems[0],
             "etcd.key": etcd_cert.private_key_pem, "client.pem": client_cert.cert_chain_pems[0],
             "client.key": client_cert.private_key_pem}
    for name, blob in files.items():
        blob.write_to_path(str(tmp_path / name))
    data = Path(tempfile.mkdtemp(prefix="etcd-tls-", dir=_tmp_root()))
    etcd = EmbeddedEtcd(data / "data", name="tls", scheme="https", extra_args=(
        "--cert-file", str(tmp_path / "etcd.pem"), "--key-file", str(tmp_path / "etcd.key"),
        "--client-cert-auth", "--trusted-ca-file", str(tmp_path / "ca.pem")))
    etcd.start()
    try:
        proc = ApiserverProcess(etcd.endpoint, "--no-federation",
                                "--etcd-cafile", str(tmp_path / "ca.pem"),
                                "--etcd-certfile", str(tmp_path / "client.pem"),
                                "--etcd-keyfile", str(tmp_path / "client.key")).start()
        try:
            with proc.client() as c:
                assert c.post(f"{GROUP}/globalnetworksets", json=gns("over-tls")).status_code == 201
                assert c.get(f"{GROUP}/globalnetworksets/over-tls").status_code == 200
        finally:
            proc.stop()
        no_cert = ApiserverProcess(etcd.endpoint, "--no-federation",
                                   "--etcd-cafile", str(tmp_path / "ca.pem")).start(wait=False)
        try:
            with pytest.raises(RuntimeError):
                no_cert.wait_ready(timeout=4)
        finally:
            no_cert.stop()
    finally:
        etcd.stop()
        shutil.rmtree(data, ignore_errors=True)
