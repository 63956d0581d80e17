"""Observability: one access-log line per request (text or JSON), ``Audit-Id`` on every answer,
kube-apiserver's metrics moving with requests, and the monitoring examples (alert rules,
Grafana dashboard) naming only series the server serves.

Real servers on a real etcd: in-process (``running_server``) where the log is read with
caplog, as a subprocess where the log format and the parser's own refusals matter."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys

import httpx
import pytest
import yaml

from apiserver.access_log import Entry

from conftest import GROUP, REPO, ApiserverProcess, gns, metric, netset, running_server

MONITORING = REPO / "examples" / "monitoring"
GNS = f"{GROUP}/globalnetworksets"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
KUBE_BUCKETS = ("0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1.0", "1.25", "1.5",
                "2.0", "3.0", "4.0", "5.0", "6.0", "8.0", "10.0", "15.0", "20.0", "30.0", "45.0",
                "60.0", "+Inf")
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


def access_entries(caplog) -> dict[str, dict]:
    """The access-log lines caplog holds, as their fields, by audit id."""
    return {r.msg.fields()["auditID"]: r.msg.fields() for r in caplog.records
            if isinstance(r.msg, Entry)}


async def until(check, *, timeout: float = 10, what: str) -> None:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def buckets(text: str, histogram: str, *labels: str) -> tuple[str, ...]:
    """The ``le`` bounds of the one series of ``histogram`` whose labels include ``labels``."""
    found = []
    for line in text.splitlines():
        if line.startswith(histogram + "{") and all(label in line for label in labels):
            found.append(re.search(r'le="([^"]+)"', line).group(1))
    return tuple(found)


async def scrape(c: httpx.AsyncClient) -> str:
    r = await c.get("/metrics")
    assert r.status_code == 200, r.text
    return r.text


# -- Audit-Id ----------------------------------------------------------------------------------
async def test_every_answer_carries_an_audit_id_and_a_sane_client_id_is_echoed(client):
    answers = [await client.get("/readyz"), await client.get("/no/such/path"),
               await client.post("/readyz"),
               await client.post(GNS, json=gns("a", ["10.0.0.0/8"])),
               await client.post(GNS, content=b"{not json",
                                 headers={"Content-Type": "application/json"}),
               await client.get(f"{GNS}/missing"), await client.get(GNS),
               await client.get(GNS, params={"watch": "1", "timeoutSeconds": "1"})]
    assert [r.status_code for r in answers] == [200, 404, 405, 201, 400, 404, 200, 200]
    ids = [r.headers.get("Audit-Id", "") for r in answers]
    assert all(UUID.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)

    for header, given in (("Audit-Id", "trace-1"), ("Audit-Id", "a.b:c+d_e-f"),
                          ("X-Request-Id", "0af7651916cd43dd8448eb211c80319c")):
        r = await client.get(f"{GNS}/missing", headers={header: given})
        assert r.headers["Audit-Id"] == given
    for bad in ("has space", "x" * 129, "-leading", "a\tb", ""):
        r = await client.get("/readyz", headers={"Audit-Id": bad})
        assert UUID.fullmatch(r.headers["Audit-Id"]), bad
    r = await client.get("/readyz", headers={"Audit-Id": "bad one", "X-Request-Id": "good-1"})
    assert r.headers["Audit-Id"] == "good-1"


async def test_refusals_before_any_handler_carry_an_audit_id_too(clean_etcd, tmp_path):
    """401 without a token, and the parser's own 414/431 (``make_runner``'s handler)."""
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('admin-token,alice,1,"calico:admin"\n')
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--token-auth-file",
                            str(tokens), token="admin-token").start()
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as anonymous:
            r = anonymous.get(GNS, headers={"X-Request-Id": "who-1"})
            assert r.status_code == 401 and r.headers["Audit-Id"] == "who-1"
            r = anonymous.get(GNS + "/" + "x" * 40_000)
            assert r.status_code == 414 and UUID.fullmatch(r.headers["Audit-Id"]), r.text
            r = anonymous.get("/readyz", headers={"X-Big": "y" * 20_000})
            assert r.status_code == 431 and UUID.fullmatch(r.headers["Audit-Id"]), r.text
        with proc.client() as c:
            assert c.post(GNS, json=gns("a", ["10.0.0.0/8"]),
                          headers={"Audit-Id": "alice-1"}).status_code == 201
    finally:
        proc.stop()
    lines = [ln for ln in proc.output().splitlines() if "auditID=" in ln]
    who = next(ln for ln in lines if "auditID=who-1" in ln)
    assert 'user="" verb=list resource=globalnetworksets' in who and "code=401" in who
    alice = next(ln for ln in lines if "auditID=alice-1" in ln)
    assert "user=alice verb=create resource=globalnetworksets" in alice and "name=a " in alice


# -- the access log ----------------------------------------------------------------------------
async def test_one_access_log_line_per_request_with_its_fields(client, caplog):
    caplog.set_level("INFO", logger="apiserver.access")
    ns_sets = f"{GROUP}/namespaces/ns1/networksets"
    steps = [("create", await client.post(GNS, json=gns("a", ["10.0.0.0/8"]),
                                          headers={"Audit-Id": "t-create"})),
             ("get", await client.get(f"{GNS}/a", headers={"Audit-Id": "t-get"})),
             ("missing", await client.get(f"{GNS}/nope", headers={"Audit-Id": "t-missing"})),
             ("ns", await client.post(ns_sets, json=netset("ns1", "db", ["10.1.0.0/16"]),
                                      headers={"Audit-Id": "t-ns"})),
             ("list", await client.get(ns_sets, headers={"Audit-Id": "t-list"})),
             ("patch", await client.patch(f"{GNS}/a", json={"metadata": {"labels": {"x": "1"}}},
                                          headers={"Audit-Id": "t-patch", "Content-Type":
                                                   "application/merge-patch+json"})),
             ("delete", await client.delete(f"{GNS}/a", headers={"Audit-Id": "t-delete"})),
             ("other", await client.get("/no/such", headers={"Audit-Id": "t-other"}))]
    entries = access_entries(caplog)
    expected = {
        "t-create": ("create", "globalnetworksets", "", "a", 201, "POST"),
        "t-get": ("get", "globalnetworksets", "", "a", 200, "GET"),
        "t-missing": ("get", "globalnetworksets", "", "nope", 404, "GET"),
        "t-ns": ("create", "networksets", "ns1", "db", 201, "POST"),
        "t-list": ("list", "networksets", "ns1", "", 200, "GET"),
        "t-patch": ("patch", "globalnetworksets", "", "a", 200, "PATCH"),
        "t-delete": ("delete", "globalnetworksets", "", "a", 200, "DELETE"),
        "t-other": ("get", "", "", "", 404, "GET"),
    }
    for audit_id, (verb, resource, namespace, name, code, method) in expected.items():
        e = entries[audit_id]
        assert (e["verb"], e["resource"], e["namespace"], e["name"], e["code"], e["method"]) == \
            (verb, resource, namespace, name, code, method), e
        assert e["user"] == "system:anonymous" and e["remote"] == "127.0.0.1"
        assert 0 < e["duration"] < 10 and e["userAgent"].startswith("python-httpx")
    for (_, r), audit_id in zip(steps, expected):
        assert r.headers["Audit-Id"] == audit_id
        if r.status_code != 200 or audit_id != "t-list":   # a list is streamed in chunks
            assert entries[audit_id]["bytes"] == len(r.content), audit_id
    assert entries["t-list"]["bytes"] >= len(steps[4][1].content)
    assert entries["t-other"]["uri"] == "/no/such"
    text = next(r.getMessage() for r in caplog.records if isinstance(r.msg, Entry)
                and r.msg.fields()["auditID"] == "t-ns")
    assert text.startswith('auditID=t-ns user=system:anonymous verb=create resource=networksets '
                           'namespace=ns1 name=db code=201 duration=')
    assert f"bytes={len(steps[3][1].content)} method=POST uri={ns_sets} " in text


async def test_a_watch_is_logged_when_it_ends(client, caplog):
    caplog.set_level("INFO", logger="apiserver.access")
    assert (await client.post(GNS, json=gns("w", ["10.0.0.0/8"]))).status_code == 201
    async with client.stream("GET", GNS, params={"watch": "true", "timeoutSeconds": "1"},
                             headers={"Audit-Id": "t-watch"}) as r:
        assert r.headers["Audit-Id"] == "t-watch"
        assert "t-watch" not in access_entries(caplog)   # open: not logged yet
        body = b"".join([chunk async for chunk in r.aiter_bytes()])
    await until(lambda: _true("t-watch" in access_entries(caplog)), what="the watch's line")
    e = access_entries(caplog)["t-watch"]
    assert (e["verb"], e["resource"], e["code"]) == ("watch", "globalnetworksets", 200)
    assert e["duration"] >= 0.9 and e["bytes"] >= len(body) > 0


async def _true(value: bool) -> bool:
    return value


def test_json_log_format_is_one_object_per_line(clean_etcd):
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--log-format", "json")
    proc.start()
    try:
        with proc.client() as c:
            assert c.post(GNS, json=gns("j", ["10.0.0.0/8"]),
                          headers={"Audit-Id": "json-1"}).status_code == 201
            assert c.get(f"{GNS}/nope", headers={"Audit-Id": "json-2"}).status_code == 404
    finally:
        proc.stop()
    records = []
    for line in proc.output().splitlines():
        assert not TEXT_LINE.match(line), f"a text line with --log-format json: {line}"
        if line.startswith("{"):
            records.append(json.loads(line))
    by_id = {r["auditID"]: r for r in records if "auditID" in r}
    created = by_id["json-1"]
    assert {k: created[k] for k in ("message", "logger", "level", "verb", "resource", "name",
                                    "namespace", "code", "method")} == {
        "message": "HTTP", "logger": "apiserver.access", "level": "INFO", "verb": "create",
        "resource": "globalnetworksets", "name": "j", "namespace": "", "code": 201,
        "method": "POST"}
    assert isinstance(created["duration"], float) and created["bytes"] > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created["time"])
    assert by_id["json-2"]["code"] == 404
    assert any(r["message"].startswith("serving on http://") and r["logger"] == "apiserver"
               for r in records), records


def test_text_access_log_of_a_served_process(apiserver_process):
    with apiserver_process.client() as c:
        assert c.post(GNS, json=gns("t", ["10.0.0.0/8"]),
                      headers={"Audit-Id": "text-1"}).status_code == 201
    line = next(ln for ln in apiserver_process.output().splitlines() if "auditID=text-1" in ln)
    assert re.match(TEXT_LINE.pattern + r"auditID=text-1 user=system:anonymous verb=create "
                    r'resource=globalnetworksets namespace="" name=t code=201 '
                    r"duration=0\.\d+ bytes=\d+ method=POST uri=/apis/projectcalico.org/v3/"
                    r"globalnetworksets remote=127\.0\.0\.1 userAgent=python-httpx/", line), line


def test_httpx_request_lines_are_not_logged_at_info():
    """The federation's peer calls go through httpx, which logs each one at INFO."""
    code = ("import logging; from apiserver.access_log import configure_logging; "
            "configure_logging('info', 'text'); "
            "logging.getLogger('httpx').info('HTTP Request: GET https://peer/x'); "
            "logging.getLogger('httpcore.http11').info('send_request_headers'); "
            "logging.getLogger('httpx').warning('peer warning'); "
            "logging.getLogger('apiserver.federation').info('federation line')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "peer warning" in out.stderr and "federation line" in out.stderr
    assert "HTTP Request" not in out.stderr and "send_request_headers" not in out.stderr


# -- metrics -----------------------------------------------------------------------------------
def _labels(verb: str, resource: str = "globalnetworksets", **more: str) -> dict:
    base = {"verb": verb, "group": "projectcalico.org", "version": "v3", "resource": resource,
            "component": "apiserver", "subresource": "", "dry_run": ""}
    return {**base, **more}


async def test_request_metrics_have_kube_apiserver_names_and_labels(client):
    before = await scrape(client)
    created = _labels("POST", scope="cluster", code="201")
    start = metric(before, "apiserver_request_total", **created) or 0
    for i in range(3):
        assert (await client.post(GNS, json=gns(f"m{i}", ["10.0.0.0/8"]))).status_code == 201
    assert (await client.post(GNS, params={"dryRun": "All"},
                              json=gns("dry", ["10.0.0.0/8"]))).status_code == 201
    assert (await client.get(f"{GNS}/m0")).status_code == 200
    assert (await client.get(f"{GNS}/nope")).status_code == 404
    assert (await client.get(GNS)).status_code == 200
    assert (await client.get(f"{GROUP}/namespaces/ns1/networksets")).status_code == 200
    assert (await client.put(f"{GNS}/m1", json={**gns("m1", ["10.9.0.0/16"])})).status_code \
        in (200, 409)
    assert (await client.patch(f"{GNS}/m1", json={"metadata": {"labels": {"a": "b"}}},
                               headers={"Content-Type": "application/merge-patch+json"})
            ).status_code == 200
    assert (await client.delete(f"{GNS}/m2")).status_code == 200
    assert (await client.get("/no/such")).status_code == 404
    assert (await client.get(f"{GROUP}/nosuchkinds")).status_code == 404
    text = await scrape(client)

    assert metric(text, "apiserver_request_total", **created) == start + 3
    assert metric(text, "apiserver_request_total",
                  **_labels("POST", scope="cluster", code="201", dry_run="All")) == 1
    assert metric(text, "apiserver_request_total", **_labels("GET", scope="resource",
                                                            code="200")) == 1
    assert metric(text, "apiserver_request_total", **_labels("GET", scope="resource",
                                                            code="404")) == 1
    assert metric(text, "apiserver_request_total", **_labels("LIST", scope="cluster",
                                                            code="200")) == 1
    assert metric(text, "apiserver_request_total", **_labels(
        "LIST", resource="networksets", scope="namespace", code="200")) == 1
    assert metric(text, "apiserver_request_total", **_labels("PATCH", scope="resource",
                                                            code="200")) == 1
    assert metric(text, "apiserver_request_total", **_labels("DELETE", scope="resource",
                                                            code="200")) == 1
    assert metric(text, "apiserver_request_total", verb="PUT", resource="globalnetworksets") == 1
    # a path that names nothing is one bounded series, whatever the path
    assert metric(text, "apiserver_request_total", verb="GET", resource="", group="",
                  subresource="other", scope="", code="404") == 2
    assert (metric(text, "apiserver_request_total", verb="GET", resource="",
                   subresource="/readyz", code="200") or 0) >= 1
    # the latency histogram: kube's buckets, the same labels but the code
    count = metric(text, "apiserver_request_duration_seconds_count",
                   **_labels("POST", scope="cluster"))
    assert count == start + 3
    assert buckets(text, "apiserver_request_duration_seconds_bucket", 'dry_run=""',
                   'resource="globalnetworksets"', 'verb="POST"') == KUBE_BUCKETS
    assert metric(text, "apiserver_request_duration_seconds_bucket", verb="POST",
                  resource="globalnetworksets", dry_run="", le="+Inf") == count
    # in flight: this scrape itself is the one read-only request
    assert metric(text, "apiserver_current_inflight_requests", request_kind="readOnly") == 1
    assert metric(text, "apiserver_current_inflight_requests", request_kind="mutating") == 0
    assert "_created" not in text


async def test_watches_are_long_running_requests_and_registered_watchers(client):
    async def watchers() -> tuple[float | None, float | None]:
        text = await scrape(client)
        return (metric(text, "apiserver_registered_watchers", group="projectcalico.org",
                       version="v3", kind="GlobalNetworkSet"),
                metric(text, "apiserver_longrunning_requests", **{
                    k: v for k, v in _labels("WATCH", scope="cluster").items() if k != "dry_run"}))

    async with httpx.AsyncClient(base_url=str(client.base_url), timeout=30) as other:
        streams = [other.stream("GET", GNS, params={"watch": "1"}) for _ in range(2)]
        opened = [await s.__aenter__() for s in streams]
        assert all(r.status_code == 200 for r in opened)
        await until(lambda: _is(watchers(), (2, 2)), what="two watchers counted")
        text = await scrape(client)
        assert metric(text, "apiserver_registered_watchers", kind="NetworkSet") == 0
        assert metric(text, "apiserver_request_duration_seconds_count", verb="WATCH") is None
        assert metric(text, "apiserver_current_inflight_requests", request_kind="readOnly") == 1
        for s in streams:
            await s.__aexit__(None, None, None)
    await until(lambda: _is(watchers(), (0, 0)), what="the watchers gone")
    text = await scrape(client)
    assert metric(text, "apiserver_request_total", **_labels("WATCH", scope="cluster",
                                                            code="200")) == 2


async def _is(values, expected) -> bool:
    return await values == expected


async def test_storage_objects_come_from_the_watch_cache_and_etcd_calls_are_timed(client):
    gns_objects = {"resource": "globalnetworksets.projectcalico.org"}
    text = await scrape(client)
    assert metric(text, "apiserver_storage_objects", **gns_objects) == 0
    assert metric(text, "apiserver_storage_objects",
                  resource="tiers.projectcalico.org") >= 1   # the built-ins
    creates = metric(text, "etcd_request_duration_seconds_count", operation="create",
                     type="globalnetworksets") or 0
    for i in range(5):
        assert (await client.post(GNS, json=gns(f"s{i}", ["10.0.0.0/8"]))).status_code == 201
    assert (await client.post(f"{GROUP}/namespaces/ns1/networksets",
                              json=netset("ns1", "n", ["10.1.0.0/16"]))).status_code == 201
    text = await scrape(client)
    assert metric(text, "apiserver_storage_objects", **gns_objects) == 5
    assert metric(text, "apiserver_storage_objects",
                  resource="networksets.projectcalico.org") == 1
    assert metric(text, "etcd_request_duration_seconds_count", operation="create",
                  type="globalnetworksets") == creates + 5
    assert metric(text, "etcd_request_duration_seconds_count", operation="create",
                  type="networksets") == 1
    assert (await client.delete(f"{GNS}/s0")).status_code == 200
    text = await scrape(client)
    assert metric(text, "apiserver_storage_objects", **gns_objects) == 4
    assert metric(text, "etcd_request_duration_seconds_count", operation="delete",
                  type="globalnetworksets") == 1
    # the cache's start: one list of each kind's keys, one watch of the keyspace
    assert metric(text, "etcd_request_duration_seconds_count", operation="list",
                  type="tiers") >= 1
    assert metric(text, "etcd_request_duration_seconds_count", operation="list",
                  type="/calico/ipam/v2/host") >= 1
    assert metric(text, "etcd_request_duration_seconds_count", operation="watch") >= 1
    assert buckets(text, "etcd_request_duration_seconds_bucket", 'operation="create"',
                   'type="globalnetworksets"') == KUBE_BUCKETS


async def test_process_and_health_series_are_served(client):
    text = await scrape(client)
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_open_fds", "process_max_fds", "process_start_time_seconds",
                 "python_info", "python_gc_objects_collected_total"):
        assert metric(text, name) is not None, name
    for endpoint, check in (("readyz", "etcd"), ("readyz", "watch-cache"),
                            ("readyz", "federation"), ("livez", "watch-cache")):
        assert f'kubernetes_healthcheck{{name="{check}",type="{endpoint}"}} 1.0' in text
    assert metric(text, "calico_federation_leader") == 0   # the federation's series, as before


async def test_each_application_counts_its_own_requests(clean_etcd):
    async with running_server(clean_etcd.endpoint) as a, running_server(clean_etcd.endpoint) as b:
        async with httpx.AsyncClient(base_url=a) as ca, httpx.AsyncClient(base_url=b) as cb:
            assert (await ca.post(GNS, json=gns("one", ["10.0.0.0/8"]))).status_code == 201
            created = _labels("POST", scope="cluster", code="201")
            assert metric(await scrape(ca), "apiserver_request_total", **created) == 1
            assert metric(await scrape(cb), "apiserver_request_total", **created) is None
            # both see the object: the count comes from each one's watch cache
            await until(lambda: _served_objects(cb, 1), what="b's cache sees the object")


async def _served_objects(c: httpx.AsyncClient, count: int) -> bool:
    return metric(await scrape(c), "apiserver_storage_objects",
                  resource="globalnetworksets.projectcalico.org") == count


# -- examples/monitoring -------------------------------------------------------------------------
PROMQL_WORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and",
                          "or", "unless", "bool", "offset", "inf", "nan"})
SCRAPE_SERIES = frozenset({"up"})   # what Prometheus adds to every target


def metric_names(expr: str) -> set[str]:
    """The series an expression selects: identifiers that are neither functions, nor
    keywords, nor inside label matchers, ranges, strings or grouping clauses."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr):
        if match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names


def served_names(exposition: str) -> set[str]:
    """Every series name in a scrape, sampled or only declared (a family with no samples yet,
    such as a federation with no peers), with a histogram's and a counter's suffixes."""
    names = {line.split("{")[0].split(" ")[0] for line in exposition.splitlines()
             if line and not line.startswith("#")}
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M):
        names.add(family)
        if kind == "histogram":
            names |= {family + s for s in ("_bucket", "_count", "_sum")}
        if kind == "counter" and not family.endswith("_total"):
            names.add(family + "_total")
    return names


def alert_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [(r.get("alert") or r["record"], r["expr"]) for g in rules["groups"]
            for r in g["rules"]]


def dashboard_expressions() -> list[tuple[str, str]]:
    """Every panel target's expression and every templating query's."""
    board = json.loads((MONITORING / "dashboard.json").read_text())
    panels = [p for top in board["panels"] for p in [top, *top.get("panels", [])]]
    exprs = [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]
    for var in board["templating"]["list"]:
        query = var.get("query")
        if isinstance(query, dict):
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query["query"])
            exprs.append((f"${var['name']}", inner.group(1)))
    return exprs


def test_metric_names_finds_the_series_of_an_expression():
    assert metric_names('histogram_quantile(0.99, sum by (verb, le) (rate(apiserver_request_'
                        'duration_seconds_bucket{job=~"$job", verb!~"WATCH"}[$__rate_interval]'
                        '))) > 1 and on(instance) up == 0 or vector(0)') == {
        "apiserver_request_duration_seconds_bucket", "up"}
    assert metric_names("a_total / ignoring(code) group_left b_total offset 5m") == \
        {"a_total", "b_total"}


async def test_alert_rules_and_dashboard_name_only_served_series(client):
    """After traffic of every kind, each series the examples query is in a real scrape."""
    assert (await client.post(GNS, json=gns("x", ["10.0.0.0/8"]))).status_code == 201
    await client.get(f"{GNS}/x")
    await client.get("/no/such")
    await client.get(GNS, params={"watch": "1", "timeoutSeconds": "1"})
    served = served_names(await scrape(client)) | SCRAPE_SERIES
    exprs = alert_expressions() + dashboard_expressions()
    assert len(alert_expressions()) >= 8 and len(dashboard_expressions()) >= 20
    for where, expr in exprs:
        names = metric_names(expr)
        assert names, f"{where}: no series found in {expr!r}"
        assert names <= served, f"{where}: {sorted(names - served)} not served"
    wanted = {"apiserver_request_total", "apiserver_request_duration_seconds_bucket",
              "etcd_request_duration_seconds_bucket", "apiserver_storage_objects",
              "apiserver_longrunning_requests", "apiserver_registered_watchers",
              "apiserver_storage_errors_total", "kubernetes_healthcheck",
              "calico_federation_peer_state", "calico_federation_lag_seconds",
              "apiserver_current_inflight_requests"}
    used = set().union(*(metric_names(e) for _, e in exprs))
    assert wanted <= used, sorted(wanted - used)


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (Debian package prometheus)")
def test_alert_rules_and_dashboard_queries_pass_promtool(tmp_path):
    """The rules load and their unit tests pass; the dashboard's queries, with Grafana's
    variables filled in, load as recording rules (so their PromQL parses)."""
    for args in (["check", "rules", "alerts.yaml"], ["test", "rules", "alerts.test.yaml"]):
        out = subprocess.run(["promtool", *args], cwd=MONITORING, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
    variables = {"$__rate_interval": "5m", "$job": "calico-apiserver", "$instance": ".*"}
    rules = []
    for i, (_, expr) in enumerate(dashboard_expressions()):
        for name, value in variables.items():
            expr = expr.replace(name, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
