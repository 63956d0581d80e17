"""``apiserver`` command line: flags → Settings; embedded etcd or ``--etcd-endpoints``; serve."""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from aiohttp import web

from .app import create_app
from .config import Settings
from .storage.embedded import EmbeddedEtcd, EtcdNotInstalled
from .storage.etcd import EtcdStorage, EtcdTLS

log = logging.getLogger("apiserver")


def parse_args(argv: list[str] | None = None) -> Settings:
    p = argparse.ArgumentParser(prog="apiserver", description=(
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
    p.add_argument("--max-request-bytes", type=int, default=Settings.max_request_bytes)
    p.add_argument("--request-timeout", type=float, default=Settings.request_timeout)
    p.add_argument("--max-watches-per-client", type=int,
                   default=Settings.max_watches_per_client)
    p.add_argument("--no-federation", action="store_true", help="do not run peer syncers")
    p.add_argument("--log-level", default="info")
    a = p.parse_args(argv)
    host, _, port = a.listen.rpartition(":")
    if not host or not port.isdigit():
        p.error(f"--listen must be HOST:PORT, not {a.listen!r}")
    logging.basicConfig(level=a.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Settings(listen_host=host.strip("[]"), listen_port=int(port),
                    etcd_endpoints=tuple(e for e in a.etcd_endpoints.split(",") if e),
                    etcd_cafile=a.etcd_cafile, etcd_certfile=a.etcd_certfile,
                    etcd_keyfile=a.etcd_keyfile, data_dir=a.data_dir,
                    cluster_name=a.cluster_name, token_auth_file=a.token_auth_file,
                    tls_cert_file=a.tls_cert_file, tls_private_key_file=a.tls_private_key_file,
                    client_ca_file=a.client_ca_file, insecure=a.insecure,
                    max_request_bytes=a.max_request_bytes, request_timeout=a.request_timeout,
                    max_watches_per_client=a.max_watches_per_client,
                    federation=not a.no_federation)


def check_exposure(s: Settings) -> None:
    """Refuse a non-loopback listener without TLS and authentication unless ``--insecure``,
    and client certificates without TLS (every request would be anonymous)."""
    if s.client_ca_file and not s.tls_cert_file:
        sys.exit("apiserver: --client-ca-file needs --tls-cert-file and --tls-private-key-file: "
                 "clients can present certificates only over TLS")
    try:
        loopback = ipaddress.ip_address(s.listen_host).is_loopback
    except ValueError:
        loopback = s.listen_host == "localhost"
    secured = bool(s.tls_cert_file) and bool(s.token_auth_file or s.client_ca_file)
    if loopback or secured:
        return
    if not s.insecure:
        sys.exit(f"apiserver: refusing to listen on {s.listen_host} without TLS "
                 "(--tls-cert-file) and authentication (--token-auth-file or --client-ca-file); "
                 "pass --insecure to do it anyway")
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
    embedded = None
    endpoints = list(settings.etcd_endpoints)
    if not endpoints:
        embedded = EmbeddedEtcd(Path(settings.data_dir) if settings.data_dir
                                else default_data_dir())
        await asyncio.to_thread(embedded.start)
        endpoints = [embedded.endpoint]
        log.info("embedded etcd at %s (data in %s)", embedded.endpoint, embedded.data_dir)
    storage = EtcdStorage(endpoints, tls=EtcdTLS(settings.etcd_cafile, settings.etcd_certfile,
                                                 settings.etcd_keyfile),
                          timeout=settings.etcd_timeout)
    app = create_app(settings, storage)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.listen_host, settings.listen_port,
                       ssl_context=ssl_context(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await site.start()
        scheme = "https" if settings.tls_cert_file else "http"
        log.info("serving on %s://%s:%d (cluster %s)", scheme, settings.listen_host,
                 settings.listen_port, settings.cluster_name)
        await stop.wait()
    finally:
        await runner.cleanup()
        await storage.close()
        if embedded:
            await asyncio.to_thread(embedded.stop)


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    check_exposure(settings)
    try:
        asyncio.run(serve(settings))
    except EtcdNotInstalled as err:
        sys.exit(f"apiserver: {err}")
    except OSError as err:
        sys.exit(f"apiserver: {err}")


if __name__ == "__main__":
    main()
