"""Say plainly when the port a server is to listen on is taken (uvicorn's own report is a log
line without the setting to change, and a traceback when it runs under anyio)."""

from __future__ import annotations

import errno
import socket


def busy_port_refusal(host: str, port: int, setting: str) -> str | None:
    """One line when `port` is already in use on `host` (None when free, or for port 0).
    A trial bind just before uvicorn's own: the window between them is a few milliseconds."""
    if port == 0:
        return None
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return None  # uvicorn reports an unknown host itself
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                trial.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return (
                        f"Port {port} on {host} is already in use (another server?): "
                        f"choose a free one with {setting}."
                    )
    return None
