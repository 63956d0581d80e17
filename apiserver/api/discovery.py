"""Discovery documents, OpenAPI and version (health endpoints: ``health.py``)."""
from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from aiohttp import web

from calicomodel import published
from calicomodel.calico import CALICO_VERSION
from calicomodel.catalog import API_VERSION, GROUP, VERSION, Catalog, Kind
from calicomodel.published import kind_schema
from calicomodel.validation import Validator

from ..resources.patch import APPLY, JSON_PATCH, PATCH_TYPES
from . import keys
from .codec import JSON, YAML_TYPES, respond, respond_raw



def routes() -> list[web.RouteDef]:
    return [web.get("/api", api_versions), web.get("/apis", api_groups),
            web.get(f"/apis/{GROUP}", api_group), web.get(f"/apis/{API_VERSION}", resource_list),
            web.get("/version", version), web.get("/openapi/v3", openapi_index),
            web.get(f"/openapi/v3/apis/{API_VERSION}", openapi_document)]


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
    return respond(published.resource_list(request.app[keys.CATALOG]))


async def version(request: web.Request) -> web.Response:
    return respond({"major": "3", "minor": "32", "gitVersion": CALICO_VERSION,
                    "calicoVersion": CALICO_VERSION, "platform": "linux/python",
                    "clusterName": request.app[keys.SETTINGS].cluster_name})


async def openapi_index(request: web.Request) -> web.Response:
    """The OpenAPI v3 discovery index; the document's URL carries its hash, as kube-apiserver's
    does, so clients that cache by URL fetch a changed document."""
    body = _document(request.app[keys.CATALOG], request.app[keys.VALIDATOR])
    digest = hashlib.sha512(body).hexdigest()[:128]
    return respond({"paths": {f"apis/{API_VERSION}": {
        "serverRelativeURL": f"/openapi/v3/apis/{API_VERSION}?hash={digest}"}}})


async def openapi_document(request: web.Request) -> web.Response:
    return respond_raw(_document(request.app[keys.CATALOG], request.app[keys.VALIDATOR]))


@functools.lru_cache(maxsize=4)
def _document(catalog: Catalog, validator: Validator) -> bytes:
    """The encoded document: built once per catalog and set of schemas (they never change)."""
    return json.dumps(openapi(catalog, validator), separators=(",", ":")).encode()


# -- the OpenAPI document --------------------------------------------------------------------
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
INT64_MAX = 2**63 - 1
ERROR_CODES = {
    "400": "BadRequest: a malformed body, query parameter or selector",
    "401": "Unauthorized: credentials are required and missing or wrong",
    "403": "Forbidden",
    "404": "NotFound",
    "405": "MethodNotAllowed: not supported on this kind or name (the Allow header lists what is)",
    "409": "AlreadyExists or Conflict (a stale resourceVersion or failed precondition)",
    "410": "Expired: the resourceVersion or continue token is compacted",
    "413": "RequestEntityTooLarge",
    "415": "UnsupportedMediaType",
    "422": "Invalid: the object fails validation (field causes in details)",
    "429": "TooManyRequests: too many open watches",
    "503": "ServiceUnavailable: etcd is unreachable",
    "504": "Timeout: the request (or a wait for a future resourceVersion) took too long",
    "507": "InsufficientStorage: etcd is out of space",
}
_READ_ERRORS = ("400", "401", "403", "404", "410", "429", "503", "504")
_WRITE_ERRORS = ("400", "401", "403", "404", "405", "409", "413", "415", "422", "503", "504",
                 "507")
_NAME_ERRORS = ("400", "401", "403", "404", "503", "504")


def openapi(catalog: Catalog, validator: Validator) -> dict:
    """An OpenAPI 3.0 document of the group-version, shaped like kube-apiserver's for CRDs:
    every operation names its kind (``x-kubernetes-group-version-kind``) and action, which
    kubectl uses to find schemas (``explain``) and to learn that the server validates
    (``fieldValidation``), and declares the ``Status`` of every error it can answer."""
    schemas: dict[str, Any] = dict(_meta_schemas())
    paths: dict[str, Any] = {}
    for kind in catalog:
        gvk = {"group": GROUP, "version": VERSION, "kind": kind.kind}
        schemas[kind.kind] = kind_schema(validator.schema(kind.kind))
        schemas[f"{kind.kind}List"] = _list_schema(kind)
        paths.update(_kind_paths(kind, gvk))
    return {"openapi": "3.0.0",
            "info": {"title": f"Calico {API_VERSION}", "version": CALICO_VERSION},
            "paths": paths, "components": {"schemas": schemas}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _string(description: str = "", **extra: Any) -> dict:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def _strict(properties: dict, **extra: Any) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties, **extra}


def _meta_schemas() -> dict[str, dict]:
    """The Kubernetes meta types the API answers with (or, DeleteOptions, reads)."""
    cause = _strict({"field": _string(), "message": _string(), "reason": _string()})
    details = _strict({"name": _string(), "group": _string(), "kind": _string(),
                       "uid": _string(), "causes": {"type": "array", "items": _ref(META + "StatusCause")},
                       "retryAfterSeconds": {"type": "integer", "format": "int32"}})
    list_meta = _strict({"resourceVersion": _string(), "continue": _string(),
                         "remainingItemCount": {"type": "integer", "format": "int64"}})
    status = _strict({"kind": _string(enum=["Status"]), "apiVersion": _string(enum=["v1"]),
                      "metadata": _ref(META + "ListMeta"),
                      "status": _string(enum=["Success", "Failure"]), "message": _string(),
                      "reason": _string(), "details": _ref(META + "StatusDetails"),
                      "code": {"type": "integer", "format": "int32"}},
                     required=["kind", "apiVersion", "status", "code"],
                     **{"x-kubernetes-group-version-kind": [
                         {"group": "", "version": "v1", "kind": "Status"}]})
    preconditions = {"type": "object", "nullable": True, "properties": {
        "uid": _string(nullable=True), "resourceVersion": _string(nullable=True)}}
    delete_options = {"type": "object", "description": "Options of a DELETE, in its body.",
                      "properties": {
                          "kind": _string(enum=["DeleteOptions"]),
                          "dryRun": {"type": "array", "nullable": True,
                                     "items": _string(enum=["All"])},
                          "gracePeriodSeconds": {"type": "integer", "format": "int64",
                                                 "nullable": True},
                          "preconditions": _ref(META + "Preconditions"),
                          "propagationPolicy": _string(
                              nullable=True, enum=["Orphan", "Background", "Foreground"])}}
    event = _strict({"type": _string(enum=["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]),
                     "object": {"type": "object", "description": "the object, a Status for "
                                "ERROR, or a BOOKMARK's kind, apiVersion and resourceVersion"}},
                    required=["type", "object"])
    json_patch = {"type": "array", "description": "RFC 6902 operations", "items": _strict(
        {"op": _string(enum=["add", "remove", "replace", "move", "copy", "test"]),
         "path": _string(), "from": _string(), "value": {}}, required=["op", "path"])}
    patch = {"type": "object", "description": "an RFC 7386 merge patch (a strategic merge "
             "patch is the same for these types: they carry no patch strategies), or the "
             "fields a manager applies (server-side apply)"}
    return {META + "StatusCause": cause, META + "StatusDetails": details,
            META + "ListMeta": list_meta, META + "Status": status,
            META + "Preconditions": preconditions, META + "DeleteOptions": delete_options,
            META + "WatchEvent": event, META + "JSONPatch": json_patch, META + "Patch": patch}


def _list_schema(kind: Kind) -> dict:
    return _strict({"apiVersion": _string(enum=[API_VERSION]),
                    "kind": _string(enum=[f"{kind.kind}List"]),
                    "metadata": _ref(META + "ListMeta"),
                    "items": {"type": "array", "items": _ref(kind.kind)}},
                   required=["apiVersion", "kind", "metadata", "items"],
                   **{"x-kubernetes-group-version-kind": [
                       {"group": GROUP, "version": VERSION, "kind": f"{kind.kind}List"}]})


# -- paths -----------------------------------------------------------------------------------
def _query(name: str, schema: dict, description: str, *, empty: bool = True) -> dict:
    """A query parameter; an empty value means "not given" unless ``empty`` is False."""
    return {"name": name, "in": "query", "description": description, "schema": schema,
            "allowEmptyValue": empty}


def _path_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


_BOOLEAN = {"type": "boolean"}
_DRY_RUN = {"type": "array", "items": _string(enum=["All"])}
_UINT63 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX}
LIST_PARAMETERS = [
    _query("labelSelector", _string(), "Kubernetes label selector"),
    _query("fieldSelector", _string(), "metadata.name and metadata.namespace (= == !=)"),
    _query("selector", _string(), "Calico selector (an extension)"),
    _query("limit", _UINT63, "most items per page (0: all)"),
    _query("continue", _string(), "the continue token of the previous page"),
    _query("resourceVersion", _string(pattern="^[0-9]*$"),
           "list or watch at or after this version (a decimal below 2^63)"),
    _query("resourceVersionMatch", _string(enum=["NotOlderThan", "Exact"]),
           "how resourceVersion applies (requires resourceVersion; on a watch, "
           "sendInitialEvents and NotOlderThan)"),
    _query("watch", _BOOLEAN, "stream changes instead of listing"),
    _query("allowWatchBookmarks", _BOOLEAN, "send BOOKMARK events on a watch"),
    _query("sendInitialEvents", _BOOLEAN,
           "a watch-list: true sends the current objects first, then a BOOKMARK annotated "
           "k8s.io/initial-events-end; false none (watch only)"),
    _query("timeoutSeconds", _UINT63, "end a watch after this many seconds"),
]
WRITE_PARAMETERS = [
    _query("dryRun", _DRY_RUN, "run every check but do not write", empty=False),
    _query("fieldManager", _string(maxLength=128),
           "the writer's name in metadata.managedFields (default: the User-Agent's product; "
           "required for apply)"),
    _query("fieldValidation", _string(enum=["Ignore", "Strict", "Warn"]),
           "unknown or duplicate fields: Strict (the default) rejects them, Warn drops them "
           "with a Warning header, Ignore drops them"),
]
PATCH_PARAMETERS = WRITE_PARAMETERS + [
    _query("force", _BOOLEAN, "apply only: take over fields other managers own")]
DELETE_PARAMETERS = [
    _query("dryRun", _DRY_RUN, "run every check but do not delete", empty=False),
    _query("resourceVersion", _string(), "delete only at this resourceVersion (else 409)"),
]


def _content(schema: dict, *types: str) -> dict:
    return {t: {"schema": schema} for t in types}


def _responses(ok: str, content: dict, errors: tuple[str, ...]) -> dict:
    status = _content(_ref(META + "Status"), JSON)
    return {ok: {"description": "Created" if ok == "201" else "OK", "content": content},
            **{code: {"description": ERROR_CODES[code], "content": status} for code in errors}}


def _operation(gvk: dict, action: str, op_id: str, description: str, responses: dict,
               **extra: Any) -> dict:
    return {"operationId": op_id, "description": description, "tags": [f"{GROUP}/{VERSION}"],
            "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
            "responses": responses, **extra}


def _kind_paths(kind: Kind, gvk: dict) -> dict[str, dict]:
    """The collection, object and status paths of one kind, as this server routes them. A
    namespaced kind also has the all-namespaces collection (list and watch; a create there
    takes the namespace from the object)."""
    obj = _content(_ref(kind.kind), JSON)
    body = {"required": True, "content": _content(_ref(kind.kind), JSON, *YAML_TYPES)}
    patch = {"required": True, "content": {
        t: {"schema": _ref(META + ("JSONPatch" if t == JSON_PATCH else "Patch"))}
        for t in (*PATCH_TYPES, APPLY)}}
    listed = {**_content(_ref(f"{kind.kind}List"), JSON),
              "application/json;stream=watch": {"schema": _ref(META + "WatchEvent")}}
    writable = not kind.read_only
    namespaced = "Namespaced" if kind.namespaced else ""
    name = _path_param("name", f"name of the {kind.kind}")
    ns = [_path_param("namespace", "object name and auth scope")] if kind.namespaced else []
    prefix = f"/apis/{API_VERSION}/" + ("namespaces/{namespace}/" if kind.namespaced else "")
    op = f"ProjectcalicoOrgV3{namespaced}{kind.kind}"

    def collection(op_suffix: str) -> dict:
        item = {"get": _operation(gvk, "list", f"list{op}{op_suffix}",
                                  f"list or watch {kind.kind} objects",
                                  _responses("200", listed, _READ_ERRORS),
                                  parameters=LIST_PARAMETERS)}
        if writable:
            item["post"] = _operation(gvk, "post", f"create{op}{op_suffix}",
                                      f"create a {kind.kind}",
                                      _responses("201", obj, _WRITE_ERRORS),
                                      parameters=WRITE_PARAMETERS, requestBody=body)
        return item

    paths = {prefix + kind.plural: {"parameters": ns, **collection("")}}
    if kind.namespaced:
        paths[f"/apis/{API_VERSION}/{kind.plural}"] = collection("ForAllNamespaces")
    item = {"get": _operation(gvk, "get", f"read{op}", f"read a {kind.kind}",
                              _responses("200", obj, _NAME_ERRORS))}
    if writable:
        item["put"] = _operation(gvk, "put", f"replace{op}", f"replace a {kind.kind}",
                                 _responses("200", obj, _WRITE_ERRORS),
                                 parameters=WRITE_PARAMETERS, requestBody=body)
    if writable or kind.strategy.patchable:
        only = "" if writable else " (read-only but for spec." + ", spec.".join(
            kind.strategy.patchable) + ")"
        item["patch"] = _operation(gvk, "patch", f"patch{op}", f"patch a {kind.kind}{only}",
                                   _responses("200", obj, _WRITE_ERRORS),
                                   parameters=PATCH_PARAMETERS, requestBody=patch)
    if writable:
        item["delete"] = _operation(
            gvk, "delete", f"delete{op}", f"delete a {kind.kind}; answers the object",
            _responses("200", obj, _WRITE_ERRORS), parameters=DELETE_PARAMETERS,
            requestBody={"required": False,
                         "content": _content(_ref(META + "DeleteOptions"), JSON)})
    paths[prefix + kind.plural + "/{name}"] = {"parameters": ns + [name], **item}
    if kind.status:
        paths[prefix + kind.plural + "/{name}/status"] = {
            "parameters": ns + [name],
            "get": _operation(gvk, "get", f"read{op}Status",
                              f"read the status of a {kind.kind}",
                              _responses("200", obj, _NAME_ERRORS)),
            "put": _operation(gvk, "put", f"replace{op}Status",
                              f"replace the status of a {kind.kind}",
                              _responses("200", obj, _WRITE_ERRORS),
                              parameters=WRITE_PARAMETERS, requestBody=body),
            "patch": _operation(gvk, "patch", f"patch{op}Status",
                                f"patch the status of a {kind.kind}",
                                _responses("200", obj, _WRITE_ERRORS),
                                parameters=PATCH_PARAMETERS, requestBody=patch)}
    return paths

