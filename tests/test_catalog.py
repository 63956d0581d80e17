"""Kinds as data: the catalog agrees with the schemas and Calico's CRDs, and a new kind is one
row, one strategy and one schema — proved by serving a made-up kind through the generic API."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
import yaml
from aiohttp.test_utils import TestServer

from apiserver.app import create_app
from calicomodel.validation import SCHEMAS
from apiserver.config import Settings
from calicomodel.catalog import KINDS, Catalog, Kind
from calicomodel.checking import Report
from calicomodel.strategies import Strategy
from calicomodel.tables import Col
from calicomodel.validation import Validator
from apiserver.storage.embedded import free_port
from apiserver.storage.etcd import EtcdStorage

from conftest import GROUP, SHARED

CRDS = SHARED / "reference" / "crds"


def _schemas() -> dict[str, dict]:
    return {s["title"]: s for s in (json.loads(p.read_text()) for p in SCHEMAS.glob("*.json"))}


def test_every_row_has_a_schema_of_its_scope_and_every_schema_a_row() -> None:
    schemas = _schemas()
    rows = {k.kind: k for k in KINDS}
    assert sorted(set(schemas) - set(rows)) == [], "schemas without a row"
    assert sorted(set(rows) - set(schemas)) == [], "rows without a schema"
    for kind in KINDS:
        scope = schemas[kind.kind]["x-calico-scope"]
        assert (scope == "Namespaced") == kind.namespaced, kind.kind
        assert schemas[kind.kind]["x-kubernetes-group-version-kind"][0]["kind"] == kind.kind


@pytest.mark.skipif(not CRDS.is_dir(), reason="../shared/reference/crds is absent")
def test_rows_agree_with_calicos_crds() -> None:
    rows = {k.kind: k for k in KINDS}
    compared = 0
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        names, scope = crd["spec"]["names"], crd["spec"]["scope"]
        kind = rows[names["kind"]]
        assert kind.plural == names["plural"], kind.kind
        assert kind.singular == names["singular"], kind.kind
        assert kind.namespaced == (scope == "Namespaced"), kind.kind
        assert set(names.get("shortNames") or ()) <= set(kind.aliases), kind.kind
        compared += 1
    assert compared == len(list(CRDS.glob("*.yaml")))


# -- a made-up kind, served from one row, one strategy and one schema --------------------------
def _widget_check(report: Report, obj: dict, spec: dict) -> None:
    if spec.get("size") == 13:
        report.add("spec.size", "13 is unlucky")


def _widget_default(obj: dict, spec: dict) -> None:
    spec.setdefault("colour", "blue")


def _widget_transition(report: Report, old: dict, new: dict) -> None:
    if old.get("colour") != new.get("colour"):
        report.add("spec.colour", "colour cannot be changed", "FieldValueForbidden")


WIDGET = Kind("Widget", "widgets", namespaced=True, aliases=("widget", "widgets", "wdg"),
              columns=(Col("NAME", "metadata.name"), Col("SIZE", "spec.size"),
                       Col("COLOUR", "spec.colour", wide=True)),
              strategy=Strategy(defaults=(_widget_default,), checks=(_widget_check,),
                                update_rules=(_widget_transition,)))

WIDGET_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Widget",
    "type": "object", "additionalProperties": False, "x-calico-scope": "Namespaced",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"type": "string", "enum": ["projectcalico.org/v3"]},
        "kind": {"type": "string", "enum": ["Widget"]},
        "metadata": _schemas()["NetworkSet"]["properties"]["metadata"],
        "spec": {"type": "object", "additionalProperties": False, "properties": {
            "size": {"type": "integer", "minimum": 1}, "colour": {"type": "string"}}}}}


@pytest.fixture
async def widgets(clean_etcd, tmp_path: Path):
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas, ignore=shutil.ignore_patterns("extra", "*.py"))
    (schemas / "widget.json").write_text(json.dumps(WIDGET_SCHEMA))
    catalog = Catalog((*KINDS, WIDGET))
    storage = EtcdStorage([clean_etcd.endpoint])
    app = create_app(Settings(etcd_endpoints=(clean_etcd.endpoint,), federation=False), storage,
                     validator=Validator(schemas, catalog), catalog=catalog)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as c:
        for _ in range(100):
            if (await c.get("/readyz")).status_code == 200:
                break
        yield c
    await server.close()
    await storage.close()


def _widget(name: str, **spec) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "Widget",
            "metadata": {"name": name, "namespace": "shop"}, "spec": spec}


async def test_a_new_kind_is_one_row_one_strategy_and_one_schema(widgets):
    c = widgets
    base = f"{GROUP}/namespaces/shop/widgets"
    discovery = (await c.get(GROUP)).json()["resources"]
    assert {"name": "widgets", "kind": "Widget", "namespaced": True} .items() <= \
        next(r for r in discovery if r["name"] == "widgets").items()

    watch = await c.send(c.build_request("GET", base, params={"watch": "1"}), stream=True)
    created = await c.post(base, json=_widget("w1", size=3))
    assert created.status_code == 201, created.text
    assert created.json()["spec"] == {"size": 3, "colour": "blue"}           # its defaults
    line = await watch.aiter_lines().__anext__()
    assert json.loads(line)["type"] == "ADDED"
    await watch.aclose()

    bad = await c.post(base, json=_widget("w2", size=13))                      # its checks
    assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "spec.size"
    schema_bad = await c.post(base, json=_widget("w2", size=0))                # its schema
    assert schema_bad.status_code == 422 and "minimum" in schema_bad.text

    obj = created.json()
    obj["spec"]["colour"] = "red"
    refused = await c.put(f"{base}/w1", json=obj)                              # its update_rules
    assert refused.status_code == 422 and "cannot be changed" in refused.text
    obj["spec"] = {"size": 4, "colour": "blue"}
    assert (await c.put(f"{base}/w1", json=obj)).status_code == 200

    listed = (await c.get(f"{GROUP}/widgets")).json()
    assert [w["metadata"]["name"] for w in listed["items"]] == ["w1"]
    table = (await c.get(base, headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})).json()
    assert [col["name"] for col in table["columnDefinitions"]][:3] == ["NAME", "SIZE", "COLOUR"]
    assert table["rows"][0]["cells"][:2] == ["w1", "4"]
    assert (await c.delete(f"{base}/w1")).status_code == 200
