"""IPAM's actions (``resources/ipam_actions.py``) over HTTP, beside the resource paths: the
narrow ways the read-only IPAM bookkeeping is written, each for a user who may write what it
changes (``calico:admin``).

``POST /apis/projectcalico.org/v3/ipam/release`` (``ctl ipam release``)::

    {"ips": [{"address": "10.0.0.5", "handle": "k8s-pod-network.ab12", "sequenceNumber": 3}],
     "handles": [{"id": "k8s-pod-network.cd34", "revision": "1207", "uid": "…"}]}
    → {"unallocated": ["…"], "error": "", "handles": {"k8s-pod-network.cd34": "released"}}

frees the addresses (``handle`` and ``sequenceNumber`` are optional preconditions), then
deletes the leaked handles of an ``ipam check`` report that have not changed since (else
``skipped``). Needs update on ipamblocks and delete on ipamhandles.

``GET /apis/projectcalico.org/v3/ipam/migration`` returns calicoctl's IPAM migration JSON
(``{"block_affinities": [{"Key", "Value", "TTL"}], "blocks": …, "handles": …, "config": …}``,
list on the four kinds); ``POST`` of that JSON creates what it holds where nothing is
(create on the four kinds) → ``{"created": 12, "errors": []}``.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from calicomodel.errors import BadRequest

from ..resources.ipam_actions import SECTIONS, IpamActions, Release
from . import keys
from .codec import read_body, respond
from .resources import PREFIX

ACTIONS = web.AppKey("ipam_actions", IpamActions)


def routes() -> list[web.RouteDef]:
    """Registered before the resource paths, whose ``/{plural}/{name}`` they would match."""
    return [web.post(f"{PREFIX}/ipam/release", release),
            web.get(f"{PREFIX}/ipam/migration", export),
            web.post(f"{PREFIX}/ipam/migration", import_)]


def _authorize(request: web.Request, verb: str, *kinds: str) -> None:
    catalog = request.app[keys.CATALOG]
    for kind in kinds:
        keys.authorize(request, verb, catalog.kind(kind))


async def _object(request: web.Request) -> dict[str, Any]:
    body = await read_body(await request.read(), request.content_type)
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


async def release(request: web.Request) -> web.Response:
    _authorize(request, "update", "IPAMBlock")
    body = await _object(request)
    releases, handles = _releases(body.get("ips") or []), _handles(body.get("handles") or [])
    if handles:
        _authorize(request, "delete", "IPAMHandle")
    actions = request.app[ACTIONS]
    unallocated, error = await actions.release(releases)
    return respond({"unallocated": unallocated, "error": error,
                    "handles": await actions.delete_handles(handles)})


def _releases(ips: Any) -> list[Release]:
    if not isinstance(ips, list):
        raise BadRequest("ips must be a list")
    out = []
    for item in ips:
        item = item if isinstance(item, dict) else {}
        text, sequence, handle = item.get("address"), item.get("sequenceNumber"), \
            item.get("handle") or ""
        try:
            address = ipaddress.ip_address(text if isinstance(text, str) else "")
        except ValueError:
            raise BadRequest(f"invalid IP address specified: {text}") from None
        if not isinstance(handle, str) or not (sequence is None or isinstance(sequence, int)):
            raise BadRequest(f"ips: the handle of {address} must be a string and its "
                             "sequenceNumber an integer")
        out.append(Release(address, handle, sequence))
    return out


def _handles(handles: Any) -> list[tuple[str, str, str]]:
    if not isinstance(handles, list) or not all(
            isinstance(h, dict) and isinstance(h.get("id"), str) and h["id"]
            and isinstance(h.get("revision") or "", str) and isinstance(h.get("uid") or "", str)
            for h in handles):
        raise BadRequest("handles must be a list of {id, revision, uid} strings")
    return [(h["id"], h.get("revision") or "", h.get("uid") or "") for h in handles]


async def export(request: web.Request) -> web.Response:
    _authorize(request, "list", *(kind for _, kind in SECTIONS))
    return respond(await request.app[ACTIONS].export())


async def import_(request: web.Request) -> web.Response:
    _authorize(request, "create", *(kind for _, kind in SECTIONS))
    created, errors = await request.app[ACTIONS].import_(await _object(request))
    return respond({"created": created, "errors": errors})
