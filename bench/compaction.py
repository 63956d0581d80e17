"""etcd's size after a churn of updates, with the server compacting and without, in one run.

    .venv/bin/python bench/compaction.py [--seconds 60] [--rate 200] [--interval 5s]

Each phase starts its own etcd and apiserver, updates 100 GlobalNetworkSets at ``--rate``
writes/s for ``--seconds``, then prints etcd's database size and the part in use
(``name: value unit (ratio vs baseline)``, the baseline being the run without compaction), and
the size after ``etcdctl defrag`` — the documented way to give the space back to the disk.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from apiserver.storage.embedded import EmbeddedEtcd, free_port  # noqa: E402

GROUP = "/apis/projectcalico.org/v3"


def etcd_sizes(endpoint: str) -> tuple[float, float]:
    """(dbSize, dbSizeInUse) in MiB."""
    out = subprocess.run(["etcdctl", f"--endpoints={endpoint}", "endpoint", "status", "-w", "json"],
                         env={**os.environ, "ETCDCTL_API": "3"}, capture_output=True, text=True,
                         check=True).stdout
    status = json.loads(out)[0]["Status"]
    return status["dbSize"] / 2**20, status.get("dbSizeInUse", status["dbSize"]) / 2**20


async def churn(url: str, seconds: float, rate: float) -> int:
    async with aiohttp.ClientSession(url) as s:
        for i in range(100):
            body = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                    "metadata": {"name": f"churn-{i}"},
                    "spec": {"nets": [f"10.{i}.{j}.0/24" for j in range(20)]}}
            async with s.post(f"{GROUP}/globalnetworksets", json=body) as r:
                assert r.status == 201, await r.text()
        writes, start = 0, time.monotonic()
        while time.monotonic() - start < seconds:
            patch = {"metadata": {"annotations": {"n": str(writes)}}}
            async with s.patch(f"{GROUP}/globalnetworksets/churn-{writes % 100}", json=patch,
                               headers={"Content-Type": "application/merge-patch+json"}) as r:
                assert r.status == 200, await r.text()
            writes += 1
            await asyncio.sleep(max(0.0, start + writes / rate - time.monotonic()))
        return writes


def phase(interval: str, seconds: float, rate: float) -> tuple[float, float, float, int]:
    work = Path(tempfile.mkdtemp(prefix="bench-compaction-", dir="/dev/shm"))
    etcd = EmbeddedEtcd(work / "etcd", name="churn")
    etcd.start()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "apiserver", "--listen", f"127.0.0.1:{port}",
                             "--etcd-endpoints", etcd.endpoint, "--no-federation", "--workers",
                             "1", "--log-level", "warning", "--etcd-compaction-interval",
                             interval], cwd=REPO)
    try:
        url = f"http://127.0.0.1:{port}"
        import httpx
        for _ in range(200):
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        writes = asyncio.run(churn(url, seconds, rate))
        size, in_use = etcd_sizes(etcd.endpoint)
        subprocess.run(["etcdctl", f"--endpoints={etcd.endpoint}", "defrag"],
                       env={**os.environ, "ETCDCTL_API": "3"}, capture_output=True, check=True)
        return size, in_use, etcd_sizes(etcd.endpoint)[0], writes
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        etcd.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--interval", default="5s")
    a = p.parse_args()
    base_size, base_use, base_defrag, writes = phase("0", a.seconds, a.rate)
    print(f"writes per phase: {writes:,} updates of 100 sets", flush=True)
    print(f"etcd size, never compacted: {base_size:.1f} MiB (in use {base_use:.1f} MiB, "
          f"{base_defrag:.1f} MiB after defrag)", flush=True)
    size, in_use, defragged, _ = phase(a.interval, a.seconds, a.rate)
    print(f"etcd size, compacted every {a.interval}: {size:.1f} MiB "
          f"({size / base_size:.2f}x never compacted)")
    print(f"etcd size in use, compacted every {a.interval}: {in_use:.1f} MiB "
          f"({in_use / base_use:.2f}x never compacted)")
    print(f"etcd size after defrag, compacted every {a.interval}: {defragged:.1f} MiB "
          f"({defragged / base_defrag:.2f}x never compacted)")


if __name__ == "__main__":
    main()
