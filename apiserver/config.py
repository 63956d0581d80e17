"""Server settings (built from the command line in ``main.py``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 5443
    etcd_endpoints: tuple[str, ...] = ()
    etcd_cafile: str | None = None
    etcd_certfile: str | None = None
    etcd_keyfile: str | None = None
    data_dir: str | None = None
    cluster_name: str = "local"
    token_auth_file: str | None = None
    tls_cert_file: str | None = None
    tls_private_key_file: str | None = None
    client_ca_file: str | None = None
    insecure: bool = False
    max_request_bytes: int = 3 * 1024 * 1024
    max_connections: int = 4096
    idle_timeout: float = 75.0        # an idle keep-alive connection is closed after this
    header_timeout: float = 30.0      # a request's headers must be complete this soon
    request_timeout: float = 60.0
    etcd_timeout: float = 5.0
    watch_timeout: float = 1800.0
    watch_write_timeout: float = 30.0
    bookmark_interval: float = 5.0
    max_watches_per_client: int = 100
    etcd_compaction_interval: float = 300.0   # seconds; 0: never (another tool compacts)
    federation: bool = True
    federation_credentials_dir: str = "/etc/calico/peers"  # the only place RCC file fields may name
    federation_options: object | None = None  # a federation.manager.ManagerOptions
    workers: int = 1                  # serving processes on the port (--workers)
    worker: int = 0                   # this process's index among them
    metrics_dir: str = ""             # where the workers' private metrics sockets live
    log_level: str = "info"
    log_format: str = "text"
