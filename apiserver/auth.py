"""Who is calling (bearer tokens, client certificates) and what they may do (group roles).

Roles by group: ``calico:admin`` every verb; ``calico:viewer`` get/list/watch;
``calico:federation`` get/list/watch of the federated kinds (``Strategy.federation``) and of
FederationExport, seeing only what the exporter's FederationExport rules give the caller
(and never a mirrored copy: apiserver/federation/ownership.py and export.py), and get of the
ClusterInformation (whose clusterGUID tells an importer the datastore is new).
Without any authentication configured every caller is an anonymous admin (the zero-config
server listens on loopback only).
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
from pathlib import Path

from aiohttp import web

from calicomodel.catalog import Kind
from calicomodel.errors import Forbidden, Unauthorized

from .resources.store import Actor

log = logging.getLogger(__name__)
ADMIN, VIEWER, FEDERATION = "calico:admin", "calico:viewer", "calico:federation"
ANONYMOUS = "system:anonymous"
READ_VERBS = frozenset({"get", "list", "watch"})


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def load_tokens(path: str) -> dict[bytes, tuple[str, frozenset[str]]]:
    """kube-apiserver ``--token-auth-file`` CSV: ``token,user,uid[,"group1,group2"]``.
    Tokens are kept only as SHA-256 digests."""
    tokens: dict[bytes, tuple[str, frozenset[str]]] = {}
    text = Path(path).read_text()
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 3:
            raise ValueError(f"{path}:{lineno}: expected token,user,uid[,groups]")
        groups = frozenset(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 \
            else frozenset()
        tokens[_digest(row[0].strip())] = (row[1].strip(), groups)
    return tokens


def actor_for(user: str, groups: frozenset[str]) -> Actor:
    return Actor(user, groups=groups)


class Authenticator:
    def __init__(self, *, token_file: str | None = None, client_certs: bool = False) -> None:
        self.tokens = load_tokens(token_file) if token_file else {}
        self.client_certs = client_certs
        self.enabled = bool(token_file) or client_certs

    def authenticate(self, request: web.Request) -> Actor:
        """The caller's identity; raises Unauthorized for a bad token or, with authentication
        configured, for an anonymous request."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("the Authorization header must be 'Bearer <token>'")
            found = self.tokens.get(_digest(token.strip()))
            if found is None:
                raise Unauthorized("the bearer token is not valid")
            return actor_for(*found)
        if self.client_certs:
            cert = request.transport.get_extra_info("peercert") if request.transport else None
            if cert:
                return actor_for(*_cert_identity(cert))
        if self.enabled:
            raise Unauthorized("authentication required: send a bearer token or a client "
                               "certificate")
        return Actor(ANONYMOUS, groups=frozenset({ADMIN}))

    def authorize(self, actor: Actor, verb: str, kind: Kind | None, *,
                  path: str = "") -> None:
        """Raise Forbidden unless ``actor`` may ``verb`` ``kind`` (or, without a kind, the
        non-resource ``path``)."""
        groups = actor.groups
        if ADMIN in groups:
            return
        if VIEWER in groups and verb in READ_VERBS:
            return
        if FEDERATION in groups and verb in READ_VERBS and kind is not None \
                and (kind.federated or kind.kind == "FederationExport"):   # (rules for it)
            return
        if FEDERATION in groups and verb == "get" and kind is not None \
                and kind.kind == "ClusterInformation":   # its one object: the peer's identity
            return
        if kind is None:
            raise Forbidden(f'user "{actor.user}" cannot {verb} path "{path}"')
        raise Forbidden(f'user "{actor.user}" cannot {verb} resource "{kind.plural}" in API '
                        'group "projectcalico.org"', kind=kind.kind)


def _cert_identity(cert: dict) -> tuple[str, frozenset[str]]:
    user, groups = "", set()
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.add(value)
    return user or "system:unknown-cert", frozenset(groups)
