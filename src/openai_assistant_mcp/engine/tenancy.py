"""Caller identity: a keyed hash of the bearer key, never the key itself."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from .store.files import tighten

if TYPE_CHECKING:
    from .settings import EngineSettings

DEFAULT_TENANT = "default"


def load_or_create_secret(data_dir: Path) -> bytes:
    """The server secret from data_dir/secret.key, created (mode 0600) on first use."""
    path = data_dir / "secret.key"
    try:
        value = bytes.fromhex(path.read_text().strip())
        tighten(path, 0o600)  # one an older version left readable
        return value
    except FileNotFoundError:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        hex_value = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(hex_value)
        return bytes.fromhex(hex_value)
    except FileExistsError:  # pragma: no cover - lost a creation race with another process
        return bytes.fromhex(path.read_text().strip())


class TenantHasher:
    """Maps an API key to its tenant ID: HMAC-SHA256 with the server secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def tenant_for(self, api_key: str | None) -> str:
        if not api_key:
            return DEFAULT_TENANT
        return hmac.new(self._secret, api_key.encode(), hashlib.sha256).hexdigest()


def hasher_for(settings: EngineSettings) -> TenantHasher:
    """The hasher with ENGINE_SECRET, or else the secret kept in the data directory."""
    if settings.tenant_secret:
        return TenantHasher(settings.tenant_secret.get_secret_value().encode())
    return TenantHasher(load_or_create_secret(settings.data_dir))
