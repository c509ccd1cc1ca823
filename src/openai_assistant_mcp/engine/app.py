"""The engine's ASGI app: the Assistants API v2 under /v1, with OpenAI's error envelope."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..http.bodies import BodyRefused
from .api import assistants, files, messages, runs, threads, vector_stores, x_threads
from .api.deps import reject_unstorable_input
from .builtin_tools import builtin_tools
from .errors import APIError, StoreUnavailable
from .providers.chat import ChatProvider
from .runs.builtin import BuiltinTools
from .runs.executor import RunExecutor
from .services import vector_store_files
from .settings import EngineSettings
from .state import EngineState
from .store.database import Database, unavailable_reason
from .store.files import private_dir
from .tenancy import hasher_for
from .vectors.worker import IngestionWorker

log = logging.getLogger(__name__)
# Seconds a client is told to wait after a full disk or a locked database.
STORE_RETRY_AFTER = 5
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


def create_app(
    settings: EngineSettings | None = None,
    tools: Callable[[EngineSettings], BuiltinTools] = builtin_tools,
) -> FastAPI:
    """The REST app; its lifespan opens the store (migrating it) and starts the run executor
    with the built-in tools `tools` lists (tests hand it their own)."""
    settings = settings or EngineSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await start_engine(settings, tools)
        app.state.engine = state
        try:
            yield
        finally:
            await stop_engine(state)

    app = FastAPI(
        title="openai-assistant-mcp engine",
        summary="An OpenAI-compatible Assistants API v2.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unstorable_input)],
        # FastAPI's OpenTelemetry layer asks the global providers on every request whether
        # one is set up (~5 % of an in-process call's CPU); the engine sets none up.
        telemetry=NO_TELEMETRY,
    )
    # Order matters: a router with literal paths under /threads (e.g. POST /threads/runs) must
    # come before `threads`, whose /threads/{thread_id} would otherwise match them.
    for module in (assistants, files, messages, runs, threads, vector_stores, x_threads):
        app.include_router(module.router, prefix="/v1")
    _install_error_handlers(app)
    return app


async def start_engine(
    settings: EngineSettings, tools: Callable[[EngineSettings], BuiltinTools] = builtin_tools
) -> EngineState:
    if settings.data_dir.exists():
        private_dir(settings.data_dir)  # tighten one made by an older version
    db = Database(settings.resolved_database_url(), settings.database_lock_timeout)
    await db.migrate()
    server_key = settings.provider_api_key
    provider = ChatProvider(
        settings.provider_base_url,
        server_key.get_secret_value() if server_key else None,
        timeout=settings.provider_timeout,
        max_retries=settings.provider_max_retries,
        compat=settings.provider_compat,
        text_tool_calls=settings.provider_text_tool_calls,
        context_tokens=settings.provider_context_tokens,
    )
    hasher = hasher_for(settings)
    server_tenant = hasher.tenant_for(provider.server_key) if provider.server_key else None
    state = EngineState(
        settings,
        db,
        hasher,
        executor=lambda state: RunExecutor(
            state, provider, tools(settings), server_tenant=server_tenant
        ),
        ingestion=lambda state: IngestionWorker(
            settings, db, vector_store_files.file_reader(state)
        ),
    )
    await state.executor.start()
    await state.ingestion.start()
    return state


async def stop_engine(state: EngineState) -> None:
    await state.ingestion.stop()
    await state.executor.stop()  # and the built-in tools it holds (the sandbox)
    await state.db.close()


def _error(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    return JSONResponse(APIError(status, message, param=param, code=code).body(), status)


def _param(loc: tuple[Any, ...], body: Any, missing: bool = False) -> str | None:
    """('body', 'tools', 0, 'function', 'name') -> 'tools[0].function.name'.

    pydantic puts union members and dict-key markers into `loc` ('constrained-str',
    'function', '[key]'); only the steps that exist in the request body are the param (plus,
    for a missing field, the field's own name)."""
    if not loc:
        return None
    if loc[0] != "body":  # query, path or header parameters: the name is the param
        return ".".join(str(part) for part in loc[1:]) or None
    parts = list(loc[1:])
    if "[key]" in parts:  # a bad dict key: the param is the dict
        parts = parts[: max(parts.index("[key]") - 1, 0)]
    text = ""
    node = body
    for index, part in enumerate(parts):
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
            text += f"[{part}]"
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
            text += f".{part}" if text else part
        elif missing and index == len(parts) - 1 and isinstance(node, dict):
            text += f".{part}" if text else str(part)
    return text or None


def _preference(error: dict[str, Any]) -> tuple[int, int]:
    """Which of several errors to report: of a union's members, the one whose type matched
    and got furthest (e.g. a too-short list) says more than 'Input should be a valid string'."""
    kind = str(error.get("type", ""))
    return (1 if kind.endswith("_type") else 0, -len(error.get("loc", ())))


def validation_message(error: dict[str, Any], body: Any = None) -> tuple[str, str | None]:
    """One line that names the field and says what is wrong with it."""
    kind = error.get("type")
    if kind == "json_invalid":
        return (
            "We could not parse the JSON body of your request. The body must be valid JSON.",
            None,
        )
    loc = tuple(error.get("loc", ()))
    param = _param(loc, body, missing=kind == "missing")
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}", param
    if kind == "missing":
        if param is None:
            return "The request body is missing: it must be a JSON object.", None
        return f"Missing required parameter: '{param}'.", param
    if param is None:
        return "The request body must be a JSON object.", None
    key = " key" if "[key]" in loc else ""
    text = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"Invalid '{param}'{key}: {text}.", param


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body(), exc.status)

    @app.exception_handler(BodyRefused)  # the guard's cap or deadline, met while the app reads
    async def _body_refused(_: Request, exc: BodyRefused) -> JSONResponse:
        return _error(exc.status, exc.message, code=exc.code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = sorted(exc.errors(), key=_preference)
        message, param = (
            validation_message(errors[0], exc.body) if errors else ("Invalid request.", None)
        )
        return _error(400, message, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, f"Invalid URL ({request.method} {request.url.path})")
        if exc.status_code == 405:
            return _error(405, f"Method {request.method} not allowed on {request.url.path}.")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(DBAPIError)
    @app.exception_handler(OSError)
    async def _store_failed(request: Request, exc: Exception) -> JSONResponse:
        # Handled here rather than by the catch-all below, which Starlette re-raises after.
        return store_failure(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return store_failure(exc)


def store_failure(exc: Exception) -> JSONResponse:
    """503 + Retry-After for a full disk or a locked database (a retry may succeed; the write's
    transaction was rolled back); 500 for anything else."""
    reason = unavailable_reason(exc)
    if reason is not None:
        log.warning("store unavailable: %s", reason)
        refusal = StoreUnavailable(
            f"The server cannot store this now: {reason}. Nothing was changed; retry in "
            f"{STORE_RETRY_AFTER} seconds.",
            STORE_RETRY_AFTER,
        )
        return JSONResponse(refusal.body(), 503, headers={"retry-after": str(STORE_RETRY_AFTER)})
    # Log the type only: exception text may carry request data such as keys.
    log.error("internal error: %s", type(exc).__name__)
    failure = APIError(500, "The server had an error processing your request.", type="server_error")
    return JSONResponse(failure.body(), 500)
