"""Discovery documents, OpenAPI, version and health endpoints."""
from __future__ import annotations

from aiohttp import web

from ..resources.catalog import API_VERSION, GROUP, VERSION
from ..resources.hooks import CALICO_VERSION
from . import keys
from .codec import respond

ALL_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def routes() -> list[web.RouteDef]:
    return [web.get("/api", api_versions), web.get("/apis", api_groups),
            web.get(f"/apis/{GROUP}", api_group), web.get(f"/apis/{API_VERSION}", resource_list),
            web.get("/version", version), web.get("/openapi/v3", openapi_index),
            web.get(f"/openapi/v3/apis/{API_VERSION}", openapi_document),
            web.get("/healthz", healthz), web.get("/livez", healthz), web.get("/readyz", readyz)]


def _group() -> dict:
    gv = {"groupVersion": API_VERSION, "version": VERSION}
    return {"name": GROUP, "versions": [gv], "preferredVersion": gv}


async def api_versions(request: web.Request) -> web.Response:
    return respond({"kind": "APIVersions", "apiVersion": "v1", "versions": [],
                    "serverAddressByClientCIDRs": []})


async def api_groups(request: web.Request) -> web.Response:
    return respond({"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group()]})


async def api_group(request: web.Request) -> web.Response:
    return respond({"kind": "APIGroup", "apiVersion": "v1", **_group()})


async def resource_list(request: web.Request) -> web.Response:
    resources = []
    for kind in request.app[keys.CATALOG]:
        verbs = ["get", "list", "watch"] if kind.read_only else ALL_VERBS
        resources.append({"name": kind.plural, "singularName": kind.singular,
                          "namespaced": kind.namespaced, "kind": kind.kind, "verbs": verbs,
                          "shortNames": kind.short_names, "categories": ["calico"]})
        if kind.status:
            resources.append({"name": f"{kind.plural}/status", "singularName": "",
                              "namespaced": kind.namespaced, "kind": kind.kind,
                              "verbs": ["get", "patch", "update"]})
    return respond({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION,
                    "resources": resources})


async def version(request: web.Request) -> web.Response:
    return respond({"major": "3", "minor": "32", "gitVersion": CALICO_VERSION,
                    "calicoVersion": CALICO_VERSION, "platform": "linux/python",
                    "clusterName": request.app[keys.SETTINGS].cluster_name})


async def openapi_index(request: web.Request) -> web.Response:
    return respond({"paths": {f"apis/{API_VERSION}": {
        "serverRelativeURL": f"/openapi/v3/apis/{API_VERSION}"}}})


async def openapi_document(request: web.Request) -> web.Response:
    return respond(openapi(request.app))


def openapi(app: web.Application) -> dict:
    """An OpenAPI 3 document: one component schema per kind and its paths."""
    validator = app[keys.VALIDATOR]
    schemas: dict = {}
    paths: dict = {}
    for kind in app[keys.CATALOG]:
        schemas[kind.kind] = validator.schema(kind.kind)
        ref = {"$ref": f"#/components/schemas/{kind.kind}"}
        body = {"required": True, "content": {"application/json": {"schema": ref}}}
        ok = {"description": "OK", "content": {"application/json": {"schema": ref}}}
        name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
        ns = [{"name": "namespace", "in": "path", "required": True,
               "schema": {"type": "string"}}] if kind.namespaced else []
        base = f"/apis/{API_VERSION}/" + ("namespaces/{namespace}/" if kind.namespaced else "")
        list_params = [{"name": p, "in": "query", "schema": {"type": "string"}}
                       for p in ("labelSelector", "fieldSelector", "selector", "limit",
                                 "continue", "resourceVersion")]
        paths[base + kind.plural] = {
            "parameters": ns,
            "get": {"operationId": f"list{kind.kind}", "parameters": list_params,
                    "responses": {"200": {"description": "OK"}}},
            "post": {"operationId": f"create{kind.kind}", "requestBody": body,
                     "responses": {"201": ok}}}
        patch_body = {"required": True, "content": {
            t: {"schema": {"type": "object"}} for t in (
                "application/merge-patch+json", "application/strategic-merge-patch+json")}}
        paths[base + kind.plural + "/{name}"] = {
            "parameters": ns + [name],
            "get": {"operationId": f"read{kind.kind}", "responses": {"200": ok}},
            "put": {"operationId": f"replace{kind.kind}", "requestBody": body,
                    "responses": {"200": ok}},
            "patch": {"operationId": f"patch{kind.kind}", "requestBody": patch_body,
                      "responses": {"200": ok}},
            "delete": {"operationId": f"delete{kind.kind}", "responses": {"200": ok}}}
    return {"openapi": "3.0.0", "info": {"title": "Calico projectcalico.org/v3",
                                         "version": CALICO_VERSION},
            "paths": paths, "components": {"schemas": schemas}}


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def readyz(request: web.Request) -> web.Response:
    not_ready = [why for check in request.app[keys.READINESS] if (why := check())]
    if not_ready:
        return web.Response(status=503, text="not ready: " + "; ".join(not_ready))
    return web.Response(text="ok")
