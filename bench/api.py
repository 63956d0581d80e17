"""API throughput and latency against a real apiserver subprocess + etcd; prints figures.

    .venv/bin/python bench/api.py [--objects 5000] [--concurrency 64]

Figures: creates/s (concurrent), get p50/p99, list time of all objects, patch/s, RSS.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from apiserver.storage.embedded import free_port  # noqa: E402

GROUP = "/apis/projectcalico.org/v3"


def netset(i: int) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": f"set-{i:05d}", "labels": {"team": f"t{i % 10}"}},
            "spec": {"nets": [f"10.{i // 256 % 256}.{i % 256}.{j * 8}/29" for j in range(20)]}}


class Response:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content
        self.text = content.decode(errors="replace")

    def json(self):
        return json.loads(self.content)


class Client:
    """A thin aiohttp client (httpx's pool costs more CPU than the server at 64 connections)."""

    def __init__(self, url: str, concurrency: int) -> None:
        self.url, self.concurrency = url, concurrency

    async def __aenter__(self) -> "Client":
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.concurrency))
        return self

    async def __aexit__(self, *exc) -> None:
        await self.session.close()

    async def request(self, method: str, path: str, *, json_body=None, content=None,
                      headers=None) -> Response:
        data = json.dumps(json_body) if json_body is not None else content
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.request(method, self.url + path, data=data, headers=hdrs) as r:
            return Response(r.status, await r.read())

    async def get(self, path: str) -> Response:
        return await self.request("GET", path)

    async def post(self, path: str, json=None) -> Response:
        return await self.request("POST", path, json_body=json)

    async def patch(self, path: str, content: str, headers: dict) -> Response:
        return await self.request("PATCH", path, content=content, headers=headers)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(url: str, objects: int, concurrency: int) -> None:
    sem = asyncio.Semaphore(concurrency)
    async with Client(url, concurrency) as c:
        async def create(i: int) -> None:
            async with sem:
                r = await c.post(f"{GROUP}/globalnetworksets", json=netset(i))
                assert r.status_code == 201, r.text

        t = time.perf_counter()
        await asyncio.gather(*(create(i) for i in range(objects)))
        dt = time.perf_counter() - t
        print(f"create: {objects} objects in {dt:.2f}s = {objects / dt:,.0f}/s "
              f"(concurrency {concurrency})")

        lat = []
        for i in range(0, objects, max(1, objects // 500)):
            t = time.perf_counter()
            r = await c.get(f"{GROUP}/globalnetworksets/set-{i:05d}")
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200
        lat.sort()
        print(f"get: p50 {statistics.median(lat) * 1e3:.2f} ms, "
              f"p99 {lat[int(len(lat) * 0.99) - 1] * 1e3:.2f} ms (sequential)")

        t = time.perf_counter()
        r = await c.get(f"{GROUP}/globalnetworksets")
        dt = time.perf_counter() - t
        print(f"list: {len(r.json()['items'])} objects, {len(r.content) / 1e6:.1f} MB in "
              f"{dt * 1e3:.0f} ms")

        async def patch(i: int) -> None:
            async with sem:
                r = await c.patch(f"{GROUP}/globalnetworksets/set-{i:05d}",
                                  content='{"metadata":{"labels":{"patched":"yes"}}}',
                                  headers={"Content-Type": "application/merge-patch+json"})
                assert r.status_code == 200, r.text
        n = min(objects, 2000)
        t = time.perf_counter()
        await asyncio.gather(*(patch(i) for i in range(n)))
        dt = time.perf_counter() - t
        print(f"patch: {n} in {dt:.2f}s = {n / dt:,.0f}/s")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--objects", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=64)
    a = p.parse_args()
    data = tempfile.mkdtemp(prefix="bench-api-", dir="/dev/shm")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "apiserver", "--listen", f"127.0.0.1:{port}",
                             "--data-dir", data, "--no-federation", "--log-level", "warning"],
                            cwd=REPO)
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        asyncio.run(run(url, a.objects, a.concurrency))
        print(f"apiserver RSS: {rss_mib(proc.pid):.0f} MiB")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
