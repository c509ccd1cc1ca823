"""code_interpreter as a built-in tool: the model's Python runs in the thread's sandbox session.

The thread's files (tool_resources.code_interpreter.file_ids of assistant and thread, and
message attachments for code_interpreter) are placed in /mnt/data under their names before the
code runs; figures become PNG Files (`assistants_output`) and `image` outputs; files the code
writes to /mnt/data become Files the final message can cite (`file_path` annotations).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..runs.builtin import BuiltinContext, BuiltinResult
from ..store import repository
from . import Sandbox, SandboxSettings
from .mnt_data import display_name, safe_name
from .sessions import SandboxBusy, Session, SessionPool, busy

log = logging.getLogger(__name__)

FUNCTION_NAME = "python"
MAX_CODE_CHARS = 100_000
MAX_INPUT_FILES = 20  # files placed in /mnt/data per thread
ATTACHMENT_MESSAGES = 1000  # newest messages whose attachments are looked at
OUTPUT_PURPOSE = "assistants_output"

DESCRIPTION = (
    "Run Python 3 code in a stateful sandbox, like a Jupyter notebook: variables persist "
    "between calls on this thread. Returns what the code prints and the value of its last "
    "line if that is an expression: print() the results you need. The user's files are in "
    "/mnt/data; save files there to give them to the user (cite them as "
    "sandbox:/mnt/data/<name>). matplotlib figures (plt.show(), or left open) are shown to the "
    "user. numpy, pandas, matplotlib and scipy are installed; there is no internet access."
)
# What the model is told when the code printed nothing (a small model that defined a function
# and never called it answered with a made-up number).
NO_OUTPUT = (
    "(no output: the code printed nothing and its last line is not an expression; print() "
    "the values you need)"
)
# Errors small models made over and over in the task suite (bench/RESULTS.md), and the line
# that helps their next try; told to the model after the traceback (the step shows the code's
# own output only).
RETURN_OUTSIDE = "'return' outside function"
# Names used without their import (`plt.plot(...)` after importing only pandas).
_NOT_DEFINED = re.compile(r"NameError: name '(\w+)' is not defined")
_IMPORTS = {
    "plt": "import matplotlib.pyplot as plt",
    "pd": "import pandas as pd",
    "np": "import numpy as np",
}


_FENCED = re.compile(r"```[\w+-]*[ \t]*\n(.*?)```", re.S)


def _code_from(arguments: str) -> str:
    """The code from the call's arguments, read leniently for small models (issue 23):
    {"code": "..."} with raw newlines inside the string (strict=False), a doubled
    {"code": {"code": "..."}}, a ```python fence around the code; else the raw text."""
    try:
        parsed = json.loads(arguments, strict=False)
    except ValueError:
        partial = partial_code(arguments)  # {"code": "... cut short or badly escaped
        return _unfenced(partial if partial else arguments)
    while isinstance(parsed, dict) and isinstance(parsed.get("code"), dict):
        parsed = parsed["code"]
    if isinstance(parsed, dict) and isinstance(code := parsed.get("code"), str):
        return _unfenced(code)
    if isinstance(parsed, str):
        return _unfenced(parsed)
    raise ValueError('the arguments must be a JSON object {"code": "<python source>"}')


def _unfenced(code: str) -> str:
    """The code inside a ```python fence when the text is one; else the text."""
    found = _FENCED.search(code)
    if found and not _FENCED.sub("", code).strip():
        return found.group(1)
    return code


_CODE_START = re.compile(r'\s*\{\s*"code"\s*:\s*"')
# A JSON string's body up to its closing quote, in whole characters and escapes.
_STRING_BODY = re.compile(r'(?:[^"\\]|\\.)*', re.S)


def partial_code(arguments: str) -> str | None:
    """The code so far of `{"code": "...` arguments still being written (a JSON string cut
    anywhere, even inside an escape), else None."""
    start = _CODE_START.match(arguments)
    if start is None or len(arguments) > MAX_CODE_CHARS * 2:
        return None
    body = _STRING_BODY.match(arguments, start.end()).group(0)  # type: ignore[union-attr]
    for cut in range(6):  # a \uXXXX escape cut short is all that can be left incomplete
        try:
            code: str = json.loads(f'"{body[: len(body) - cut]}"', strict=False)  # a string
        except ValueError:
            continue
        return code[:-1] if code and "\ud800" <= code[-1] <= "\udbff" else code  # half a pair
    return None


def _hints(error: str, files: dict[bytes, Any]) -> list[str]:
    """Lines for the model after its code's traceback, for errors small models repeat: a
    `return` at the top level of a cell; a file that is not there (the files that are); a
    usual short name not imported."""
    hints = []
    missing = _NOT_DEFINED.search(error)
    if missing and missing.group(1) in _IMPORTS:
        hints.append(f"[{missing.group(1)} is not imported: {_IMPORTS[missing.group(1)]}]")
    if RETURN_OUTSIDE in error:
        hints.append(
            "[the code runs at the top level, like a notebook cell: print() a value rather "
            "than return it]"
        )
    if "FileNotFoundError" in error:
        names = sorted(display_name(name) for name in files)[:20]
        present = ", ".join(f"/mnt/data/{name}" for name in names) if names else "none"
        hints.append(f"[files in /mnt/data: {present}]")
    return hints


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


class CodeInterpreter:
    type = "code_interpreter"
    function_name = FUNCTION_NAME

    def __init__(self, settings: SandboxSettings, sessions_root: Path) -> None:
        self.settings = settings
        self.sessions_root = sessions_root
        self._sandbox: Sandbox | None = None

    def sandbox(self) -> Sandbox:
        """The engine's one Sandbox, made on first use (sessions live under `sessions_root`)."""
        if self._sandbox is None:
            self._sandbox = Sandbox(self.settings, self.sessions_root)
        return self._sandbox

    async def close(self) -> None:
        if self._sandbox is not None:
            await self._sandbox.close()

    def function(self, tool: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": FUNCTION_NAME,
                "description": DESCRIPTION,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string", "description": "Python source to run."}
                    },
                    "required": ["code"],
                },
            },
        }

    def partial(self, arguments: str) -> dict[str, Any] | None:
        """The call as it is being written (the code so far), for the run's stream."""
        code = partial_code(arguments)
        if code is None:
            return None
        return {"type": "code_interpreter", "code_interpreter": {"input": code}}

    async def unavailable(self, ctx: BuiltinContext) -> str | None:
        return await self.sandbox().unavailable()

    async def describe(self, ctx: BuiltinContext) -> str | None:
        """The user's files the code will find in /mnt/data, names and sizes, told to the model
        with the tool (as OpenAI did): models otherwise guess the names."""
        from ..errors import APIError
        from ..services import files as files_service

        listed = []
        for file_id in await self._file_ids(ctx):
            try:
                body = await files_service.retrieve_file(ctx.services, ctx.tenant, file_id)
            except APIError:
                continue
            listed.append(f"/mnt/data/{safe_name(body['filename'])} ({body['bytes']} bytes)")
        return "Files in /mnt/data: " + ", ".join(listed) + "." if listed else None

    async def call(self, ctx: BuiltinContext, arguments: str) -> BuiltinResult:
        try:
            code = _code_from(arguments)
        except ValueError as error:
            return self._result("", f"Error: {error}", [])
        if len(code) > MAX_CODE_CHARS:
            return self._result(code[:200], f"Error: the code exceeds {MAX_CODE_CHARS} chars", [])
        ctx.progress({"type": "code_interpreter", "code_interpreter": {"input": code}})
        sandbox = self.sandbox()
        if reason := await sandbox.unavailable():  # checked again: never run unsandboxed
            return self._result(code, f"Error: code_interpreter is unavailable: {reason}", [])
        key = f"{ctx.tenant}:{ctx.run['thread_id']}"
        file_ids = await self._file_ids(ctx)
        try:
            async with sandbox.pool.hold(key) as session:
                return await self._run(ctx, sandbox.pool, session, code, file_ids)
        except SandboxBusy:
            return self._result(code, busy().logs(), [])

    async def _run(
        self, ctx: BuiltinContext, pool: SessionPool, session: Session, code: str, ids: list[str]
    ) -> BuiltinResult:
        notes = await self._place_files(ctx, pool, session, ids)
        # Nothing runs in the sandbox between executions (the interpreter is stopped, other
        # processes killed), so the files after the last one are the files before this one.
        before = session.files if session.files is not None else await pool.scan(session)
        execution = await pool.run(session, code)
        after = session.files = await pool.scan(session)
        outputs: list[dict[str, Any]] = []
        files: list[dict[str, Any]] = []
        logs = "\n".join([*notes, execution.logs()]).strip()
        if logs:
            outputs.append({"type": "logs", "logs": logs})
        told = [logs] if logs else []
        if execution.error:
            told += _hints(execution.error, after)
        s = pool.settings
        budget = s.max_output_mb << 20  # bytes of images and files this execution may store
        for number, png in enumerate(execution.images, 1):
            budget -= len(png)
            saved = await self._save(ctx, f"figure-{number}.png", png) if budget >= 0 else None
            if saved:
                outputs.append({"type": "image", "image": {"file_id": saved}})
                files.append({"file_id": saved, "image": True})
                told.append(f"[figure {number} shown to the user as image {saved}]")
        changed = sorted(name for name, seen in after.items() if before.get(name) != seen)
        for raw in changed[: s.max_output_files]:
            name = display_name(raw)  # valid UTF-8 whatever bytes the code named it with
            data = await pool.read_from(session, raw, min(s.max_output_file_mb << 20, budget))
            if data is None:
                told.append(f"[file not saved: /mnt/data/{name} is over the output limits]")
                continue
            budget -= len(data)
            saved = await self._save(ctx, name, data)
            if saved:
                files.append({"file_id": saved, "path": f"/mnt/data/{name}"})
                told.append(f"[file saved: sandbox:/mnt/data/{name}]")
        if len(changed) > s.max_output_files:
            told.append(
                f"[{len(changed) - s.max_output_files} more changed files not saved: at most "
                f"{s.max_output_files} per execution]"
            )
        done = self._result(code, "\n".join(told) or NO_OUTPUT, outputs, files)
        done.ran_cleanly = not execution.error and bool(told)
        return done

    @staticmethod
    def _result(
        code: str,
        model_output: str,
        outputs: list[dict[str, Any]] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> BuiltinResult:
        if outputs == [] and model_output.startswith("Error:"):
            outputs = [{"type": "logs", "logs": model_output}]
        return BuiltinResult(
            tool_call={
                "type": "code_interpreter",
                "code_interpreter": {"input": code, "outputs": outputs or []},
            },
            model_output=model_output,
            files=files or [],
        )

    async def _save(self, ctx: BuiltinContext, filename: str, data: bytes) -> str | None:
        """Store bytes as a File for the run's caller; its id, or None if storing failed."""
        from ..services import files as files_service

        try:
            body = await files_service.create_file(
                ctx.services,
                ctx.tenant,
                filename,
                OUTPUT_PURPOSE,
                _chunks(data),
                purposes=files_service.OUTPUT_PURPOSES,
            )
        except Exception as error:  # a full store must not fail the run; the model is told
            log.warning("code_interpreter: storing %s failed: %s", filename, error)
            return None
        return str(body["id"])

    async def _file_ids(self, ctx: BuiltinContext) -> list[str]:
        """tool_resources.code_interpreter.file_ids, then message attachments for the tool."""
        resources = (ctx.tool_resources or {}).get("code_interpreter") or {}
        ids = list(resources.get("file_ids") or [])
        async with ctx.services.db.read() as conn:
            messages = await repository.recent_messages(
                conn, ctx.run["thread_id"], ATTACHMENT_MESSAGES
            )
        for message in messages:
            for attachment in message.get("attachments") or []:
                tools = {t.get("type") for t in attachment.get("tools") or []}
                if "code_interpreter" in tools and attachment.get("file_id"):
                    ids.append(attachment["file_id"])
        return list(dict.fromkeys(ids))[:MAX_INPUT_FILES]

    async def _place_files(
        self, ctx: BuiltinContext, pool: SessionPool, session: Session, ids: list[str]
    ) -> list[str]:
        """Copy the thread's files not yet in this session into /mnt/data; problems as notes."""
        missing = [file_id for file_id in ids if file_id not in session.placed]
        if not missing:
            return []
        from ..errors import APIError
        from ..services import files as files_service

        notes = []
        limit = pool.settings.file_size_mb << 20
        for file_id in missing:
            try:
                body = await files_service.retrieve_file(ctx.services, ctx.tenant, file_id)
                data = await files_service.read_file_bytes(ctx.services, ctx.tenant, file_id, limit)
            except APIError as error:
                notes.append(f"[file {file_id} is not available in /mnt/data: {error}]")
                session.placed[file_id] = ""  # said once
                continue
            session.placed[file_id] = await pool.write_into(session, body["filename"], data)
        return notes
