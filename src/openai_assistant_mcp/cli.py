"""Command line: `openai-assistant-mcp [flags]` serves MCP; `openai-assistant-mcp api` serves REST.

Every setting is an environment variable (see config.Settings) and a flag; a flag wins.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .engine.sandbox.admin import add_sandbox_command, run_sandbox_command
from .engine.settings import default_data_dir
from .http_guards import HTTP_FLAGS, add_api_guard_flags, api_guard_settings, shown_default
from .secret_args import add_secret_file_flags, resolve_secrets
from .settings import TOOLSETS, Settings
from .tenants_cli import add_tenant_commands, run_tenants

USAGE_EPILOG = """\
examples:
  openai-assistant-mcp                                  # stdio, for Claude Desktop / Cursor
  openai-assistant-mcp --transport streamable-http      # http://localhost:8662/mcp
  openai-assistant-mcp --transport sse --credentials-passthrough   # /sse, key per request
  openai-assistant-mcp api --port 8663                  # the Assistants REST API at /v1
  openai-assistant-mcp tenants list                     # whose data the store holds
"""

# (field, flag, help) for the MCP server's own settings; the env name comes from the field.
SERVER_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("transport", "--transport", "stdio, sse (served at /sse) or streamable-http (at /mcp)"),
    ("host", "--host", "address the HTTP transports listen on"),
    ("port", "--port", "port the HTTP transports listen on"),
    (
        "openai_api_key",
        "--openai-api-key",
        "single-user mode's key: the provider key of the embedded engine and the tenant "
        "your data belongs to",
    ),
    (
        "credentials_passthrough",
        "--credentials-passthrough",
        "use each HTTP request's X-OpenAI-API-Key (or Authorization: Bearer) header",
    ),
    (
        "assistants_api_url",
        "--assistants-api-url",
        "send calls to this remote Assistants API instead of the embedded engine",
    ),
    (
        "assistants_api_token",
        "--assistants-api-token",
        "access token of the remote Assistants API (its API_AUTH_TOKEN)",
    ),
    ("assistants_api_timeout", "--assistants-api-timeout", "seconds one API call may take"),
    ("toolsets", "--toolsets", f"comma-separated subset of: {', '.join(TOOLSETS)}"),
    ("read_only", "--read-only", "expose only the tools that change nothing"),
    ("run_wait_timeout", "--run-wait-timeout", "default seconds a run tool waits for the run"),
    (
        "upload_dirs",
        "--upload-dirs",
        "comma-separated directories upload_file may read by path over stdio (besides the "
        "client's MCP roots)",
    ),
)
# Settings shared by both commands: logging and the embedded engine.
COMMON_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("log_level", "--log-level", "DEBUG, INFO, WARNING or ERROR (logs go to stderr)"),
    ("database_url", "--database-url", "engine database (postgresql+asyncpg://... for PostgreSQL)"),
    ("data_dir", "--data-dir", "engine data directory (SQLite store and secret)"),
    (
        "openai_base_url",
        "--openai-base-url",
        "Chat Completions provider the engine runs on (OpenAI, Ollama, vLLM, LiteLLM...)",
    ),
)
# What a default of None means, shown in --help instead of "None".
SHOWN_DEFAULTS = {
    "openai_api_key": "not set: no key, the provider must accept that",
    "assistants_api_url": "not set: the embedded engine",
    "database_url": "SQLite at DATA_DIR/assistants.db",
    "data_dir": str(default_data_dir()),
    "openai_base_url": "https://api.openai.com/v1",
}
API_DESCRIPTION = """Serve the embedded engine as an Assistants REST API under /v1.

Callers send their key as Authorization: Bearer; each key is its own tenant. Runs call the
Chat Completions provider with the caller's key:
  OPENAI_BASE_URL  (--openai-base-url) the provider; default https://api.openai.com/v1
  OPENAI_API_KEY   (environment only) the provider key for callers that send no key
  PROVIDER_TIMEOUT, PROVIDER_MAX_RETRIES  (--provider-timeout, --provider-max-retries)"""
# Engine settings already covered by the flags above.
_SHARED_ENGINE_FIELDS = {"database_url", "data_dir", "provider_base_url", "provider_api_key"}


def _env_name(field: str) -> str:
    return Settings.model_fields[field].alias or field.upper()


def _add_settings_flags(parser: argparse.ArgumentParser, flags: Sequence[tuple[str, str, str]]):
    for field, flag, help_text in flags:
        info = Settings.model_fields[field]
        default = info.get_default(call_default_factory=True)
        shown = SHOWN_DEFAULTS.get(field) or shown_default(default)
        text = f"{help_text} (env {_env_name(field)}; default {shown})"
        if info.annotation is bool:
            parser.add_argument(
                flag, dest=field, action=argparse.BooleanOptionalAction, help=text, default=None
            )
        else:
            parser.add_argument(flag, dest=field, metavar=_env_name(field), help=text)


def _add_engine_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per remaining engine setting, named after its env variable."""
    from .engine.settings import EngineSettings

    group = parser.add_argument_group("embedded engine")
    for field, info in EngineSettings.model_fields.items():
        if field in _SHARED_ENGINE_FIELDS or not info.alias:
            continue
        flag = "--" + info.alias.lower().replace("_", "-")
        default = shown_default(info.get_default(call_default_factory=False))
        if field == "tenant_secret":
            default = "generated into DATA_DIR/secret.key"
        description = (info.description or "").split(" (default")[0]
        group.add_argument(
            flag,
            dest=f"engine.{field}",
            metavar=info.alias,
            help=f"{description} (env {info.alias}; default {default})",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openai-assistant-mcp",
        description="MCP server for the Assistants API (assistants, threads, messages, runs, "
        "run steps), backed by an embedded Assistants API engine.",
        epilog=USAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    _add_settings_flags(parser, SERVER_FLAGS)
    _add_settings_flags(parser.add_argument_group("HTTP access and limits"), HTTP_FLAGS)
    _add_settings_flags(parser, COMMON_FLAGS)
    _add_engine_flags(parser)
    add_secret_file_flags(parser, "mcp")

    commands = parser.add_subparsers(dest="command", metavar="{api,tenants,sandbox}")
    api = commands.add_parser(
        "api",
        help="serve the embedded engine as an Assistants REST API (under /v1)",
        description=API_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
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
    _add_settings_flags(api, COMMON_FLAGS)
    _add_engine_flags(api)
    add_api_guard_flags(api)
    add_secret_file_flags(api, "api")
    store = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    _add_settings_flags(store, COMMON_FLAGS[1:3])  # the database and the data directory
    store.add_argument(
        "--engine-secret",
        dest="engine.tenant_secret",
        metavar="ENGINE_SECRET",
        help="the servers' ENGINE_SECRET, if they use one (env ENGINE_SECRET; default: "
        "DATA_DIR/secret.key)",
    )
    add_tenant_commands(commands, store)
    add_sandbox_command(commands)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with every flag given on the command line on top."""
    given = {k: v for k, v in vars(args).items() if v is not None and k != "command"}
    engine = {k.removeprefix("engine."): v for k, v in given.items() if k.startswith("engine.")}
    fields: dict[str, Any] = {k: v for k, v in given.items() if k in Settings.model_fields}
    return Settings(**fields, engine_overrides=engine)


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = str(first["loc"][0]) if first["loc"] else "settings"
    if where in Settings.model_fields:
        where = _env_name(where)
    return f"invalid {where}: {first['msg']}"


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
    try:
        resolve_secrets(args, "api" if command == "api" else "mcp")
    except ValueError as exc:
        parser.error(str(exc))
    try:
        settings = settings_from(args)
        engine_settings = settings.engine_settings() if command == "api" else None
    except ValidationError as exc:
        parser.error(_one_line(exc))
    configure_logging(settings.log_level)

    if command == "tenants":
        sys.exit(run_tenants(args, settings.engine_settings()))

    if command == "api":
        from .engine.serve import serve_api

        serve_api(engine_settings, args.api_host, args.api_port, api_guard_settings(args))
        return

    from .mcp.serve import run

    try:
        run(settings)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
