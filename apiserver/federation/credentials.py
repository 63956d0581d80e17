"""The files a RemoteClusterConfiguration names (``tokenFile``, ``caFile``, ``certFile``,
``keyFile``) are confined to one directory (``--federation-credentials-dir``), so creating an
RCC cannot make the server read, send or show any other file.

The rule is checked twice: by the admission step (a 422 naming each bad field) and again each
time the peer client opens a file, since a file may be replaced by a symlink after admission
(or an RCC may predate the rule). A file is opened at its resolved path without following a
final symlink, and the path of the descriptor actually opened must still lie inside the
directory (Linux ``/proc/self/fd``), so a swap between the check and the open is caught too.

Every message names the field and the path and never what the file holds: the messages end up
in the RCC status, which every viewer can read, and in the log.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import ssl
import stat
from typing import Iterable, Iterator

from calicomodel.catalog import GROUP, Kind
from calicomodel.errors import Cause, Invalid

from ..resources.store import Actor, Admission, Validating

RCC = "RemoteClusterConfiguration"
FIELDS = ("tokenFile", "caFile", "certFile", "keyFile")
MAX_TOKEN_BYTES = 64 * 1024
MAX_PEM_BYTES = 1024 * 1024
NOT_A_TOKEN = "does not hold one printable token"


class CredentialError(Exception):
    """A credentials file that may not or cannot be used; the message names the field and the
    path, never the file's contents."""


def problem(path: str, directory: str) -> str | None:
    """Why ``path`` may not be named (relative, ``..``, or its real path — every symlink
    followed — is not inside the real ``directory``), or None when it may."""
    if not path.startswith("/"):
        return f"not an absolute path (it must name a file inside {directory})"
    if "\0" in path:
        return "contains a NUL character"
    if ".." in path.split("/"):
        return f"'..' is not allowed (it must name a file inside {directory})"
    root = os.path.realpath(directory)
    if _inside(os.path.realpath(path), root):
        return None
    if _inside(os.path.normpath(path), os.path.normpath(directory)):
        return f"a symlink to a file outside the federation credentials directory {directory}"
    return f"outside the federation credentials directory {directory}"


def _inside(path: str, root: str) -> bool:
    return path.startswith(root.rstrip("/") + "/")


def admission(directory: str) -> Admission:
    """The validating admission step of RemoteClusterConfigurations: every file field that is
    set or changed must satisfy ``problem``; all bad fields are refused at once (422). Fields
    left as they were are not re-checked, so the server can still write the status of an RCC
    stored before the rule (its syncers report the problem)."""
    def admit(kind: Kind, new: dict | None, old: dict | None, actor: Actor) -> None:
        if kind.kind != RCC or new is None:
            return
        spec, old_spec = new.get("spec") or {}, (old or {}).get("spec") or {}
        causes = [Cause(f"spec.{f}", f"{spec[f]}: {why}") for f in FIELDS
                  if spec.get(f) and spec[f] != old_spec.get(f)
                  and (why := problem(spec[f], directory))]
        if causes:
            name = new["metadata"].get("name")
            raise Invalid(f"{kind.kind}.{GROUP} \"{name}\" is invalid: " + "; ".join(
                f"{c.field}: {c.message}" for c in causes), kind=kind.kind, name=name,
                causes=causes)
    return Validating(admit)


@contextlib.contextmanager
def opened(field: str, path: str, directory: str) -> Iterator[int]:
    """A read-only descriptor of the regular file ``path``, which must lie inside
    ``directory`` as opened. Raises CredentialError."""
    why = problem(path, directory)
    if why:
        raise CredentialError(f"{field} {path}: {why}")
    try:
        fd = os.open(os.path.realpath(path),
                     os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise CredentialError(f"{field} {path}: cannot be opened ({err.strerror})") from None
    try:
        try:
            where, mode = os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_mode
        except OSError as err:
            raise CredentialError(f"{field} {path}: cannot be checked ({err.strerror})") from None
        if not _inside(where, os.path.realpath(directory)):
            raise CredentialError(f"{field} {path}: outside the federation credentials "
                                  f"directory {directory}")
        if not stat.S_ISREG(mode):
            raise CredentialError(f"{field} {path}: not a regular file")
        yield fd
    finally:
        os.close(fd)


def _read(field: str, path: str, directory: str, cap: int) -> bytes | None:
    """The file's bytes, or None when it holds more than ``cap``. Raises CredentialError."""
    with opened(field, path, directory) as fd:
        chunks, size = [], 0
        try:
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > cap:
                    return None
        except OSError as err:
            raise CredentialError(f"{field} {path}: cannot be read ({err.strerror})") from None
        return b"".join(chunks)


def read_token(path: str, directory: str) -> str:
    """The bearer token in ``path``: one run of printable ASCII, surrounding whitespace
    ignored (anything else, e.g. a token-auth CSV, would be sent or echoed as a header).
    Raises CredentialError."""
    raw = _read("tokenFile", path, directory, MAX_TOKEN_BYTES)
    token = raw.strip() if raw is not None else b""
    if not token or not all(0x21 <= b <= 0x7e for b in token):
        raise CredentialError(f"tokenFile {path}: {NOT_A_TOKEN}")
    return token.decode("ascii")


def tls_context(ca_file: str | None, cert_file: str | None, key_file: str | None,
                directory: str) -> ssl.SSLContext:
    """A client TLS context trusting ``ca_file`` (else the system's CAs) and presenting
    ``cert_file``/``key_file``, each read through ``opened``. Raises CredentialError."""
    cadata = None
    if ca_file:
        raw = _read("caFile", ca_file, directory, MAX_PEM_BYTES)
        try:
            cadata = raw.decode("ascii") if raw is not None else None
        except UnicodeDecodeError:
            pass
        if cadata is None:
            raise CredentialError(f"caFile {ca_file}: does not hold PEM certificates")
    try:
        ctx = ssl.create_default_context(cadata=cadata)
    except ssl.SSLError:
        raise CredentialError(f"caFile {ca_file}: does not hold PEM certificates") from None
    if cert_file:
        with contextlib.ExitStack() as files:
            cert = files.enter_context(opened("certFile", cert_file, directory))
            key = files.enter_context(opened("keyFile", key_file, directory)) \
                if key_file else None
            try:   # an empty password: an encrypted key fails instead of prompting on a tty
                ctx.load_cert_chain(f"/proc/self/fd/{cert}",
                                    f"/proc/self/fd/{key}" if key is not None else None,
                                    password=b"")
            except (OSError, ssl.SSLError):
                pair = f"certFile {cert_file}" + (f" and keyFile {key_file}" if key_file else "")
                raise CredentialError(f"{pair}: not a PEM certificate and its private key") \
                    from None
    return ctx


def digest(files: Iterable[tuple[str, str | None]], directory: str) -> bytes:
    """A SHA-256 of the (field, path) files' contents, each read through ``opened`` (fields
    without a path are skipped): whether credentials changed, without keeping them. Raises
    CredentialError."""
    sha = hashlib.sha256()
    for field, path in files:
        if path:
            raw = _read(field, path, directory, MAX_PEM_BYTES)
            sha.update(b"%s\0%d\0" % (field.encode(), -1 if raw is None else len(raw)))
            sha.update(raw or b"")
    return sha.digest()
