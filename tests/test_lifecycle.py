"""The apiserver's life as a process, against real processes: its embedded etcd lives and dies
with it, it installs from a wheel into a fresh virtualenv and serves, and a bad flag is one
line at start-up (exit code 2) before anything has started."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography.hazmat.primitives import serialization


from calicomodel.validation import SCHEMAS, MissingSchemas, Validator
from apiserver.storage.embedded import EmbeddedEtcd, free_port

from conftest import GROUP, REPO, ApiserverProcess, gns


def etcds_on(data_dir: Path) -> list[int]:
    """The pids of live (not zombie) etcd processes whose command line names ``data_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().decode().split("\0")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, ValueError):
            continue
        if Path(args[0]).name == "etcd" and str(data_dir) in args and state != "Z":
            found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def eventually(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.05)


def run_apiserver(*args: str, cwd: Path = REPO, program: tuple[str, ...] | None = None
                  ) -> subprocess.CompletedProcess:
    """An apiserver run expected to exit by itself (with its stderr)."""
    command = program or (sys.executable, "-m", "apiserver")
    return subprocess.run([*command, "--listen", f"127.0.0.1:{free_port()}", *args],
                          capture_output=True, text=True, timeout=90, cwd=cwd)


def last_line(out: subprocess.CompletedProcess) -> str:
    """The closing line of a failed start, after checking it is no traceback."""
    assert "Traceback" not in out.stderr, out.stderr
    return out.stderr.strip().splitlines()[-1]


def test_sigkill_of_the_apiserver_takes_its_etcd_with_it(tmp_path):
    data = tmp_path / "etcd"
    proc = ApiserverProcess(None, "--no-federation", data_dir=str(data)).start()
    try:
        [etcd] = etcds_on(data)
        assert parent_of(etcd) == proc.proc.pid
        proc.proc.kill()
        proc.proc.wait()
        eventually(lambda: not etcds_on(data), 5, "etcd gone after its apiserver's SIGKILL")
    finally:
        proc.stop()
    again = ApiserverProcess(None, "--no-federation", data_dir=str(data)).start()
    again.stop()


def test_a_restart_stops_the_etcd_its_killed_predecessor_left_behind(tmp_path):
    """A frozen etcd does not act on its parent-death signal: it outlives a SIGKILLed
    apiserver, and the next start on its data directory must find it and stop it."""
    data = tmp_path / "etcd"
    first = ApiserverProcess(None, "--no-federation", data_dir=str(data)).start()
    [orphan] = etcds_on(data)
    try:
        with first.client() as c:
            assert c.post(f"{GROUP}/globalnetworksets", json=gns("kept", [])).status_code == 201
        os.kill(orphan, signal.SIGSTOP)
        first.proc.kill()
        first.proc.wait()
        time.sleep(0.5)
        assert etcds_on(data) == [orphan], "the frozen etcd outlived its apiserver"
        second = ApiserverProcess(None, "--no-federation", data_dir=str(data)).start()
        try:
            assert orphan not in etcds_on(data)
            assert len(etcds_on(data)) == 1
            assert f"stopping etcd pid {orphan}" in second.output()
            with second.client() as c:
                assert c.get(f"{GROUP}/globalnetworksets/kept").status_code == 200
        finally:
            second.stop()
        assert not etcds_on(data)
    finally:
        if orphan in etcds_on(data):
            os.kill(orphan, signal.SIGKILL)


def test_a_second_apiserver_on_a_data_dir_in_use_says_who_holds_it(tmp_path):
    data = tmp_path / "etcd"
    first = ApiserverProcess(None, "--no-federation", data_dir=str(data)).start()
    try:
        [etcd] = etcds_on(data)
        out = run_apiserver("--no-federation", "--data-dir", str(data))
        assert out.returncode == 1
        line = last_line(out)
        assert f"is in use by process {first.proc.pid}" in line and "--data-dir" in line, line
        assert etcds_on(data) == [etcd]
        with first.client() as c:
            assert c.get("/readyz").status_code == 200
    finally:
        first.stop()


def test_an_etcd_that_no_apiserver_started_on_the_data_dir_is_named_not_stopped(tmp_path):
    data = tmp_path / "etcd"
    data.mkdir()
    foreign = EmbeddedEtcd(data, name="foreign")
    foreign.process = subprocess.Popen(foreign.command(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
    try:
        foreign.wait_ready()
        out = run_apiserver("--no-federation", "--data-dir", str(data))
        assert out.returncode == 1
        line = last_line(out)
        assert f"in use by etcd pid {foreign.process.pid}, which this apiserver did not " \
               "start" in line, line
        assert etcds_on(data) == [foreign.process.pid]
    finally:
        foreign.stop()


def test_a_start_that_fails_stops_the_etcd_it_started(tmp_path):
    data = tmp_path / "etcd"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "apiserver", "--listen", f"127.0.0.1:{port}",
                              "--no-federation", "--data-dir", str(data)],
                             capture_output=True, text=True, timeout=90, cwd=REPO)
    assert out.returncode == 1
    assert "address already in use" in last_line(out)
    assert (data / "member").is_dir(), "etcd had started"
    assert not etcds_on(data)
    again = ApiserverProcess(None, "--no-federation", data_dir=str(data)).start()
    again.stop()


def test_the_validator_refuses_a_schema_directory_missing_a_served_kind(tmp_path):
    for schema in SCHEMAS.glob("*.json"):
        if schema.name != "remoteclusterconfiguration.json":
            shutil.copy(schema, tmp_path)
    with pytest.raises(MissingSchemas, match="for RemoteClusterConfiguration: "):
        Validator(tmp_path)


def test_the_wheel_installs_into_a_fresh_venv_and_serves(tmp_path, clean_etcd):
    """Built from a copy (the work tree stays clean), installed with no dependencies into a
    venv that sees the project venv's packages through a .pth file, run from outside the repo."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src)
    for name in ("apiserver", "calicomodel", "ctl", "schemas"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, cwd=src, timeout=300)
    [wheel] = (tmp_path / "dist").glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    for init in [*REPO.glob("apiserver/**/__init__.py"), *REPO.glob("calicomodel/**/__init__.py"),
                 *REPO.glob("ctl/**/__init__.py")]:
        assert str(init.relative_to(REPO)) in shipped, f"pyproject.toml omits {init.parent}"
    for schema in SCHEMAS.glob("*.json"):
        assert f"calicomodel/schemas/{schema.name}" in shipped

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True).stdout
    (Path(site.strip()) / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([str(python), "-c", "import calicomodel.validation as v; print(v.SCHEMAS)"],
                           capture_output=True, text=True, check=True, cwd=outside).stdout
    assert where.strip() == f"{site.strip()}/calicomodel/schemas"

    port = free_port()
    server = subprocess.Popen([str(venv / "bin" / "apiserver"), "--listen", f"127.0.0.1:{port}",
                               "--etcd-endpoints", clean_etcd.endpoint, "--no-federation"],
                              cwd=outside, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            def created() -> bool:
                assert server.poll() is None, server.stderr.read()
                try:
                    return c.post(f"{GROUP}/globalnetworksets",
                                  json=gns("from-wheel", ["10.0.0.0/8"])).status_code == 201
                except httpx.HTTPError:
                    return False
            eventually(created, 30, "a create on the installed apiserver")
            assert c.get(f"{GROUP}/globalnetworksets/from-wheel").json()["spec"]["nets"] == \
                ["10.0.0.0/8"]
    finally:
        server.terminate()
        server.wait(15)

    # an installation without a served kind's schema refuses to start, and stops its etcd
    (Path(where.strip()) / "remoteclusterconfiguration.json").unlink()
    data = tmp_path / "etcd"
    out = run_apiserver("--no-federation", "--data-dir", str(data), cwd=outside,
                        program=(str(venv / "bin" / "apiserver"),))
    assert out.returncode == 1
    assert "no JSON Schema" in last_line(out) and "RemoteClusterConfiguration" in last_line(out)
    assert not etcds_on(data)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Certificates, keys and token files, good and bad, for the flag checks."""
    d = tmp_path_factory.mktemp("flags")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    trustme.CA().issue_cert("other").private_key_pem.write_to_path(str(d / "other.key"))
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    (d / "encrypted.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase")))
    (d / "empty").write_text("")
    (d / "tokens.csv").write_text('t1,alice,1,"calico:admin"\n# a comment\nt3,bob\n')
    (d / "latin1.csv").write_bytes("t1,jos\xe9,1\n".encode("latin-1"))
    (d / "a-file").write_text("x")
    return d


ETCD = ("--etcd-endpoints", "http://127.0.0.1:1")
BAD_FLAGS = [
    (("--log-level", "loud"), "argument --log-level: invalid choice: 'loud'"),
    (("--listen", "127.0.0.1"), "--listen 127.0.0.1: expected HOST:PORT"),
    (("--listen", "127.0.0.1:70000"), "--listen 127.0.0.1:70000: expected HOST:PORT"),
    (("--listen", "127.0.0.1:\u00b2"), "--listen 127.0.0.1:\u00b2: expected HOST:PORT"),
    (("--etcd-endpoints", "ftp://127.0.0.1:2379"), "--etcd-endpoints 'ftp://127.0.0.1:2379'"),
    (("--etcd-endpoints", "http://127.0.0.1:port"), "--etcd-endpoints 'http://127.0.0.1:port'"),
    (("--request-timeout", "0"), "argument --request-timeout: 0 is not above 0"),
    (("--max-request-bytes", "lots"), "argument --max-request-bytes: 'lots' is not an integer"),
    (("--max-watches-per-client", "-1"), "argument --max-watches-per-client: -1 is not 0 or"),
    (("--cluster-name", "Cluster_A"), "--cluster-name 'Cluster_A': expected a DNS subdomain"),
    (("--no-such-flag",), "unrecognized arguments: --no-such-flag"),
    (("--token-auth-file", "{d}/tokens.csv"), "--token-auth-file {d}/tokens.csv:3: expected "
                                              "token,user,uid"),
    (("--token-auth-file", "{d}/missing.csv"), "--token-auth-file {d}/missing.csv: no such file"),
    (("--token-auth-file", "{d}"), "--token-auth-file {d}: is a directory"),
    (("--token-auth-file", "{d}/latin1.csv"), "--token-auth-file {d}/latin1.csv: not UTF-8"),
    (("--tls-cert-file", "{d}/cert.pem"), "--tls-cert-file needs --tls-private-key-file"),
    (("--tls-private-key-file", "{d}/key.pem"), "--tls-private-key-file needs --tls-cert-file"),
    (("--tls-cert-file", "{d}/nope.pem", "--tls-private-key-file", "{d}/key.pem"),
     "--tls-cert-file {d}/nope.pem: no such file or directory"),
    (("--tls-cert-file", "{d}/empty", "--tls-private-key-file", "{d}/key.pem"),
     "--tls-cert-file {d}/empty: no PEM certificate in it"),
    (("--tls-cert-file", "{d}/cert.pem", "--tls-private-key-file", "{d}/cert.pem"),
     "--tls-private-key-file {d}/cert.pem: no PEM private key in it"),
    (("--tls-cert-file", "{d}/cert.pem", "--tls-private-key-file", "{d}/encrypted.key"),
     "--tls-private-key-file {d}/encrypted.key: the private key is encrypted"),
    (("--tls-cert-file", "{d}/cert.pem", "--tls-private-key-file", "{d}/other.key"),
     "--tls-cert-file {d}/cert.pem with --tls-private-key-file {d}/other.key: key values "
     "mismatch"),
    (("--tls-cert-file", "{d}/cert.pem", "--tls-private-key-file", "{d}/key.pem",
      "--client-ca-file", "{d}/key.pem"), "--client-ca-file {d}/key.pem: no PEM CA certificate"),
    (("--client-ca-file", "{d}/ca.pem"), "--client-ca-file needs --tls-cert-file"),
    ((*ETCD, "--etcd-certfile", "{d}/cert.pem"), "--etcd-certfile needs --etcd-keyfile"),
    ((*ETCD, "--etcd-cafile", "{d}/missing.pem"), "--etcd-cafile {d}/missing.pem: no such file"),
    ((*ETCD, "--etcd-certfile", "{d}/key.pem", "--etcd-keyfile", "{d}/key.pem"),
     "--etcd-certfile {d}/key.pem: no PEM certificate in it"),
    (("--etcd-cafile", "{d}/ca.pem"), "--etcd-cafile needs --etcd-endpoints"),
    ((*ETCD, "--data-dir", "{d}/etcd"), "--data-dir is the embedded etcd's"),
    (("--data-dir", "{d}/a-file"), "--data-dir {d}/a-file: not a directory"),
    (("--federation-credentials-dir", "{d}/a-file"),
     "--federation-credentials-dir {d}/a-file: not a directory"),
    (("--listen", "0.0.0.0:0", *ETCD), "refusing to listen on 0.0.0.0 without TLS"),
]


@pytest.mark.parametrize("args, says", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_a_bad_flag_is_one_line_and_exit_code_2(files, tmp_path, args, says):
    args = [a.format(d=files) for a in args]
    data = tmp_path / "etcd"
    if "--etcd-endpoints" not in args and "--data-dir" not in args:
        args += ["--data-dir", str(data)]
    command = [sys.executable, "-m", "apiserver", *args]
    if "--listen" not in args:
        command += ["--listen", f"127.0.0.1:{free_port()}"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("apiserver: " + says.format(d=files)), out.stderr
    assert not data.exists(), "etcd was started"
