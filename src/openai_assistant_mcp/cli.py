"""Command line: `openai-assistant-mcp [flags]` serves MCP; `openai-assistant-mcp api` serves REST.

Every setting is an environment variable (settings.py) and a flag derived from it
(settings_flags.py); a flag wins.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from .engine.sandbox.admin import add_sandbox_command, run_sandbox_command
from .engine.sandbox.settings import SandboxSettings
from .secret_args import add_secret_file_flags, resolve_secrets
from .settings import APISettings, Settings, StoreSettings
from .settings_flags import add_settings_flags, env_only_help, settings_from
from .tenants_cli import add_tenant_commands, run_tenants

USAGE_EPILOG = """\
examples:
  openai-assistant-mcp                                  # stdio, for Claude Desktop / Cursor
  openai-assistant-mcp --transport streamable-http      # http://localhost:8662/mcp
  openai-assistant-mcp --transport sse --credentials-passthrough   # /sse, key per request
  openai-assistant-mcp api --port 8663                  # the Assistants REST API at /v1
  openai-assistant-mcp tenants list                     # whose data the store holds
"""
API_DESCRIPTION = """Serve the embedded engine as an Assistants REST API under /v1.

Callers send their key as Authorization: Bearer; each key is its own tenant. Runs call the
Chat Completions provider with the caller's key:
  OPENAI_BASE_URL  (--openai-base-url) the provider; default https://api.openai.com/v1
  OPENAI_API_KEY   (--openai-api-key-file) the provider key for callers that send no key
  PROVIDER_TIMEOUT, PROVIDER_MAX_RETRIES  (--provider-timeout, --provider-max-retries)"""
# The settings each command reads (flags, env, secrets from files); the MCP server by default.
COMMAND_SETTINGS: dict[str | None, type[BaseSettings]] = {
    None: Settings,
    "api": APISettings,
    "tenants": StoreSettings,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openai-assistant-mcp",
        description="MCP server for the Assistants API (assistants, threads, messages, runs, "
        "run steps), backed by an embedded Assistants API engine.",
        epilog=USAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    add_settings_flags(parser, Settings)
    add_secret_file_flags(parser, Settings)

    commands = parser.add_subparsers(dest="command", metavar="{api,tenants,sandbox}")
    api = commands.add_parser(
        "api",
        help="serve the embedded engine as an Assistants REST API (under /v1)",
        description=API_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    # Where the API listens: flags only (HOST and PORT are the MCP server's).
    api.add_argument(
        "--host",
        dest="api_host",
        metavar="ADDRESS",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; a non-loopback address needs "
        "API_AUTH_TOKEN)",
    )
    api.add_argument(
        "--port",
        dest="api_port",
        metavar="NUMBER",
        type=int,
        default=8663,
        help="port to listen on (default 8663; 0 picks a free one)",
    )
    add_settings_flags(api, APISettings)
    add_secret_file_flags(api, APISettings)
    store = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    add_settings_flags(store, StoreSettings, only=StoreSettings.READ)
    add_tenant_commands(commands, store)
    add_sandbox_command(commands, env_only_help(SandboxSettings))
    return parser


def _version() -> str:
    """The installed distribution's version (pyproject.toml's)."""
    from importlib.metadata import version

    return version("openai-assistant-mcp")


def _one_line(error: ValidationError, model: type[BaseSettings]) -> str:
    first = error.errors()[0]
    where = str(first["loc"][0]) if first["loc"] else "settings"
    if where in model.model_fields:
        where = model.model_fields[where].alias or where.upper()
    return f"invalid {where}: {first['msg'].removeprefix('Value error, ')}"


# Line breaks and other control characters, as they could forge or hide log lines.
_CONTROL = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
}


class EscapingFormatter(logging.Formatter):
    """Escapes control characters in each message (which may quote a client's values, as the
    mcp SDK's warnings do), so one log record is one line; tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = record.message.translate(_CONTROL)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        # A traceback's lines (whose last may quote a client's value) are indented: only a
        # record's first line starts at the margin.
        return super().format(record).replace("\n", "\n  ")


def configure_logging(level: str) -> None:
    """Logs go to stderr: on the stdio transport, stdout carries the protocol."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if level != "DEBUG":
        # One line per HTTP request is noise at INFO; the SDKs' own chatter too.
        for name in ("uvicorn.access", "httpx2", "httpcore", "openai", "mcp", "alembic"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = getattr(args, "command", None)
    if command == "sandbox":
        sys.exit(run_sandbox_command(args))
    model = COMMAND_SETTINGS[command]
    try:
        resolve_secrets(args, model)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        settings = settings_from(args, model)
    except ValidationError as exc:
        parser.error(_one_line(exc, model))
    configure_logging(settings.log_level)
    if command is not None or settings.embedded:
        # A DATABASE_URL the store cannot use: one line naming it and a valid URL, exit 1.
        from .engine.startup import database_refusal

        refusal = database_refusal(settings.database_url)
        if refusal:
            sys.exit(refusal)

    if command == "tenants":
        try:
            sys.exit(run_tenants(args, settings))
        except Exception as exc:  # a store it cannot open: one line (the traceback at DEBUG)
            from .engine.startup import start_failure

            logging.getLogger(__name__).debug("tenants failed", exc_info=exc)
            sys.exit(start_failure(exc, settings.resolved_database_url()))

    if command == "api":
        from .engine.serve import serve_api

        serve_api(settings, args.api_host, args.api_port, settings)
        return

    from .mcp.serve import run

    try:
        run(settings)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
