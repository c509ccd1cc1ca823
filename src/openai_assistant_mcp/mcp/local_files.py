"""Local files a tool may upload (stdio only): those under the client's MCP roots or under the
directories of MCP_UPLOAD_DIRS, never anywhere else on disk at a model's request."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

import mcp_types as types

log = logging.getLogger(__name__)


class LocalFileRefused(Exception):
    """A path the server will not read; the message names the rule."""


ROOTS_KEY = "roots"
_INPUT_REQUESTS_FROM = "2026-07-28"  # protocols that ask the client inside the call's result


async def client_roots(
    ctx: Any, params: types.CallToolRequestParams
) -> list[Path] | types.InputRequiredResult:
    """The client's roots (file:// URIs) as directories; none if it has no roots capability.
    On protocol 2026-07-28 the question travels as an InputRequiredResult the client answers
    by retrying the call; before, as a roots/list request to the client."""
    wanted = types.ClientCapabilities(roots=types.RootsCapability())
    try:
        if not ctx.session.check_client_capability(wanted):
            return []
        if str(ctx.protocol_version) >= _INPUT_REQUESTS_FROM:
            answer = (params.input_responses or {}).get(ROOTS_KEY)
            if answer is None:
                return types.InputRequiredResult(
                    input_requests={ROOTS_KEY: types.ListRootsRequest()}
                )
            return _directories(getattr(answer, "roots", None) or [])
        with warnings.catch_warnings():  # deprecated in 2026-07-28, the way older clients know
            warnings.simplefilter("ignore")
            result = await ctx.session.list_roots()
    except Exception as exc:  # a client that cannot answer simply grants nothing
        log.info("roots/list failed: %s", type(exc).__name__)
        return []
    return _directories(result.roots)


def _directories(found: Iterable[Any]) -> list[Path]:
    roots = []
    for root in found:
        uri = urlparse(str(root.uri))
        if uri.scheme == "file" and uri.path:
            roots.append(Path(unquote(uri.path)))
    return roots


def open_allowed(path: str, allowed: Iterable[Path], max_bytes: int) -> tuple[str, BinaryIO]:
    """(file name, open binary file) for `path` if, symlinks resolved, it is a regular file
    inside one of `allowed` and at most `max_bytes` long."""
    given = Path(path).expanduser()
    if not given.is_absolute():
        raise LocalFileRefused(f"'path' must be absolute (got {path!r}).")
    bases = [base.expanduser().resolve() for base in allowed]
    if not bases:
        raise LocalFileRefused(
            "Uploading by path is refused: the client shares no MCP roots and MCP_UPLOAD_DIRS "
            "is not set. Send 'content' instead."
        )
    try:
        resolved = given.resolve(strict=True)
    except (OSError, RuntimeError):
        resolved = None
    if resolved is None or not any(resolved.is_relative_to(base) for base in bases):
        # Said the same way whether or not the file exists: outside the roots, nothing leaks.
        shown = ", ".join(str(base) for base in bases)
        raise LocalFileRefused(
            f"Refused: {path!r} is not inside the client's MCP roots or MCP_UPLOAD_DIRS "
            f"({shown}); only files there may be uploaded by path."
        )
    if not resolved.is_file():
        raise LocalFileRefused(f"{path!r} is not a regular file.")
    size = resolved.stat().st_size
    if size > max_bytes:
        raise LocalFileRefused(f"{path!r} has {size} bytes; at most {max_bytes} can be uploaded.")
    return resolved.name, resolved.open("rb")
