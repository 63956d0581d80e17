"""Helpers for the ctl tests: a real apiserver subprocess shared by a module, a datastore
reset between tests that keeps the server's built-ins, and ``ctl`` run as a subprocess."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from calicomodel.builtins import builtins
from calicomodel.catalog import Catalog
from conftest import GROUP, REPO, ApiserverProcess, etcdctl

PREFIX = "/calico/"


@dataclass(frozen=True)
class Run:
    """One finished ctl invocation."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout then stderr, as calicoctl's system tests captured them."""
        return self.stdout + self.stderr


def ctl(server: str, *args: str, stdin: str | bytes | None = None,
        env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120) -> Run:
    """``python -m ctl ARGS`` against ``server`` (via CALICO_APISERVER); ``stdin`` text is
    sent as UTF-8, bytes as they are."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALICO_")}
    environ.update({"CALICO_APISERVER": server, "PYTHONPATH": str(REPO)})
    environ.update(env or {})
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run([sys.executable, "-m", "ctl", *args], input=data, env=environ,
                          capture_output=True, timeout=timeout, cwd=cwd or REPO)
    return Run(proc.returncode, proc.stdout.decode(errors="replace"),
               proc.stderr.decode(errors="replace"))


class Datastore:
    """The etcd behind a shared apiserver: ``reset()`` restores the state right after the
    server's start (built-in tiers, ClusterInformation) and removes everything else."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.baseline = self.snapshot()

    def snapshot(self) -> dict[str, bytes]:
        data = json.loads(etcdctl(self.endpoint, "get", "--prefix", PREFIX, "-w", "json"))
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"])
                for kv in data.get("kvs") or []}

    def reset(self) -> None:
        etcdctl(self.endpoint, "del", "--prefix", PREFIX)
        for key, value in self.baseline.items():
            self.put(key, value)

    def put(self, key: str, value: bytes) -> None:
        env = {**os.environ, "ETCDCTL_API": "3"}
        subprocess.run(["etcdctl", f"--endpoints={self.endpoint}", "put", key], input=value,
                       env=env, check=True, capture_output=True, timeout=30)

    def get_json(self, key: str) -> dict:
        return json.loads(self.snapshot()[key])


def start_server(etcd_endpoint: str, *extra: str) -> ApiserverProcess:
    """A fresh datastore and an apiserver subprocess on it, once every built-in object
    exists (a ``Datastore`` snapshot taken then holds them all; caller stops it)."""
    etcdctl(etcd_endpoint, "del", "--prefix", PREFIX)
    server = ApiserverProcess(etcd_endpoint, "--no-federation", *extra).start()
    with server.client() as client:
        for obj in builtins():
            path = f"{GROUP}/{Catalog().kind(obj['kind']).plural}/{obj['metadata']['name']}"
            for _ in range(200):
                if client.get(path).status_code == 200:
                    break
                time.sleep(0.05)
    return server


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def ctl_env(etcd):
    """(server URL, Datastore): one apiserver per test module on the session's etcd."""
    server = start_server(etcd.endpoint)
    store = Datastore(etcd.endpoint)
    yield server.url, store
    server.stop()


@pytest.fixture
def run(ctl_env, tmp_path: Path):
    """``run(*args, stdin=None, server=None)`` → Run, on a datastore reset to the server's
    built-ins (``server``: another apiserver's URL)."""
    url, store = ctl_env
    store.reset()

    def call(*args: str, stdin: str | None = None, server: str | None = None, **kw):
        return ctl(server or url, *args, stdin=stdin, cwd=tmp_path, **kw)
    return call
