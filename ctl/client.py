"""The HTTP seam: every request ``ctl`` makes goes through :class:`ApiClient` (httpx).

Errors (rebuilt from the server's Kubernetes ``Status`` JSON, one class per reason)::

    CtlError                     anything that ends a command with one line on stderr
    ├── ConnectionFailed         server unreachable, TLS failure or timeout
    ├── BadResponse              the server answered something that is not the API
    └── ApiError                 a ``Status`` with code/reason/message/details
        ├── BadRequest           400
        ├── Forbidden            401 / 403
        ├── NotFound             404
        ├── MethodNotAllowed     405 (operation not supported)
        ├── AlreadyExists        409 AlreadyExists
        ├── Conflict             409 Conflict
        └── Invalid              422 (field causes in ``causes``)
"""
from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import quote

import httpx

GROUP_PATH = "/apis/projectcalico.org/v3"
OPENAPI_PATH = "/openapi/v3/apis/projectcalico.org/v3"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"
PATCH_TYPES = {"strategic": "application/strategic-merge-patch+json",
               "merge": "application/merge-patch+json",
               "json": "application/json-patch+json"}


class CtlError(Exception):
    """A failure that ends the command with its message on one line."""


class ConnectionFailed(CtlError):
    pass


class BadResponse(CtlError):
    pass


class ApiError(CtlError):
    """A Kubernetes ``Status`` failure. ``causes`` are ``{field, message, reason}`` dicts."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        self.code = int(status.get("code") or 0)
        self.reason = str(status.get("reason") or "")
        self.message = str(status.get("message") or self.reason or "unknown error")
        details = status.get("details") or {}
        self.causes: list[dict[str, str]] = list(details.get("causes") or [])
        super().__init__(self.message)


class BadRequest(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class MethodNotAllowed(ApiError):
    pass


class AlreadyExists(ApiError):
    pass


class Conflict(ApiError):
    pass


class Invalid(ApiError):
    pass


_BY_REASON = {"BadRequest": BadRequest, "Unauthorized": Forbidden, "Forbidden": Forbidden,
              "NotFound": NotFound, "MethodNotAllowed": MethodNotAllowed,
              "AlreadyExists": AlreadyExists, "Conflict": Conflict, "Invalid": Invalid}
_BY_CODE = {400: BadRequest, 401: Forbidden, 403: Forbidden, 404: NotFound,
            405: MethodNotAllowed, 409: Conflict, 422: Invalid}


def kinds_from(resource_list: dict[str, Any]) -> list[KindInfo]:
    """The kinds of a discovery document (``APIResourceList``), subresources left out."""
    out = []
    for res in resource_list.get("resources") or []:
        if "/" in res.get("name", ""):
            continue
        names = {res["name"], res.get("singularName") or res["kind"].lower(),
                 *(res.get("shortNames") or [])}
        out.append(KindInfo(res["kind"], res["name"], bool(res.get("namespaced")),
                            tuple(sorted(n.lower() for n in names)),
                            frozenset(res.get("verbs") or ())))
    return out


def error_from_status(status: dict[str, Any], code: int) -> ApiError:
    """The typed error for a ``Status`` body (reason first, HTTP code as fallback)."""
    status = {**status, "code": status.get("code") or code}
    cls = _BY_REASON.get(str(status.get("reason"))) or _BY_CODE.get(code, ApiError)
    return cls(status)


@dataclass(frozen=True)
class KindInfo:
    """One kind as discovery describes it."""

    kind: str
    plural: str
    namespaced: bool
    names: tuple[str, ...]  # every lower-case name the command line accepts
    verbs: frozenset[str] = frozenset()  # as discovery lists them; empty = not listed

    @property
    def read_only(self) -> bool:
        """The server serves the kind for reading only (discovery lists no create, update or
        delete; a read-only kind may still take patches of a few fields, ClusterInformation's
        datastoreReady)."""
        return bool(self.verbs) and not self.verbs & {"create", "update", "delete"}


@dataclass(frozen=True)
class Connection:
    """Where and how to reach the apiserver."""

    server: str
    token: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    timeout: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)


class ApiClient:
    """A thread-safe client of the projectcalico.org/v3 API. Every call has a timeout and
    raises :class:`CtlError` subclasses only."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        headers = {"User-Agent": "ctl", **conn.headers}
        if conn.token:
            headers["Authorization"] = f"Bearer {conn.token}"
        try:
            self._http = httpx.Client(base_url=conn.server.rstrip("/"), headers=headers,
                                      timeout=conn.timeout, verify=self._verify(conn),
                                      cert=self._cert(conn))
        except (OSError, ssl.SSLError, ValueError) as err:
            raise ConnectionFailed(f"invalid TLS settings: {err}") from None
        self._kinds: list[KindInfo] | None = None

    @staticmethod
    def _verify(conn: Connection) -> Any:
        if not conn.ca_file:
            return True
        return ssl.create_default_context(cafile=conn.ca_file)

    @staticmethod
    def _cert(conn: Connection) -> Any:
        if not conn.cert_file:
            return None
        return (conn.cert_file, conn.key_file) if conn.key_file else conn.cert_file

    def close(self) -> None:
        self._http.close()

    # -- transport ------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                body: Any = None, content_type: str = "application/json",
                accept: str = "application/json") -> Any:
        """One request; returns the decoded JSON body. Raises ApiError for a Status,
        ConnectionFailed / BadResponse otherwise."""
        headers = {"Accept": accept}
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body).encode()
        return self._decode(self._send(method, path, params, content, headers))

    def text(self, path: str, *, params: dict[str, str] | None = None) -> str:
        """A GET of an endpoint that answers text (``/metrics``, ``/readyz``), whatever its
        status: a failed health check is worth reading too. Raises ConnectionFailed."""
        return self._send("GET", path, params, None, {"Accept": "text/plain, */*"}).text

    def _send(self, method: str, path: str, params: dict[str, str] | None,
              content: bytes | None, headers: dict[str, str]) -> httpx.Response:
        try:
            return self._http.request(method, path, params=params, content=content,
                                      headers=headers)
        except httpx.TimeoutException:
            raise ConnectionFailed(f"request to {self.conn.server} timed out after "
                                   f"{self.conn.timeout:g}s") from None
        except (httpx.HTTPError, OSError, ssl.SSLError) as err:
            raise ConnectionFailed(f"cannot reach the apiserver at {self.conn.server}: "
                                   f"{err or type(err).__name__}") from None

    def _decode(self, resp: httpx.Response) -> Any:
        try:
            data = resp.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("kind") == "Status" and \
                data.get("status") == "Failure":
            raise error_from_status(data, resp.status_code)
        if resp.status_code >= 400 or not isinstance(data, dict):
            snippet = resp.text[:80].strip().replace("\n", " ")
            raise BadResponse(f"unexpected response from {self.conn.server} "
                              f"(HTTP {resp.status_code}): {snippet or 'empty body'}")
        return data

    # -- discovery ------------------------------------------------------------------------
    def kinds(self) -> list[KindInfo]:
        """The kinds the server serves (cached for the life of the client)."""
        if self._kinds is None:
            self._kinds = kinds_from(self.request("GET", GROUP_PATH))
        return self._kinds

    def schemas(self) -> dict[str, dict]:
        """Per-kind schemas as the server publishes them; empty when it publishes none."""
        try:
            doc = self.request("GET", OPENAPI_PATH)
        except ApiError:
            return {}
        return (doc.get("components") or {}).get("schemas") or {}

    def version(self) -> dict[str, Any]:
        return self.request("GET", "/version")

    # -- resources ------------------------------------------------------------------------
    @staticmethod
    def path(kind: KindInfo, namespace: str | None = None, name: str | None = None) -> str:
        base = GROUP_PATH
        if kind.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{kind.plural}"
        return base + (f"/{quote(name, safe='')}" if name is not None else "")

    def get(self, kind: KindInfo, name: str, namespace: str | None, *,
            table: bool = False) -> dict:
        return self.request("GET", self.path(kind, namespace, name),
                            accept=TABLE_ACCEPT if table else "application/json")

    def list(self, kind: KindInfo, namespace: str | None, *, selector: str = "",
             table: bool = False) -> dict:
        """All objects (namespace None = every namespace), following ``continue``."""
        params = {"selector": selector} if selector else {}
        accept = TABLE_ACCEPT if table else "application/json"
        data = self.request("GET", self.path(kind, namespace), params=params, accept=accept)
        while (data.get("metadata") or {}).get("continue"):
            more = self.request("GET", self.path(kind, namespace), accept=accept, params={
                **params, "continue": data["metadata"]["continue"]})
            key = "rows" if table else "items"
            data[key] = (data.get(key) or []) + (more.get(key) or [])
            data["metadata"] = more.get("metadata") or {}
        return data

    def create(self, kind: KindInfo, obj: dict, *, dry_run: bool = False) -> dict:
        ns = (obj.get("metadata") or {}).get("namespace")
        return self.request("POST", self.path(kind, ns), params=_dry(dry_run), body=obj)

    def replace(self, kind: KindInfo, obj: dict, *, dry_run: bool = False) -> dict:
        meta = obj.get("metadata") or {}
        return self.request("PUT", self.path(kind, meta.get("namespace"), meta.get("name")),
                            params=_dry(dry_run), body=obj)

    def patch(self, kind: KindInfo, name: str, namespace: str | None, patch: Any,
              patch_type: str, *, dry_run: bool = False) -> dict:
        return self.request("PATCH", self.path(kind, namespace, name), params=_dry(dry_run),
                            body=patch, content_type=PATCH_TYPES[patch_type])

    def delete(self, kind: KindInfo, name: str, namespace: str | None, *,
               resource_version: str = "", dry_run: bool = False) -> dict:
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {"resourceVersion": resource_version}} \
            if resource_version else None
        return self.request("DELETE", self.path(kind, namespace, name), params=_dry(dry_run),
                            body=body)


def _dry(dry_run: bool) -> dict[str, str]:
    return {"dryRun": "All"} if dry_run else {}


def kind_lookup(kinds: Iterable[KindInfo], name: str) -> KindInfo | None:
    """The kind a command-line name (case-insensitive, singular, plural or alias) names."""
    lowered = name.lower()
    for info in kinds:
        if lowered in info.names:
            return info
    return None
