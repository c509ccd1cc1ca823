"""What the MCP server says before it serves: a taken port (and exit), runs that cannot work
as configured, and, on a terminal, what stdio is waiting for."""

from __future__ import annotations

import logging
import sys

from ..engine.ports import busy_port_refusal
from ..settings import Settings

log = logging.getLogger(__name__)

STDIO_TERMINAL_LINE = (
    "openai-assistant-mcp: MCP server on stdio, waiting for an MCP client's JSON-RPC on "
    "standard input (an MCP client such as Claude Desktop starts it; --help for the HTTP "
    "transports; Ctrl-C quits)."
)


def check_start(settings: Settings) -> None:
    """Exit with one line if the HTTP port is taken; warn when runs are bound to fail."""
    if settings.transport != "stdio":
        busy = busy_port_refusal(settings.host, settings.port, "PORT (--port)")
        if busy:
            raise SystemExit(busy)
    if settings.embedded and not settings.credentials_passthrough:
        warning = settings.engine_settings().provider_warning(
            "Runs", "OPENAI_API_KEY (--openai-api-key)"
        )
        if warning:
            log.warning(warning)
    if settings.embedded:
        from ..engine.sandbox.namespaces import warn_at_start

        warn_at_start(log)  # code_interpreter on a machine that refuses it namespaces
    if settings.transport == "stdio" and sys.stdin.isatty():
        # Started by hand: without this line the server looks hung (it waits for a client).
        print(STDIO_TERMINAL_LINE, file=sys.stderr, flush=True)
