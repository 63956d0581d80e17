"""``apiserver`` command line: flags → Settings; embedded etcd or ``--etcd-endpoints``; serve."""
from __future__ import annotations

import argparse
import asyncio
import csv
import ipaddress
import logging
import os
import signal
import ssl
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, NoReturn
from urllib.parse import urlsplit

from aiohttp import web

from calicomodel.formats import DNS_SUBDOMAIN, is_digits, parse_duration
from calicomodel.validation import SCHEMAS, MissingSchemas, Validator

from .access_log import configure_logging
from .api.connections import quiet_accept_errors, raise_open_files_limit
from .app import create_app, make_runner
from .auth import load_tokens
from .config import Settings
from .storage.embedded import EmbeddedEtcd, EmbeddedEtcdError
from .storage.etcd import EtcdStorage, EtcdTLS
from .workers import WorkersFailing, die_with_parent, supervise

log = logging.getLogger("apiserver")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")



def usage_error(message: str) -> NoReturn:
    """A bad flag: one line naming it, exit code 2, before anything (etcd) has started."""
    print(f"apiserver: {message}", file=sys.stderr)
    sys.exit(2)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        usage_error(f"{message} (see apiserver --help)")


def _number(kind: type[int] | type[float], *, zero: bool) -> Callable[[str], float]:
    """An argparse ``type``: a positive ``kind``, or with ``zero`` one that may be 0 too."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not (value >= 0 if zero else value > 0):
            raise argparse.ArgumentTypeError(f"{text} is not {'0 or more' if zero else 'above 0'}")
        return value
    return parse


def _duration(text: str) -> float:
    """An argparse ``type``: a Go duration (``5m``, ``90s``, ``0``) in seconds."""
    nanos = parse_duration(text)
    if nanos is None or nanos < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 5m, 90s or 0")
    return nanos / 1e9


def parse_args(argv: list[str] | None = None) -> Settings:
    p = _Parser(prog="apiserver", description=(
        "calicoctl-compatible projectcalico.org/v3 API server on etcd, with network-set "
        "federation"))
    p.add_argument("--listen", default="127.0.0.1:5443", metavar="HOST:PORT")
    p.add_argument("--etcd-endpoints", default="", metavar="URL[,URL...]",
                   help="an existing etcd cluster; absent: start an embedded etcd")
    p.add_argument("--etcd-cafile")
    p.add_argument("--etcd-certfile")
    p.add_argument("--etcd-keyfile")
    p.add_argument("--data-dir", help="embedded etcd's data directory")
    p.add_argument("--cluster-name", default="local")
    p.add_argument("--token-auth-file")
    p.add_argument("--tls-cert-file")
    p.add_argument("--tls-private-key-file")
    p.add_argument("--client-ca-file")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback listen address without TLS and authentication")
    p.add_argument("--max-request-bytes", type=_number(int, zero=False),
                   default=Settings.max_request_bytes)
    p.add_argument("--request-timeout", type=_number(float, zero=False),
                   default=Settings.request_timeout)
    p.add_argument("--max-watches-per-client", type=_number(int, zero=True),
                   default=Settings.max_watches_per_client)
    p.add_argument("--max-connections", type=_number(int, zero=True),
                   default=Settings.max_connections,
                   help="open client connections at most (0: no limit); one more gets 503")
    p.add_argument("--idle-timeout", type=_number(float, zero=True),
                   default=Settings.idle_timeout, metavar="SECONDS",
                   help="close a keep-alive connection idle this long")
    p.add_argument("--header-timeout", type=_number(float, zero=True),
                   default=Settings.header_timeout, metavar="SECONDS",
                   help="close a connection whose request headers take longer (slowloris)")
    p.add_argument("--etcd-compaction-interval", type=_duration, default="5m", metavar="D",
                   help="compact etcd's history every D (a Go duration such as 5m or 1h; 0: "
                   "never, when another tool compacts), keeping the last interval's revisions")
    p.add_argument("--no-federation", action="store_true", help="do not run peer syncers")
    p.add_argument("--federation-credentials-dir", default=Settings.federation_credentials_dir,
                   metavar="DIR", help="the only directory RemoteClusterConfiguration tokenFile, "
                   "caFile, certFile and keyFile may name")
    p.add_argument("--workers", type=_number(int, zero=False), default=os.cpu_count() or 1,
                   metavar="N", help="serving processes on the port, each with its own cache "
                   "(default: the number of cores; an ephemeral port 0 gets one)")
    p.add_argument("--log-level", default="info", type=str.lower, choices=LOG_LEVELS)
    p.add_argument("--log-format", default="text", type=str.lower, choices=LOG_FORMATS,
                   help="json: one JSON object per line, for log pipelines (the access log's "
                   "fields as keys)")
    a = p.parse_args(argv)
    host, _, port = a.listen.rpartition(":")
    if not host or not is_digits(port) or int(port) > 65535:
        usage_error(f"--listen {a.listen}: expected HOST:PORT with a port from 0 to 65535")
    for url in filter(None, a.etcd_endpoints.split(",")):
        check_endpoint(url)
    if not DNS_SUBDOMAIN.fullmatch(a.cluster_name) or len(a.cluster_name) > 253:
        usage_error(f"--cluster-name {a.cluster_name!r}: expected a DNS subdomain "
                    "(lower-case letters, digits, '-' and '.'), as peers name it")
    configure_logging(a.log_level, a.log_format)
    return Settings(listen_host=host.strip("[]"), listen_port=int(port),
                    etcd_endpoints=tuple(e for e in a.etcd_endpoints.split(",") if e),
                    etcd_cafile=a.etcd_cafile, etcd_certfile=a.etcd_certfile,
                    etcd_keyfile=a.etcd_keyfile, data_dir=a.data_dir,
                    cluster_name=a.cluster_name, token_auth_file=a.token_auth_file,
                    tls_cert_file=a.tls_cert_file, tls_private_key_file=a.tls_private_key_file,
                    client_ca_file=a.client_ca_file, insecure=a.insecure,
                    max_request_bytes=a.max_request_bytes, request_timeout=a.request_timeout,
                    max_watches_per_client=a.max_watches_per_client,
                    max_connections=a.max_connections, idle_timeout=a.idle_timeout,
                    header_timeout=a.header_timeout,
                    etcd_compaction_interval=a.etcd_compaction_interval,
                    federation=not a.no_federation,
                    federation_credentials_dir=a.federation_credentials_dir,
                    workers=a.workers if int(port) else 1, log_level=a.log_level,
                    log_format=a.log_format)


def check_endpoint(url: str) -> None:
    """An ``--etcd-endpoints`` member is ``http(s)://HOST:PORT`` (or ``HOST:PORT``)."""
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and \
            not parts.path.strip("/") and (parts.port is not None or
                                           not parts.netloc.endswith(":"))
    except ValueError:  # a port that is no number or out of range, an unclosed "["
        valid = False
    if not valid:
        usage_error(f"--etcd-endpoints {url!r}: expected http(s)://HOST:PORT[,...]")


def check_flags(s: Settings) -> None:
    """Flags that go together, and every file a flag names: present, readable, of the right
    form (tokens parsed, certificates and keys loaded), so that a mistake is one line at
    start-up rather than a traceback once etcd runs."""
    pairs = (("--tls-cert-file", s.tls_cert_file, "--tls-private-key-file",
              s.tls_private_key_file),
             ("--etcd-certfile", s.etcd_certfile, "--etcd-keyfile", s.etcd_keyfile))
    for flag, value, other, other_value in pairs:
        if bool(value) != bool(other_value):
            given, missing = (flag, other) if value else (other, flag)
            usage_error(f"{given} needs {missing}: a certificate and its private key go together")
    if s.client_ca_file and not s.tls_cert_file:
        usage_error("--client-ca-file needs --tls-cert-file and --tls-private-key-file: "
                    "clients can present certificates only over TLS")
    etcd_tls = [flag for flag, value in (("--etcd-cafile", s.etcd_cafile),
                                         ("--etcd-certfile", s.etcd_certfile)) if value]
    if etcd_tls and not s.etcd_endpoints:
        usage_error(f"{etcd_tls[0]} needs --etcd-endpoints: the embedded etcd is plain HTTP "
                    "on loopback")
    if s.data_dir and s.etcd_endpoints:
        usage_error("--data-dir is the embedded etcd's, and --etcd-endpoints means no embedded "
                    "etcd: give one or the other")
    for flag, path in (("--data-dir", s.data_dir or str(default_data_dir())),
                       ("--federation-credentials-dir", s.federation_credentials_dir)):
        if os.path.exists(path) and not os.path.isdir(path):
            usage_error(f"{flag} {path}: not a directory")
    if s.token_auth_file:
        _check_readable("--token-auth-file", s.token_auth_file)
        try:
            load_tokens(s.token_auth_file)
        except UnicodeDecodeError:
            usage_error(f"--token-auth-file {s.token_auth_file}: not UTF-8 text")
        except (ValueError, csv.Error) as err:
            usage_error(f"--token-auth-file {err}")
    _check_tls("--tls-cert-file", s.tls_cert_file, "--tls-private-key-file",
               s.tls_private_key_file, "--client-ca-file", s.client_ca_file)
    _check_tls("--etcd-certfile", s.etcd_certfile, "--etcd-keyfile", s.etcd_keyfile,
               "--etcd-cafile", s.etcd_cafile)


def _check_readable(flag: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        usage_error(f"{flag} {path}: {(err.strerror or str(err)).lower()}")


def _check_tls(cert_flag: str, cert: str | None, key_flag: str, key: str | None,
               ca_flag: str, ca: str | None) -> None:
    """Each PEM file holds what its flag says, and the certificate and key are a pair."""
    for flag, path, marker, what in ((cert_flag, cert, b"-----BEGIN CERTIFICATE-----",
                                      "certificate"),
                                     (key_flag, key, b"PRIVATE KEY-----", "private key"),
                                     (ca_flag, ca, b"-----BEGIN CERTIFICATE-----",
                                      "CA certificate")):
        text = _check_readable(flag, path) if path else b""
        if path and marker not in text:
            usage_error(f"{flag} {path}: no PEM {what} in it")
        if path == key and b"ENCRYPTED" in text:
            usage_error(f"{flag} {path}: the private key is encrypted, and a server cannot be "
                        "given its passphrase")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        if cert:
            ctx.load_cert_chain(cert, key, password=b"")
    except ssl.SSLError as err:
        usage_error(f"{cert_flag} {cert} with {key_flag} {key}: {_ssl_reason(err)}")
    try:
        if ca:
            ctx.load_verify_locations(ca)
    except ssl.SSLError as err:
        usage_error(f"{ca_flag} {ca}: {_ssl_reason(err)}")


def _ssl_reason(err: ssl.SSLError) -> str:
    return err.reason.lower().replace("_", " ") if err.reason else "not loadable as PEM"


def check_exposure(s: Settings) -> None:
    """Refuse a non-loopback listener without TLS and authentication unless ``--insecure``."""
    try:
        loopback = ipaddress.ip_address(s.listen_host).is_loopback
    except ValueError:
        loopback = s.listen_host == "localhost"
    secured = bool(s.tls_cert_file) and bool(s.token_auth_file or s.client_ca_file)
    if loopback or secured:
        return
    if not s.insecure:
        usage_error(f"refusing to listen on {s.listen_host} without TLS (--tls-cert-file) and "
                    "authentication (--token-auth-file or --client-ca-file); pass --insecure to "
                    "do it anyway")
    log.warning("listening on %s without TLS and authentication (--insecure): anyone who can "
                "reach this port can change the cluster's network policy", s.listen_host)


def ssl_context(s: Settings) -> ssl.SSLContext | None:
    if not s.tls_cert_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(s.tls_cert_file, s.tls_private_key_file)
    if s.client_ca_file:
        ctx.load_verify_locations(s.client_ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def default_data_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "calico-apiserver" / "etcd"


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM. An embedded etcd is stopped however that ends, a start
    that fails included."""
    embedded = None
    endpoints = list(settings.etcd_endpoints)
    if not endpoints:
        embedded = EmbeddedEtcd(Path(settings.data_dir) if settings.data_dir
                                else default_data_dir())
        embedded.spawn()  # from the main thread, so that etcd dies with this process
    try:
        if embedded:
            await asyncio.to_thread(embedded.wait_ready)
            endpoints = [embedded.endpoint]
            log.info("embedded etcd at %s (data in %s)", embedded.endpoint, embedded.data_dir)
        storage = EtcdStorage(endpoints, tls=EtcdTLS(settings.etcd_cafile,
                                                     settings.etcd_certfile,
                                                     settings.etcd_keyfile),
                              timeout=settings.etcd_timeout)
        try:
            await _serve(settings, storage)
        finally:
            await storage.close()
    finally:
        if embedded:
            await asyncio.to_thread(embedded.stop)


async def _serve(settings: Settings, storage: EtcdStorage) -> None:
    app = create_app(settings, storage)
    runner = make_runner(app, access_log=None, shutdown_timeout=2.0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    raise_open_files_limit()
    quiet_accept_errors(loop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.listen_host, settings.listen_port,
                           ssl_context=ssl_context(settings), reuse_port=settings.workers > 1)
        await site.start()
        scheme = "https" if settings.tls_cert_file else "http"
        log.info("serving on %s://%s:%d (cluster %s)", scheme, settings.listen_host,
                 settings.listen_port, settings.cluster_name)
        await stop.wait()
    finally:
        await runner.cleanup()


def serve_worker(settings: Settings) -> None:
    """One of ``--workers`` (a process of its own, started by ``workers.supervise``)."""
    die_with_parent()
    configure_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(serve(settings))
    except (MissingSchemas, OSError) as err:
        sys.exit(f"apiserver worker {settings.worker}: {err}")


def serve_workers(settings: Settings) -> None:
    """The embedded etcd (when there is one) here, the serving in ``settings.workers``
    processes; the etcd is stopped however that ends."""
    Validator(SCHEMAS)   # a broken installation is one line here, not N failing workers
    embedded = None
    if not settings.etcd_endpoints:
        embedded = EmbeddedEtcd(Path(settings.data_dir) if settings.data_dir
                                else default_data_dir())
        embedded.spawn()
    try:
        if embedded:
            embedded.wait_ready()
            log.info("embedded etcd at %s (data in %s)", embedded.endpoint, embedded.data_dir)
            settings = replace(settings, etcd_endpoints=(embedded.endpoint,), data_dir=None)
        supervise(settings, serve_worker)
    finally:
        if embedded:
            embedded.stop()


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    check_flags(settings)
    check_exposure(settings)
    try:
        if settings.workers > 1:
            serve_workers(settings)
        else:
            asyncio.run(serve(settings))
    except (EmbeddedEtcdError, MissingSchemas, WorkersFailing, OSError) as err:
        sys.exit(f"apiserver: {err}")


if __name__ == "__main__":
    main()
