"""Where the CLI finds the API: the one place that reads the environment.

Order (first wins): ``--data-dir``, ``$ZEROSERVE_DATA_DIR``, ``~/.zeroserve``. The API address and
token come from ``DATA/endpoints.json`` and ``DATA/token``; ``$ZEROSERVE_API`` and
``$ZEROSERVE_TOKEN`` override them. The API is HTTPS, its certificate signed by the CA that ``up``
recorded (``DATA/ca.crt``); ``$ZEROSERVE_CA_FILE`` names another. The registry builds push to:
``$ZEROSERVE_REGISTRY``, else the one ``zeroserve up --registry/--serve-registry`` recorded in
``DATA/endpoints.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from zeroserve.cli.client import DEFAULT_TIMEOUT, ApiClient

DEFAULT_API = "https://127.0.0.1:8001"
ENDPOINTS_FILE = "endpoints.json"
TOKEN_FILE = "token"
CA_FILE = "ca.crt"


@dataclass(frozen=True)
class Context:
    """What every command needs to reach the API."""

    data_dir: Path
    api: str
    token: str
    gateway: str = ""
    registry: str = ""
    """``HOST:PORT[/PATH]`` that ``zeroserve build`` and ``--source`` push to; empty: none configured."""
    ca_file: str = ""
    """The CA (PEM) an https API's certificate is checked against; empty: the system's."""
    token_source: str = ""
    """Where :attr:`token` came from (``$ZEROSERVE_TOKEN`` or ``DATA/token``), for error messages."""

    @classmethod
    def from_env(cls, data_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> Context:
        env = os.environ if environ is None else environ
        if data_dir is None:
            data_dir = Path(env["ZEROSERVE_DATA_DIR"]) if env.get("ZEROSERVE_DATA_DIR") else Path.home() / ".zeroserve"
        endpoints = _read_endpoints(data_dir / ENDPOINTS_FILE)
        api = env.get("ZEROSERVE_API") or str(endpoints.get("api") or DEFAULT_API)
        token = env.get("ZEROSERVE_TOKEN") or _read_text(data_dir / TOKEN_FILE)
        token_source = "$ZEROSERVE_TOKEN" if env.get("ZEROSERVE_TOKEN") else str(data_dir / TOKEN_FILE)
        registry = env.get("ZEROSERVE_REGISTRY") or str(endpoints.get("registry") or "")
        gateway = str(endpoints.get("gateway") or "")
        ca_file = env.get("ZEROSERVE_CA_FILE") or str(endpoints.get("ca") or "")
        if not ca_file and (data_dir / CA_FILE).is_file():
            ca_file = str(data_dir / CA_FILE)
        return cls(
            data_dir=data_dir,
            api=api.rstrip("/"),
            token=token,
            gateway=gateway,
            registry=registry,
            ca_file=ca_file,
            token_source=token_source,
        )

    def client(self, timeout: float | None = None) -> ApiClient:
        hint = f"is `zeroserve up` running? (data dir {self.data_dir})"
        source = self.token_source or "the token"
        if not self.token:
            source += " (missing)"
        return ApiClient(
            self.api,
            self.token,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            hint=hint,
            ca_file=self.ca_file,
            credentials=source,
        )


def _read_endpoints(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
