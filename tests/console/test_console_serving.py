"""How /ui is served: the shipped files with a strict CSP and validators, behind the same
Host/Origin checks; the access token on every API call (and the page that asks for it);
CONSOLE_ENABLED; the MCP server's HTTP port with the embedded engine."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.mcp.servers import INITIALIZE, ServerProcess
from tests.support.browser import Console

TOKEN = "console-access-token-0123456789"


def test_the_shell_and_its_modules_carry_a_strict_csp_and_validators(
    console_server: ServerProcess,
) -> None:
    with httpx2.Client(base_url=console_server.url("")) as http:
        moved = http.get("/ui")
        assert moved.status_code == 308 and moved.headers["location"] == "/ui/"
        shell = http.get("/ui/")
        assert shell.status_code == 200
        assert shell.headers["content-type"] == "text/html; charset=utf-8"
        csp = shell.headers["content-security-policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "img-src 'self' blob: data:",
            "frame-ancestors 'none'",
        ):
            assert directive in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert shell.headers["x-content-type-options"] == "nosniff"
        assert shell.headers["referrer-policy"] == "no-referrer"
        assert shell.headers["cache-control"] == "no-cache"
        assert "<script" not in shell.text.replace('<script type="module" src="app.js">', "")
        again = http.get("/ui/", headers={"if-none-match": shell.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        module = http.get("/ui/pages/assistants.js")
        assert module.headers["content-type"] == "text/javascript; charset=utf-8"
        assert http.get("/ui/nothing.js").status_code == 404
        assert http.get("/ui/../pyproject.toml").status_code == 404
        assert http.post("/ui/app.js").status_code == 405
        refused = http.get("/ui/", headers={"host": "rebinding.example"})
        assert refused.status_code == 421 and "API_ALLOWED_HOSTS" in refused.text


def test_with_an_access_token_the_page_loads_and_every_api_call_needs_it(
    start_server: Any, console: Console, key: str
) -> None:
    server: ServerProcess = start_server("console-token", "api", API_AUTH_TOKEN=TOKEN)
    with httpx2.Client(base_url=server.url("")) as http:
        assert http.get("/ui/app.js").status_code == 200  # public files: no token
        refused = http.get("/v1/assistants", headers={"authorization": f"Bearer {key}"})
        assert refused.status_code == 401
    page = Console(console.driver, server.url(""))
    page.open("assistants", key=key)  # no token typed: the API refuses, the prompt says why
    said = page.find("form.keyform .error").text
    assert said.startswith("Missing or wrong access token") and "API_AUTH_TOKEN" in said
    page.sign_in(key, token=TOKEN)
    assert "No assistants yet" in page.find("[data-page=assistants] .empty").text


def test_console_enabled_false_serves_no_console(start_server: Any) -> None:
    server: ServerProcess = start_server("console-off", "api", CONSOLE_ENABLED="false")
    with httpx2.Client(base_url=server.url("")) as http:
        answer = http.get("/ui/")
        assert answer.status_code == 404 and answer.json()["error"]["message"]
        assert http.get("/v1/assistants").status_code == 200  # the API itself is unchanged


def test_the_mcp_servers_http_port_serves_the_console_and_its_api(
    start_server: Any, console: Console, key: str
) -> None:
    server: ServerProcess = start_server("console-mcp", TRANSPORT="streamable-http")
    with httpx2.Client(base_url=server.url("")) as http:
        assert http.get("/ui/").status_code == 200
        made = http.post(
            "/v1/assistants",
            json={"model": "scripted-model", "name": "from REST on the MCP port"},
            headers={"authorization": f"Bearer {key}"},
        )
        assert made.status_code == 200, made.text
        mcp = http.post(
            "/mcp",
            json=INITIALIZE,
            headers={"accept": "application/json, text/event-stream"},
        )
        assert mcp.status_code == 200 and "serverInfo" in mcp.text
    page = Console(console.driver, server.url(""))
    page.open("assistants", key=key)
    page.wait_text("table.assistants td", "from REST on the MCP port")


@pytest.mark.parametrize("path", ["/ui/", "/v1/assistants"])
def test_the_mcp_port_without_the_console_answers_neither(start_server: Any, path: str) -> None:
    server: ServerProcess = start_server(
        "console-mcp-off", TRANSPORT="streamable-http", CONSOLE_ENABLED="false"
    )
    with httpx2.Client(base_url=server.url("")) as http:
        assert http.get(path).status_code == 404


def test_the_mcp_ports_api_is_behind_mcp_auth_token_with_the_key_as_identity(
    start_server: Any, key: str
) -> None:
    server: ServerProcess = start_server(
        "console-mcp-token", TRANSPORT="streamable-http", MCP_AUTH_TOKEN=TOKEN
    )
    door = {"authorization": f"Bearer {TOKEN}"}
    with httpx2.Client(base_url=server.url("")) as http:
        assert http.get("/ui/").status_code == 200  # public files: no token
        refused = http.get("/v1/assistants", headers={"authorization": f"Bearer {key}"})
        assert refused.status_code == 401
        assert "MCP_AUTH_TOKEN" in refused.json()["error"]["message"]
        made = http.post(
            "/v1/assistants",
            json={"model": "scripted-model", "name": "behind the token"},
            headers={**door, "x-openai-api-key": key},
        )
        assert made.status_code == 200, made.text
        mine = http.get("/v1/assistants", headers={**door, "x-openai-api-key": key}).json()
        assert [a["name"] for a in mine["data"]] == ["behind the token"]
        other = {**door, "x-openai-api-key": f"{key}-other"}
        assert http.get("/v1/assistants", headers=other).json()["data"] == []
