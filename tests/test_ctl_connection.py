"""ctl's connection handling: flags, env, CalicoAPIConfig files, tokens, TLS, and one clear
line (never a traceback) when the server is unreachable, slow or not an apiserver."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ApiserverProcess, etcdctl
from ctl_harness import ctl, write

TOKEN = "s3cr3t-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def secured(etcd, tmp_path_factory):
    """An apiserver on TLS with token authentication."""
    etcdctl(etcd.endpoint, "del", "--prefix", "/calico/")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"),
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    _client_certificate(d)
    write(d / "tokens.csv", f'{TOKEN},admin,1,"calico:admin"\n')
    proc = ApiserverProcess(etcd.endpoint, "--no-federation", "--token-auth-file",
                            str(d / "tokens.csv"), "--tls-cert-file", str(d / "cert.pem"),
                            "--tls-private-key-file", str(d / "key.pem"),
                            "--client-ca-file", str(d / "client-ca.pem"))
    proc.url = proc.url.replace("http://", "https://")
    proc.start(wait=False)
    _wait_tls(proc, d / "cert.pem")
    yield proc.url, d
    proc.stop()


def _client_certificate(d: Path) -> None:
    """A client CA and a certificate it signed for user admin in group calico:admin."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
            "-keyout", str(d / "client-ca.key"), "-out", str(d / "client-ca.pem"))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=admin/O=calico:admin",
            "-keyout", str(d / "client.key"), "-out", str(d / "client.csr"))
    openssl("x509", "-req", "-in", str(d / "client.csr"), "-CA", str(d / "client-ca.pem"),
            "-CAkey", str(d / "client-ca.key"), "-CAcreateserial", "-days", "2",
            "-out", str(d / "client.pem"))


def _wait_tls(proc: ApiserverProcess, ca: Path) -> None:
    for _ in range(300):
        r = ctl(proc.url, "get", "tiers", "--certificate-authority", str(ca), "--token", TOKEN)
        if r.code == 0 and "default" in r.stdout:
            return
        if proc.proc.poll() is not None:
            raise RuntimeError(proc.output())
    raise RuntimeError(f"TLS apiserver never became ready: {proc.output()}")


def test_token_flag_env_and_config_file(secured, tmp_path):
    url, d = secured
    ca = str(d / "cert.pem")
    assert ctl(url, "get", "tiers", "--certificate-authority", ca, "--token", TOKEN).code == 0
    r = ctl(url, "get", "tiers", "--certificate-authority", ca)
    assert r.code == 1 and r.stdout == "" and len(r.stderr.splitlines()) == 1
    assert ctl(url, "--token", TOKEN, "get", "tiers", "--certificate-authority", ca).code == 0
    assert ctl(url, "get", "tiers", "--certificate-authority", ca,
               env={"CALICO_TOKEN": TOKEN}).code == 0
    write(tmp_path / "token", TOKEN + "\n")
    cfg = write(tmp_path / "calicoctl.cfg", textwrap.dedent(f"""\
        apiVersion: projectcalico.org/v3
        kind: CalicoAPIConfig
        metadata: {{}}
        spec:
          datastoreType: etcdv3
          apiServer: {url}
          tokenFile: {tmp_path / 'token'}
          caFile: {ca}
        """))
    r = ctl("http://127.0.0.1:9", "get", "tiers", "-c", str(cfg))
    assert r.code == 0 and r.stdout.startswith("NAME"), r
    r = ctl("http://127.0.0.1:9", "--config", str(cfg), "get", "tiers")
    assert r.code == 0, r


def test_server_flag_wins_over_the_environment(secured):
    url, d = secured
    auth = ("--certificate-authority", str(d / "cert.pem"), "--token", TOKEN)
    r = ctl("http://127.0.0.1:9", "get", "tiers", "--server", url, *auth)
    assert r.code == 0 and r.stdout.startswith("NAME"), r
    r = ctl("http://127.0.0.1:9", "--server", url, "get", "tiers", *auth)
    assert r.code == 0, r
    r = ctl(url, "get", "tiers", "--server", "http://127.0.0.1:9", *auth)
    assert r.code == 1 and r.stderr.startswith("cannot reach the apiserver at "
                                               "http://127.0.0.1:9: "), r


def test_context_is_accepted_and_ignored(secured, tmp_path):
    """calicoctl's --context picks a kubeconfig context; ctl talks to one apiserver."""
    url, d = secured
    auth = ("--certificate-authority", str(d / "cert.pem"), "--token", TOKEN)
    r = ctl(url, "--context", "main", "get", "tiers", *auth)
    assert r.code == 0 and r.stdout.startswith("NAME"), r
    r = ctl(url, "get", "tiers", "default", "--context=second", "-o", "yaml", *auth)
    assert r.code == 0 and "name: default" in r.stdout, r
    f = write(tmp_path / "tier.yaml", "apiVersion: projectcalico.org/v3\nkind: Tier\n"
                                      "metadata: {name: ctx}\nspec: {order: 10}\n")
    for verb in ("create", "apply", "replace"):
        r = ctl(url, verb, "-f", str(f), "--context", "main", *auth)
        assert r.code == 0, (verb, r)
    r = ctl(url, "delete", "tier", "ctx", "--context", "main", *auth)
    assert (r.code, r.stdout) == (0, "Successfully deleted 1 'Tier' resource(s)\n")


def test_client_certificate(secured):
    url, d = secured
    r = ctl(url, "get", "tiers", "--certificate-authority", str(d / "cert.pem"),
            "--client-certificate", str(d / "client.pem"), "--client-key", str(d / "client.key"))
    assert r.code == 0 and r.stdout.startswith("NAME"), r
    r = ctl(url, "--client-certificate", str(d / "nosuch.pem"), "get", "tiers")
    assert r.code == 1 and len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr


def test_tls_without_the_ca_is_one_line(secured):
    url, _ = secured
    r = ctl(url, "get", "tiers", "--token", TOKEN)
    assert r.code == 1 and r.stderr.startswith(f"cannot reach the apiserver at {url}: ")
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
    r = ctl(url, "get", "tiers", "--certificate-authority", "/nonexistent/ca.pem")
    assert r.code == 1 and len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr


def test_config_file_errors(tmp_path):
    r = ctl("http://127.0.0.1:9", "get", "tiers", "-c", str(tmp_path / "missing.cfg"))
    assert (r.code, r.stdout) == (1, f"Error reading config file: {tmp_path / 'missing.cfg'}\n")
    bad = write(tmp_path / "bad.cfg", "apiVersion: v1\nkind: Config\n")
    r = ctl("http://127.0.0.1:9", "get", "tiers", "-c", str(bad))
    assert r.code == 1 and r.stderr.startswith(f"invalid config file: {bad}")
    broken = write(tmp_path / "broken.cfg", "spec: [\n")
    r = ctl("http://127.0.0.1:9", "get", "tiers", "-c", str(broken))
    assert r.code == 1 and r.stderr.startswith(f"syntax error in {broken}")
    r = ctl("http://127.0.0.1:9", "get", "tiers", "--timeout", "soon")
    assert r.code == 1 and r.stderr.startswith("invalid timeout 'soon'")


def test_unreachable_server_is_one_line():
    r = ctl("http://127.0.0.1:9", "get", "ippool")
    assert r.code == 1 and r.stdout == ""
    assert r.stderr.startswith("cannot reach the apiserver at http://127.0.0.1:9: ")
    assert len(r.stderr.splitlines()) == 1


def test_silent_server_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        r = ctl(url, "get", "ippool", "--timeout", "0.5s")
    assert r.code == 1
    assert r.stderr == f"request to {url} timed out after 0.5s\n"


def test_garbage_server_is_one_line(tmp_path):
    port = _free_port()
    script = textwrap.dedent(f"""\
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers(); self.wfile.write(b"<html>hi")
            def log_message(self, *a): pass
        HTTPServer(("127.0.0.1", {port}), H).serve_forever()
        """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            r = ctl(url, "get", "ippool")
            if "cannot reach" not in r.stderr:
                break
        assert r.code == 1
        assert r.stderr == f"unexpected response from {url} (HTTP 200): <html>hi\n"
    finally:
        proc.terminate()
        proc.wait()
