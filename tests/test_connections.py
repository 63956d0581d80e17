"""Connections are bounded: idle and slow clients are cut, the excess is refused cleanly, and
none of it slows down a client that behaves. Real sockets against a real apiserver process."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from conftest import GROUP, ApiserverProcess, gns


@pytest.fixture
def guarded(clean_etcd):
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--header-timeout", "2",
                            "--idle-timeout", "3", "--max-connections", "1500").start()
    yield proc
    proc.stop()


async def _open(port: int, first: bytes = b""):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if first:
        writer.write(first)
        await writer.drain()
    return reader, writer


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
        return True
    except (TimeoutError, ConnectionError):
        return False


async def test_a_thousand_idle_and_slow_connections_do_not_slow_down_a_good_client(guarded):
    idle = [await _open(guarded.port) for _ in range(500)]
    slow = [await _open(guarded.port, b"GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            for _ in range(500)]
    timings = []
    async with httpx.AsyncClient(base_url=guarded.url, timeout=5) as c:
        for i in range(40):
            start = time.monotonic()
            r = await c.post(f"{GROUP}/globalnetworksets", json=gns(f"g{i}", ["10.0.0.0/8"]))
            assert r.status_code == 201, r.text
            timings.append(time.monotonic() - start)
            await asyncio.sleep(0.05)
    timings.sort()
    print(f"with 1000 idle/slow connections: median {timings[20] * 1000:.1f} ms, "
          f"slowest {timings[-1] * 1000:.1f} ms")
    assert timings[-1] < 1.0, timings
    # the slow ones are cut after the header timeout, the idle ones after the idle timeout
    cut = await asyncio.gather(*(_closed_by_server(r, 6) for r, _ in slow + idle))
    assert all(cut), f"{cut.count(False)} connections were left open"
    for _, w in idle + slow:
        w.close()


async def test_a_trickled_body_is_cut(guarded):
    reader, writer = await _open(guarded.port, (
        f"POST {GROUP}/globalnetworksets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        "\r\nContent-Length: 200\r\n\r\n{").encode())
    start = time.monotonic()
    answer = await asyncio.wait_for(reader.read(65536), 10)
    assert b" 504 " in answer.split(b"\r\n")[0], answer
    assert b"did not arrive within" in answer
    assert time.monotonic() - start < 8
    writer.close()


def test_connections_over_the_cap_are_refused_with_a_status(clean_etcd):
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation",
                            "--max-connections", "20").start()
    try:
        async def run() -> None:
            held = [await _open(proc.port) for _ in range(20)]
            await asyncio.sleep(0.2)
            reader, writer = await _open(proc.port)
            answer = await asyncio.wait_for(reader.read(65536), 5)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503"), answer
            status = json.loads(body)
            assert status["kind"] == "Status" and "too many connections" in status["message"]
            writer.close()
            for _, w in held[:5]:
                w.close()
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=proc.url, timeout=5) as c:
                assert (await c.get("/version")).status_code == 200
            for _, w in held[5:]:
                w.close()
        asyncio.run(run())
    finally:
        proc.stop()
