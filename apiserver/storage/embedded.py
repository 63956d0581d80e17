"""A private etcd child process on free loopback ports (the zero-config default, and tests).

The etcd never outlives its owner. Spawned from the main thread, it gets SIGTERM when the
owner dies, however it dies (``PR_SET_PDEATHSIG``). And ``<data dir>/apiserver.lock``,
flock'ed by the owner while it runs, records the owner's and the etcd's pids: the next start on
that directory stops an etcd a dead owner left behind (one that was frozen when its owner was
killed, say), identified by pid, start time and a command line naming the directory, and
refuses, saying who, when a live process or an etcd nobody recorded holds the directory.
"""
from __future__ import annotations

import collections
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

LOCK_NAME = "apiserver.lock"
QUOTA_BYTES = 2 * 1024**3
"""etcd's database quota (etcd's own default): past it etcd raises its NOSPACE alarm and
refuses writes; the README's "Running it for months" says how to recover."""


class EmbeddedEtcdError(RuntimeError):
    """The embedded etcd cannot be started; the message says why, in one line."""


class EtcdNotInstalled(EmbeddedEtcdError):
    pass


class DataDirInUse(EmbeddedEtcdError):
    """Another live process holds the data directory (an apiserver, or an etcd on it)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedEtcd:
    """Start with ``start()`` (or ``spawn()`` then ``wait_ready()``), stop with ``stop()``;
    ``endpoint`` is its client URL.

    ``extra_args`` are appended to etcd's command line (TLS flags in tests, for example).
    Without ``log_file`` etcd's log lines go to this module's logger."""

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
        self._lock: int | None = None
        self._last_lines: collections.deque[str] = collections.deque(maxlen=5)

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
                "--quota-backend-bytes", str(QUOTA_BYTES), "--logger", "zap",
                "--log-level", "error", *self.extra_args]

    def start(self, *, timeout: float = 20.0) -> None:
        """``spawn()`` and ``wait_ready()``; an etcd that does not come up is stopped."""
        self.spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def spawn(self) -> None:
        """Lock the data directory (stopping an orphan etcd of ours found on it) and start etcd.

        Call it from the main thread so that etcd dies with this process: the kernel's
        parent-death signal follows the thread that forked, and another thread may end first
        (from one, only the lock file guards). Raises `EmbeddedEtcdError`, or OSError when the
        directory cannot be made."""
        command = self.command()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = _acquire(self.data_dir / LOCK_NAME)
        try:
            _stop_orphan(self._lock, self.data_dir)
            _refuse_foreign_etcd(self.data_dir)
            _write_record(self._lock, {"owner": os.getpid()})
            self._last_lines.clear()
            out: IO[bytes] | int = open(self.log_file, "ab") if self.log_file else subprocess.PIPE
            main_thread = threading.current_thread() is threading.main_thread()
            self.process = subprocess.Popen(
                _dying_with_parent(command) if main_thread else command,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            if self.log_file:
                out.close()
            else:
                threading.Thread(target=self._drain, args=(self.process.stdout,),
                                 name="etcd-log", daemon=True).start()
            _write_record(self._lock, {"owner": os.getpid(), "etcd": self.process.pid,
                                       "etcd_started": _start_time(self.process.pid)})
        except BaseException:
            self.stop()
            raise

    def _drain(self, stream: IO[bytes]) -> None:
        """Log etcd's lines (zap JSON at level error) and keep the last few for errors."""
        for raw in stream:
            line = _log_line(raw.decode(errors="replace").strip())
            if line:
                self._last_lines.append(line)
                log.warning("etcd: %s", line)
        stream.close()

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until etcd answers (its /health over http; its port for TLS endpoints)."""
        ready = self._healthy if self.scheme == "http" else self._listening
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                time.sleep(0.1)  # the log thread's last lines
                said = f": {self._last_lines[-1]}" if self._last_lines else ""
                raise EmbeddedEtcdError(
                    f"etcd (data in {self.data_dir}) exited with code {self.process.returncode}"
                    + said)
            if ready():
                return
            time.sleep(0.05)
        raise EmbeddedEtcdError(f"etcd (data in {self.data_dir}) was not ready within {timeout}s")

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
        """Stop etcd (SIGTERM, also woken if frozen; SIGKILL after 10 s) and free the directory."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.send_signal(signal.SIGCONT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._lock is not None:
            _write_record(self._lock, {})
            os.close(self._lock)  # releases the flock
            self._lock = None


def _dying_with_parent(command: list[str]) -> list[str]:
    """``command`` run so that the kernel SIGTERMs it when its parent dies: through util-linux's
    ``setpriv --pdeathsig`` (which then execs it, keeping the pid and the command line).

    Not a ``preexec_fn``: Python code between fork and exec runs gRPC's fork handlers, whose
    restarted poller thread can abort the child when the fds are closed (etcd "exited with
    code -6: epoll_wait error: Bad file descriptor"); without one, subprocess uses vfork."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        log.debug("setpriv not found: etcd is guarded by the lock file only")
        return command
    return [setpriv, "--pdeathsig", "TERM", "--", *command]


def _acquire(path: Path) -> int:
    """Open and flock ``path``; raise DataDirInUse naming the live holder."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = _read_record(fd).get("owner")
        os.close(fd)
        who = f"process {owner} ({_cmdline(owner)})" if isinstance(owner, int) else \
            "another process"
        raise DataDirInUse(f"etcd data directory {path.parent} is in use by {who}, which "
                           f"holds its lock file {path.name}: stop it or use another "
                           "--data-dir") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_record(fd: int) -> dict:
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _write_record(fd: int, record: dict) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode() + b"\n", 0)


def _stop_orphan(fd: int, data_dir: Path) -> None:
    """Stop the etcd the lock file records if it is still that process on ``data_dir`` (same
    pid and start time, a command line naming the directory): holding the lock, we know its
    owner is dead. SIGTERM (and SIGCONT, for a frozen one), SIGKILL after 10 s."""
    record = _read_record(fd)
    pid, started = record.get("etcd"), record.get("etcd_started")
    if not isinstance(pid, int) or not isinstance(started, int) or \
            not _alive(pid, started) or _etcd_dir(pid) != _real(data_dir):
        return
    log.warning("stopping etcd pid %d on %s, left running by apiserver pid %s", pid, data_dir,
                record.get("owner"))
    _signal(pid, signal.SIGTERM)
    _signal(pid, signal.SIGCONT)
    if _gone_within(pid, started, 10):
        return
    _signal(pid, signal.SIGKILL)
    if not _gone_within(pid, started, 10):
        raise DataDirInUse(f"etcd data directory {data_dir} is in use by etcd pid {pid}, left "
                           "running by a dead apiserver, which did not stop on SIGKILL")


def _gone_within(pid: int, started: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid, started):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _refuse_foreign_etcd(data_dir: Path) -> None:
    """Raise DataDirInUse if a live etcd that we did not record runs on ``data_dir``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if _etcd_dir(pid) == _real(data_dir) and _alive(pid, None):
                raise DataDirInUse(
                    f"etcd data directory {data_dir} is in use by etcd pid {pid}, which this "
                    "apiserver did not start: stop it or use another --data-dir")


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _alive(pid: int, started: int | None) -> bool:
    """Whether ``pid`` runs (a zombie holds nothing) and, given ``started``, is still the
    process that started then (not a reused pid)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z" and started in (None, int(stat[19]))


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: with the pid, its identity."""
    stat = _stat(pid)
    return int(stat[19]) if stat else None


def _stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from its third field (state) on; None for no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()[:200] or "?"
    except OSError:
        return "gone"


def _etcd_dir(pid: int) -> str | None:
    """The real path of the data directory of process ``pid`` if it is an etcd given one."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None
    if Path(args[0]).name != "etcd":
        return None
    value = None
    for flag, following in zip(args, args[1:] + [""]):
        if flag in ("--data-dir", "-data-dir"):
            value = following
        elif flag.startswith(("--data-dir=", "-data-dir=")):
            value = flag.partition("=")[2]
    return os.path.realpath(os.path.join(cwd, value)) if value else None


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _log_line(line: str) -> str:
    """One of etcd's zap JSON log lines as ``msg: error``; other lines as they are."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict):
        return line
    return ": ".join(str(entry[k]) for k in ("msg", "error") if k in entry) or line
