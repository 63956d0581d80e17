"""What every command works with: its parsed arguments, a client built on first use, the
version check, and the two ways a command ends (its output, or one error line)."""
from __future__ import annotations

import sys

from . import config
from .arguments import Args
from .client import ApiClient, KindInfo, NotFound, kind_lookup

CLIENT_VERSION = "v3.32.1"


class CommandError(Exception):
    """Ends the command: ``message`` on stderr (or stdout), exit 1."""

    def __init__(self, message: str, *, to_stdout: bool = False) -> None:
        super().__init__(message)
        self.to_stdout = to_stdout


def out(text: str) -> None:
    sys.stdout.write(text)


def err(text: str) -> None:
    sys.stderr.write(text)


class Session:
    """One command's parsed arguments and its client, built when first needed."""

    def __init__(self, args: Args) -> None:
        self.args = args
        self._client: ApiClient | None = None

    def use(self, client: ApiClient) -> None:
        """Work with ``client`` instead of one built from the connection settings (``ctl
        validate``'s offline client, which answers what it is asked like a server)."""
        self._client = client

    @property
    def client(self) -> ApiClient:
        """Raises CommandError when the connection settings are unusable."""
        if self._client is None:
            flags = config.Flags(
                server=self.args.get("--server"), token=self.args.get("--token"),
                ca_file=self.args.get("--certificate-authority"),
                cert_file=self.args.get("--client-certificate"),
                key_file=self.args.get("--client-key"), timeout=self.args.get("--timeout"),
                config=self.args.get("--config") or config.DEFAULT_CONFIG)
            try:
                self._client = ApiClient(config.connection(flags))
            except config.ConfigError as exc:
                raise CommandError(str(exc), to_stdout=exc.to_stdout) from None
        return self._client

    def kind(self, name: str) -> KindInfo | None:
        """The kind a command-line name means, as the server's discovery lists them."""
        return kind_lookup(self.client.kinds(), name)

    def check_version(self) -> None:
        """calicoctl's client/cluster version check (skipped when the cluster has none).
        Raises CommandError."""
        if self.args.flag("--allow-version-mismatch"):
            return
        info = self.kind("clusterinformation")
        if info is None:
            return
        try:
            cluster = self.client.get(info, "default", None).get("spec", {}).get(
                "calicoVersion") or ""
        except NotFound:
            return
        if cluster and _version_core(cluster) != _version_core(CLIENT_VERSION):
            raise CommandError(f"version mismatch.\nClient Version:   {CLIENT_VERSION}\n"
                               f"Cluster Version:  {cluster}\n"
                               "Use --allow-version-mismatch to override")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _version_core(version: str) -> str:
    return version.lstrip("v").split("-", 1)[0]
