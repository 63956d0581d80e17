"""A private etcd child process on free loopback ports (the zero-config default, and tests)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


class EtcdNotInstalled(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedEtcd:
    """Start with ``start()``, stop with ``stop()``; ``endpoint`` is its client URL.

    ``extra_args`` are appended to etcd's command line (TLS flags in tests, for example)."""

    def __init__(self, data_dir: Path, *, name: str = "embedded", client_port: int = 0,
                 peer_port: int = 0, scheme: str = "http", extra_args: tuple[str, ...] = (),
                 log_file: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.name = name
        self.client_port = client_port or free_port()
        self.peer_port = peer_port or free_port()
        self.scheme = scheme
        self.extra_args = extra_args
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    def command(self) -> list[str]:
        binary = shutil.which("etcd")
        if binary is None:
            raise EtcdNotInstalled(
                "the 'etcd' binary is not on PATH: install the Debian package 'etcd-server' "
                "(apt-get install -y etcd-server) or pass --etcd-endpoints")
        peer = f"http://127.0.0.1:{self.peer_port}"
        return [binary, "--name", self.name, "--data-dir", str(self.data_dir),
                "--listen-client-urls", self.endpoint, "--advertise-client-urls", self.endpoint,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"{self.name}={peer}",
                "--heartbeat-interval", "10", "--election-timeout", "100",
                "--quota-backend-bytes", str(8 * 1024**3), "--logger", "zap",
                "--log-level", "error", *self.extra_args]

    def start(self, *, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command(), stdout=out, stderr=out,
                                        stdin=subprocess.DEVNULL)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until etcd answers (its /health over http; its port for TLS endpoints)."""
        ready = self._healthy if self.scheme == "http" else self._listening
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with code {self.process.returncode}")
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"etcd was not ready within {timeout}s")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as resp:
                return b'"true"' in resp.read()
        except OSError:
            return False

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.client_port), timeout=1).close()
        except OSError:
            return False
        time.sleep(0.3)
        return True

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
