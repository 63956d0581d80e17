"""``fieldValidation`` (issue 12): Strict (the default) refuses fields the schema does not
declare, Warn drops them with one ``Warning`` header each (which kubectl prints), Ignore drops
them silently; on create, update, patch and apply."""
from __future__ import annotations

import json

import pytest

from conftest import GROUP, kubectl

GNS = f"{GROUP}/globalnetworksets"
HEADERS = {
    "apply": {"Content-Type": "application/apply-patch+yaml"},
    "patch": {"Content-Type": "application/merge-patch+json"},
}


def gns(name: str, **extra) -> dict:
    obj = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
           "metadata": {"name": name}, "spec": {"nets": ["10.0.0.0/24"]}}
    obj["spec"].update(extra)
    return obj


async def write(client, verb: str, body: dict, **params):
    """``body`` written with ``verb`` (the object exists first for update and patch)."""
    name = body["metadata"]["name"]
    if verb in ("update", "patch"):
        assert (await client.post(GNS, json=gns(name))).status_code == 201
    if verb == "create":
        return await client.post(GNS, json=body, params=params)
    if verb == "update":
        return await client.put(f"{GNS}/{name}", json=body, params=params)
    params.setdefault("fieldManager", "m")
    return await client.patch(f"{GNS}/{name}", content=json.dumps(body), params=params,
                              headers=HEADERS[verb])


VERBS = ("create", "update", "patch", "apply")


@pytest.mark.parametrize("verb", VERBS)
async def test_strict_is_the_default_and_names_each_field(client, verb):
    for params in ({}, {"fieldValidation": "Strict"}):
        r = await write(client, verb, gns(f"s-{verb}-{len(params)}", foo=1, bar=2), **params)
        assert r.status_code == 400, r.text
        assert r.json()["message"] == ('strict decoding error: unknown field "spec.foo", '
                                       'unknown field "spec.bar"')


@pytest.mark.parametrize("verb", VERBS)
async def test_warn_drops_each_field_with_a_warning(client, verb):
    r = await write(client, verb, gns(f"w-{verb}", foo=1, bar=2), fieldValidation="Warn")
    assert r.status_code in (200, 201), r.text
    assert r.headers.get_list("Warning") == ['299 - "unknown field \\"spec.foo\\""',
                                             '299 - "unknown field \\"spec.bar\\""']
    assert r.json()["spec"] == {"nets": ["10.0.0.0/24"]}
    stored = (await client.get(f"{GNS}/w-{verb}")).json()
    assert stored["spec"] == {"nets": ["10.0.0.0/24"]}


@pytest.mark.parametrize("verb", VERBS)
async def test_ignore_drops_the_fields_silently(client, verb):
    r = await write(client, verb, gns(f"i-{verb}", foo=1), fieldValidation="Ignore")
    assert r.status_code in (200, 201), r.text
    assert "Warning" not in r.headers
    assert r.json()["spec"] == {"nets": ["10.0.0.0/24"]}


async def test_any_other_directive_is_a_bad_request(client):
    r = await client.post(GNS, json=gns("x"), params={"fieldValidation": "Lenient"})
    assert r.status_code == 400 and "fieldValidation" in r.json()["message"]


async def test_unknown_metadata_and_nested_fields_are_named_by_path(client):
    body = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
            "metadata": {"name": "p", "colour": "red"},
            "spec": {"ingress": [{"action": "Allow", "speed": "fast"}]}}
    r = await client.post(f"{GROUP}/globalnetworkpolicies", json=body,
                          params={"fieldValidation": "Warn"})
    assert r.status_code == 201, r.text
    assert r.headers.get_list("Warning") == ['299 - "unknown field \\"metadata.colour\\""',
                                             '299 - "unknown field \\"spec.ingress[0].speed\\""']


def test_kubectl_prints_the_warnings(apiserver_process, tmp_path):
    manifest = tmp_path / "gns.yaml"
    manifest.write_text("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
                        "metadata:\n  name: office\nspec:\n  nets: [10.0.0.0/8]\n  colour: red\n")
    r = kubectl(apiserver_process, "create", "-f", str(manifest), check=False)
    assert r.returncode == 1 and 'unknown field "spec.colour"' in r.stderr, r.stderr
    r = kubectl(apiserver_process, "create", "--validate=warn", "-f", str(manifest))
    assert r.stderr == 'Warning: unknown field "spec.colour"\n'
    assert r.stdout == "globalnetworkset.projectcalico.org/office created\n"
    r = kubectl(apiserver_process, "apply", "--server-side", "--validate=ignore", "-f",
                str(manifest))
    assert (r.stdout, r.stderr) == (
        "globalnetworkset.projectcalico.org/office serverside-applied\n", "")
