"""Connection settings: flags, then a ``CalicoAPIConfig`` file, then the environment.

The file is calicoctl's (``apiVersion: projectcalico.org/v3``, ``kind: CalicoAPIConfig``)
with a ``spec`` that may carry ``apiServer``, ``token``, ``tokenFile``, ``caFile``,
``certFile``, ``keyFile`` and ``timeout``. calicoctl's other keys are accepted, since one file
may serve both tools, but ``ctl`` only talks to the apiserver: calicoctl's datastore settings
(``datastoreType``/``etcdEndpoints`` in the file, ``DATASTORE_TYPE``/``ETCD_ENDPOINTS`` in the
environment) without an apiserver setting end the command with one line saying which setting
to use, rather than quietly trying the default URL.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from .client import Connection

DEFAULT_CONFIG = "/etc/calico/calicoctl.cfg"
DEFAULT_SERVER = "http://127.0.0.1:5443"
DEFAULT_TIMEOUT = 30.0
_OWN_KEYS = {"apiServer", "token", "tokenFile", "caFile", "certFile", "keyFile", "timeout"}
_CALICO_KEYS = {"datastoreType", "etcdEndpoints", "etcdDiscoverySrv", "etcdUsername",
                "etcdPassword", "etcdKeyFile", "etcdCertFile", "etcdCACertFile", "etcdKey",
                "etcdCert", "etcdCACert", "kubeconfig", "k8sAPIEndpoint", "k8sKeyFile",
                "k8sCertFile", "k8sCAFile", "k8sAPIToken", "k8sInsecureSkipTLSVerify",
                "k8sDisableNodePoll", "usePodCIDR", "kubeconfigInline", "k8sClientQPS",
                "k8sClientBurst", "k8sCurrentContext", "calicoAPIGroup"}
# calicoctl's settings that choose its datastore: file keys, and their environment variables
# (each also read with the prefix CALICO_, as libcalico-go's envconfig does).
_DATASTORE_KEYS = {"datastoreType": "DATASTORE_TYPE", "etcdEndpoints": "ETCD_ENDPOINTS",
                   "etcdDiscoverySrv": "ETCD_DISCOVERY_SRV"}


class ConfigError(Exception):
    """A config problem; ``to_stdout`` marks calicoctl's messages that go to stdout."""

    def __init__(self, message: str, *, to_stdout: bool = False) -> None:
        super().__init__(message)
        self.to_stdout = to_stdout


@dataclass(frozen=True)
class Flags:
    """The connection flags as given (empty = not given)."""

    server: str = ""
    token: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    timeout: str = ""
    config: str = DEFAULT_CONFIG


def connection(flags: Flags, env: Mapping[str, str] = os.environ) -> Connection:
    """The connection to use. Raises ConfigError."""
    spec = read_config(flags.config)
    token = flags.token or spec.get("token") or ""
    token_file = spec.get("tokenFile") or ""
    if not token and token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as err:
            raise ConfigError(f"cannot read token file {token_file}: {err.strerror}") from None
    server = flags.server or spec.get("apiServer") or env.get("CALICO_APISERVER")
    if not server:
        _refuse_datastore_settings(flags.config, spec, env)
    return Connection(
        server=server or DEFAULT_SERVER,
        token=token or env.get("CALICO_TOKEN", ""),
        ca_file=flags.ca_file or spec.get("caFile") or "",
        cert_file=flags.cert_file or spec.get("certFile") or "",
        key_file=flags.key_file or spec.get("keyFile") or "",
        timeout=parse_timeout(flags.timeout or str(spec.get("timeout") or "")
                              or env.get("CALICO_TIMEOUT", "")))


def _refuse_datastore_settings(path: str, spec: dict[str, Any],
                               env: Mapping[str, str]) -> None:
    """ConfigError naming calicoctl's datastore settings, when any is given: they point at
    etcd (or Kubernetes), which ctl never talks to."""
    given = [f"{key}: {spec[key]}" for key in _DATASTORE_KEYS if spec.get(key)]
    where = f"in {path}"
    if not given:
        given = [f"{prefix}{var}={env[prefix + var]}" for var in _DATASTORE_KEYS.values()
                 for prefix in ("", "CALICO_") if env.get(prefix + var)]
        where = "in the environment"
    if given:
        raise ConfigError("ctl talks to the Calico apiserver, not to the datastore, so it "
                          f"does not use calicoctl's datastore settings ({', '.join(given)} "
                          f"{where}): give the apiserver's URL with spec.apiServer in the "
                          "config file, --server or CALICO_APISERVER")


def read_config(path: str) -> dict[str, Any]:
    """The ``spec`` of a CalicoAPIConfig file; ``{}`` when the default file is absent.
    Raises ConfigError (a missing non-default file is fatal, as in calicoctl)."""
    file = Path(path)
    if not file.exists():
        if path == DEFAULT_CONFIG:
            return {}
        raise ConfigError(f"Error reading config file: {path}", to_stdout=True)
    try:
        data = yaml.safe_load(file.read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Error reading config file: {path}: {err}", to_stdout=True) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"syntax error in {path}: {err}") from None
    if not isinstance(data, dict) or data.get("apiVersion") != "projectcalico.org/v3" or \
            data.get("kind") != "CalicoAPIConfig":
        raise ConfigError(f"invalid config file: {path}: expected apiVersion "
                          "projectcalico.org/v3 and kind CalicoAPIConfig")
    spec = data.get("spec") or {}
    if not isinstance(spec, dict):
        raise ConfigError(f"invalid config file: {path}: spec must be a mapping")
    unknown = sorted(set(spec) - _OWN_KEYS - _CALICO_KEYS)
    if unknown:
        raise ConfigError(f"invalid config file: {path}: unknown field \"{unknown[0]}\"")
    return spec


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$", re.ASCII)


def parse_timeout(text: str) -> float:
    """Seconds from ``30``, ``30s``, ``500ms``, ``2m``; empty = the default. Raises ConfigError."""
    if not text:
        return DEFAULT_TIMEOUT
    m = _DURATION.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"invalid timeout {text!r}: use seconds or a duration such as 10s")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]
    return float(m.group(1)) * scale
