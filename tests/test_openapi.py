"""The served OpenAPI document tells the truth (issue 9 item 7), checked by schemathesis against
a real apiserver on a real etcd; 405s carry ``Allow``; a request aiohttp's parser refuses (an
oversize URL or header, bytes that are not HTTP) is answered with a ``Status`` that does not
quote it back (issue 9 item 4)."""
from __future__ import annotations

import json
import re
import socket

import pytest
import re2
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from apiserver.api.discovery import openapi
from calicomodel.published import ecma_pattern
from calicomodel.catalog import Catalog
from conftest import GROUP, ApiserverProcess, apiserver_on_empty, shared_validator

DOCUMENT = "/openapi/v3/apis/projectcalico.org/v3"
METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE")
MAX_EXAMPLES = 5
"""Cases per operation and mode (144 operations, positive and negative): ~40 s on two cores."""
_PATHS = openapi(Catalog(), shared_validator())["paths"]
OPERATIONS = [f"{method.upper()} {path}" for path, item in _PATHS.items()
              for method in item if method != "parameters"]
"""The operations of the document this code serves; the test checks the served one has them."""


def _rules_out_anything(label: str) -> bool:
    """Whether the document rules out some request to the operation: not for a GET of a name,
    whose only parameter is a string path segment (every string is a name)."""
    method, path = label.split(" ", 1)
    return bool(_PATHS[path][method.lower()].keys() & {"parameters", "requestBody"})


CASES = [pytest.param(label, mode, id=f"{label}-{mode.value}") for label in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if mode is GenerationMode.POSITIVE or _rules_out_anything(label)]


@pytest.fixture(scope="module")
def openapi_server(etcd):
    yield from apiserver_on_empty(etcd)


@pytest.fixture(scope="module")
def document(openapi_server) -> dict:
    with openapi_server.client() as c:
        index = c.get("/openapi/v3").json()
        url = index["paths"]["apis/projectcalico.org/v3"]["serverRelativeURL"]
        assert url.startswith(DOCUMENT + "?hash=")
        return c.get(url).json()


@pytest.fixture(scope="module")
def served_schema(openapi_server):
    """The served document, loaded by schemathesis with every check but
    ``positive_data_acceptance`` (semantic validation — selectors, CIDRs, CEL rules — is more
    than a schema can say; its 422 is declared) and ``not_a_server_error`` (asserted below)."""
    config = SchemathesisConfig.from_dict({
        "checks": {"positive_data_acceptance": {"enabled": False},
                   "not_a_server_error": {"enabled": False}},
        "request-timeout": 30,
    })
    schema = schemathesis.openapi.from_url(openapi_server.url + DOCUMENT, config=config)
    assert sorted(op.ok().label for op in schema.get_all_operations()) == sorted(OPERATIONS)
    return schema


@pytest.mark.parametrize("label, mode", CASES)
def test_served_openapi_document_tells_the_truth(served_schema, label, mode):
    """Requests the document allows (positive) and ones it rules out (negative) get the answers
    it declares, in the shapes it declares — the negative ones a 4xx — and never a 5xx. A
    watch streams until its timeout, so a generated one lists instead; the one 5xx the document
    declares for a read — 504 for a resourceVersion etcd has not reached, as kube-apiserver
    answers — is allowed."""
    operation = served_schema.find_operation_by_label(label)

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        if case.query and str(case.query.get("watch")).lower() in ("true", "1"):
            case.query["watch"] = "false"
        response = case.call_and_validate()
        status = response.json() if response.status_code >= 500 else {}
        causes = [c.get("reason") for c in (status.get("details") or {}).get("causes") or []]
        assert response.status_code < 500 or (response.status_code == 504
                                               and causes == ["ResourceVersionTooLarge"]), \
            (case.method, case.formatted_path, response.status_code, response.text[:500])

    check()


def test_every_operation_names_its_kind_and_declares_its_errors(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            gvk = op["x-kubernetes-group-version-kind"]
            assert gvk["group"] == "projectcalico.org" and gvk["version"] == "v3", (path, method)
            schema = document["components"]["schemas"][gvk["kind"]]
            assert gvk in schema["x-kubernetes-group-version-kind"]
            errors = {code for code, r in op["responses"].items() if code >= "400"}
            assert {"400", "401", "403", "404", "503"} <= errors, (path, method)
            for code in errors:
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("meta.v1.Status")
            params = {p["name"]: p["schema"] for p in op.get("parameters", [])}
            if "limit" in params:
                assert params["limit"]["type"] == "integer"
            if method == "patch":
                assert "fieldValidation" in params   # kubectl: the server validates


def test_patterns_are_ecma262(document):
    """No RE2-only syntax is served: the case-insensitive flag, which ECMA-262 lacks, is spelt
    out, and matches what RE2 matches."""
    text = json.dumps(document)
    assert "(?i)" not in text and "nullable" in text and '"$schema"' not in text
    patterns = re.findall(r'"pattern": ?("(?:[^"\\]|\\.)*")', text)
    assert patterns and not [p for p in patterns if re.search(r"\(\?[a-zA-Z]", p)]
    original = "(?i)^(Drop|Accept|Return)?$"
    served = ecma_pattern(original)
    for word in ("drop", "ACCEPT", "Return", "", "dropx", "Allow"):
        assert bool(re.fullmatch(served, word)) == bool(re2.fullmatch(original, word)), word


def test_cluster_information_offers_only_what_it_serves(document, openapi_server):
    """Read-only: it is listed, watched and read, and only its datastoreReady is patched."""
    paths = {p: item for p, item in document["paths"].items() if "clusterinformations" in p}
    assert {p: sorted(m for m in item if m != "parameters") for p, item in paths.items()} == {
        f"{GROUP}/clusterinformations": ["get"],
        f"{GROUP}/clusterinformations/{{name}}": ["get", "patch"]}
    with openapi_server.client() as c:
        resources = c.get(GROUP).json()["resources"]
    info = next(r for r in resources if r["name"] == "clusterinformations")
    assert info["verbs"] == ["get", "list", "patch", "watch"]


def test_every_undeclared_method_is_405_with_allow(document, openapi_server):
    """Every path of the document, asked with each method it does not declare, answers 405
    with ``Allow`` naming exactly the declared ones (and HEAD) — the read-only kind and the
    status subresource too, whose refusals come from the handlers, not the router."""
    existing = {"{name}": "default", "{namespace}": "default"}
    with openapi_server.client() as c:
        for path, item in document["paths"].items():
            url = re.sub(r"\{\w+\}", lambda m: existing[m.group(0)], path)
            declared = {m.upper() for m in item if m != "parameters"} | {"HEAD"}
            for method in set(METHODS) - declared:
                r = c.request(method, url, content=b"{}",
                              headers={"Content-Type": "application/json"})
                assert r.status_code == 405, (method, url, r.text)
                assert r.json()["kind"] == "Status", (method, url)
                assert sorted(r.headers["Allow"].split(", ")) == sorted(declared), (method, url)
        r = c.request("DELETE", f"{GROUP}/namespaces/default/networkpolicies/knp.default.x")
        assert r.status_code == 405 and "DELETE" not in r.headers["Allow"]
        r = c.post("/version", content=b"")
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"


def _raw(proc: ApiserverProcess, request: bytes) -> tuple[int, dict, bytes]:
    """Send ``request`` as raw bytes; the status code, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", proc.port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("request_bytes, code, reason", [
    (b"GET " + GROUP.encode() + b"/tiers?labelSelector=" + b"Q" * 40000 + b" HTTP/1.1\r\n"
     b"Host: x\r\n\r\n", 414, "RequestURITooLong"),
    (b"GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"Q" * 20000 + b"\r\n\r\n",
     431, "RequestHeaderFieldsTooLarge"),
    (b"GET /version HTTP/1.1\r\nHost: x\r\nX-" + b"Q" * 20000 + b": 1\r\n\r\n",
     431, "RequestHeaderFieldsTooLarge"),
    (b"GET /version HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Q%d: Q\r\n" % i for i in range(200))
     + b"\r\n", 431, "RequestHeaderFieldsTooLarge"),
    (b"QQQQ / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BadRequest"),
], ids=["url", "header-value", "header-name", "header-count", "not-http"])
def test_requests_the_parser_refuses_are_answered_with_a_status(openapi_server, request_bytes,
                                                                code, reason):
    status, headers, body = _raw(openapi_server, request_bytes)
    assert status == code and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert (answer["kind"], answer["code"], answer["reason"]) == ("Status", code, reason)
    assert b"Q" not in body   # the offending bytes are not quoted back
    assert b"QQQQ" not in openapi_server.output().encode()   # nor logged
    with openapi_server.client() as c:   # and the server carries on
        assert c.get("/version").status_code == 200


def test_long_urls_within_the_limit_are_served(openapi_server):
    with openapi_server.client() as c:
        r = c.get(f"{GROUP}/tiers", params={"labelSelector": "a notin (" + ",".join(
            f"v{i}" for i in range(3500)) + ")"})
    assert r.status_code == 200 and len(str(r.request.url)) > 16 * 1024


def test_strict_query_parameters(openapi_server):
    """Values the document rules out are 400s, as kube-apiserver's decoding of ListOptions."""
    with openapi_server.client() as c:
        for query in ("watch=maybe", "allowWatchBookmarks=2", "timeoutSeconds=1.5",
                      "limit=-1", "resourceVersion=x", "resourceVersionMatch=Newest",
                      "limit=1&limit=2"):
            r = c.get(f"{GROUP}/tiers?{query}")
            assert r.status_code == 400 and r.json()["reason"] == "BadRequest", (query, r.text)
        assert c.get(f"{GROUP}/tiers?watch=false&timeoutSeconds=3&limit=").status_code == 200
        r = c.post(f"{GROUP}/tiers?fieldValidation=Loose", json={})
        assert r.status_code == 400 and "fieldValidation" in r.json()["message"]
        r = c.post(f"{GROUP}/tiers?dryRun=All&dryRun=All&fieldValidation=Strict", json={
            "apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "t"},
            "spec": {"order": 10}})
        assert r.status_code == 201 and c.get(f"{GROUP}/tiers/t").status_code == 404
