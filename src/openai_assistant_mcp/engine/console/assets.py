"""Serving the console's static files, and putting them beside a server's guarded app.

The files are read once from the package (a fixed table: no path from a request ever reaches
the file system). Every answer carries a strict Content-Security-Policy (no inline script or
style, nothing from elsewhere, no framing) and an ETag; browsers revalidate (`no-cache`), as
the file names carry no version.

The assets pass the same Host/Origin checks as the API but no access token: a browser cannot put
one on a page load, and they are the package's public files, with no data and no key. Every
API call the page makes carries the token (and the user's key) like any other client's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from importlib import resources

from ...http.asgi import ASGIApp, Receive, Scope, Send, header
from ...http.guard import Door, Guard

CONSOLE_PATH = "/ui"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Every shipped file by its URL path (/ui/app.js, /ui/pages/files.js...); /ui/ is the
    shell."""
    root = resources.files(__package__).joinpath("static")
    found: dict[str, Asset] = {}

    def walk(folder: resources.abc.Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = "." + entry.name.rpartition(".")[2]
            if suffix not in CONTENT_TYPES:
                continue
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            found[f"{CONSOLE_PATH}/{prefix}{entry.name}"] = Asset(body, CONTENT_TYPES[suffix], etag)

    walk(root, "")
    found[f"{CONSOLE_PATH}/"] = found[f"{CONSOLE_PATH}/index.html"]
    return found


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


class ConsoleAssets:
    """ASGI app answering GET/HEAD under /ui from the shipped files."""

    def __init__(self) -> None:
        self.assets = load_assets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"Method not allowed.\n", [(b"allow", b"GET, HEAD")])
            return
        if path == CONSOLE_PATH:  # module imports are relative: the shell lives at /ui/
            await _answer(send, 308, b"", [(b"location", b"/ui/")])
            return
        asset = self.assets.get(path)
        if asset is None:
            await _answer(send, 404, b"Not found.\n")
            return
        validators = [(b"etag", asset.etag.encode()), (b"cache-control", b"no-cache")]
        if header(scope, b"if-none-match") == asset.etag:
            await _answer(send, 304, b"", validators)
            return
        body = b"" if scope["method"] == "HEAD" else asset.body
        headers = [(b"content-type", asset.content_type.encode()), *validators]
        await _answer(send, 200, body, headers, length=len(asset.body))


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    length: int | None = None,
) -> None:
    extra = headers or [(b"content-type", b"text/plain; charset=utf-8")]
    size = len(body) if length is None else length
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*extra, *SECURITY_HEADERS, (b"content-length", str(size).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def console_guard(api_door: Door) -> Guard:
    """The console's files behind the server's Host/Origin checks (its API door without the
    token, the per-key limit or large bodies; see the module docstring)."""
    door = replace(api_door, token=None, limiter=None, large_body_routes=())
    return Guard(ConsoleAssets(), door)


class BesideConsole:
    """Requests under /ui go to the console; under /v1/ to `api` when given (the MCP server's
    port, where the embedded engine answers beside MCP); everything else to `app`."""

    def __init__(self, app: ASGIApp, console: ASGIApp, api: ASGIApp | None = None) -> None:
        self.app = app
        self.console = console
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if is_console_path(path):
            await self.console(scope, receive, send)
        elif self.api is not None and path.startswith("/v1/"):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)
