"""Who may call an HTTP server: which Host/Origin, which access token, and whether it may
listen beyond loopback at all.

Host and Origin patterns are exact values or `name:*` (any port); `*` alone allows anything.
By default only loopback names are allowed, which defeats DNS rebinding.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from .asgi import Scope, header

LOOPBACK_HOSTS = ("localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[::1]:*")
LOOPBACK_ORIGINS = tuple(
    f"{scheme}://{host}" for scheme in ("http", "https") for host in LOOPBACK_HOSTS
)


def split_list(value: Any) -> Any:
    """'a, b' -> ('a', 'b'): list settings are comma-separated in the environment."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def pattern_matches(value: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Whether a Host/Origin value is allowed: exact, `name:*` with a numeric port, or `*`."""
    for pattern in patterns:
        if pattern in ("*", value):
            return True
        if pattern.endswith(":*"):
            base = pattern[:-1]  # keeps the colon
            if value.startswith(base) and value[len(base) :].isdigit():
                return True
    return False


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_refusal(
    host: str, has_token: bool, insecure_ok: bool, token: str, opt_out: str
) -> str | None:
    """Why the server must not start on `host` (None when it may): beyond loopback, anyone who
    can reach the port could use it, so that needs an access token or an explicit opt-out."""
    if is_loopback(host) or has_token or insecure_ok:
        return None
    return (
        f"Refusing to listen on {host!r} without an access token: anyone who can reach this "
        f"address could use the server. Set {token}, or pass {opt_out} if something in front "
        "of it (a proxy, a firewall) already controls access."
    )


def token_matches(given: str | None, expected: bytes) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected)


def host_refusal(
    scope: Scope, hosts: tuple[str, ...], origins: tuple[str, ...], prefix: str
) -> tuple[int, str, str] | None:
    """(status, code, message) refusing the request's Host or Origin; None when both pass.
    `prefix` names the settings in the message (API_ALLOWED_HOSTS, MCP_ALLOWED_HOSTS)."""
    host = header(scope, b"host")
    if host is None or not pattern_matches(host, hosts):
        return (
            421,
            "host_not_allowed",
            f"Host {host!r} is not allowed: this server answers only for {prefix}_ALLOWED_HOSTS "
            "(loopback names unless configured), which protects it from DNS rebinding.",
        )
    origin = header(scope, b"origin")
    if origin is not None and not pattern_matches(origin, origins):
        message = (
            f"Origin {origin!r} is not allowed to call this server ({prefix}_ALLOWED_ORIGINS)."
        )
        return 403, "origin_not_allowed", message
    return None
