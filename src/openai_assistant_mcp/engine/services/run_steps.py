"""Run steps: what a run did (created a message, called tools), listed and retrieved."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ...shapes.objects import new_object
from ...shapes.run_steps import RUN_STEP_FIELDS
from ..errors import invalid, not_found
from ..ids import new_id
from ..runs import lifecycle
from ..runs.lifecycle import RunStatus, StepStatus
from ..store import repository
from ..store.database import Database
from .common import ListQuery, list_objects, now, require_thread

# The one `include[]` value the spec defines: file_search results' content (stored always,
# shown only when asked).
FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
INCLUDABLE = (FILE_SEARCH_CONTENT,)


def build(run: dict[str, Any], step_details: dict[str, Any]) -> dict[str, Any]:
    """A new in-progress step of `run` (type follows `step_details`)."""
    written = {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": now(),
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "run_id": run["id"],
        "type": step_details["type"],
        "status": StepStatus.IN_PROGRESS,
        "step_details": step_details,
        "metadata": {},
    }
    return new_object(RUN_STEP_FIELDS, {}, written)


def message_creation(run: dict[str, Any], message_id: str) -> dict[str, Any]:
    return build(run, {"type": "message_creation", "message_creation": {"message_id": message_id}})


def tool_calls(run: dict[str, Any]) -> dict[str, Any]:
    return build(run, {"type": "tool_calls", "tool_calls": []})


def end(step: dict[str, Any], run_status: str, last_error: dict[str, Any] | None) -> dict[str, Any]:
    """`step` closed because its run ended with `run_status` before the step finished."""
    status, stamp = lifecycle.STEP_END.get(RunStatus(run_status), lifecycle.STEP_DONE)
    ended = {**step, "status": status, stamp: now()}
    if status == StepStatus.FAILED and last_error is not None:
        code = last_error["code"] if last_error["code"] == "rate_limit_exceeded" else "server_error"
        ended["last_error"] = {"code": code, "message": last_error["message"]}
    return ended


async def insert(conn: AsyncConnection, tenant: str, step: dict[str, Any]) -> None:
    await repository.insert_object(
        conn, repository.RUN_STEPS, step, tenant, thread_id=step["thread_id"], run_id=step["run_id"]
    )


def visible(step: dict[str, Any], include: Any) -> dict[str, Any]:
    """The step as the caller sees it: file_search results without their content unless
    `include` asks for it."""
    details = step.get("step_details") or {}
    if details.get("type") != "tool_calls" or FILE_SEARCH_CONTENT in (include or ()):
        return step
    calls = details.get("tool_calls") or []
    if not any(c.get("type") == "file_search" for c in calls):
        return step
    shown = []
    for call in calls:
        if call.get("type") == "file_search" and call["file_search"].get("results"):
            results = [
                {k: v for k, v in r.items() if k != "content"}
                for r in call["file_search"]["results"]
            ]
            call = {**call, "file_search": {**call["file_search"], "results": results}}
        shown.append(call)
    return {**step, "step_details": {**details, "tool_calls": shown}}


def check_include(include: list[str] | None) -> None:
    for value in include or []:
        if value not in INCLUDABLE:
            raise invalid(
                "include",
                f"Invalid value for 'include': '{value}'. Supported values are: "
                + ", ".join(f"'{v}'" for v in INCLUDABLE)
                + ".",
            )


async def _require_run(conn: AsyncConnection, tenant: str, thread_id: str, run_id: str) -> None:
    await require_thread(conn, tenant, thread_id)
    run = await repository.get_object(conn, repository.RUNS, tenant, run_id, thread_id=thread_id)
    if run is None:
        raise not_found("run", run_id)


async def list_(
    db: Database,
    tenant: str,
    thread_id: str,
    run_id: str,
    query: ListQuery,
    include: list[str] | None = None,
) -> dict[str, Any]:
    check_include(include)
    async with db.read_keyed() as conn:
        await _require_run(conn, tenant, thread_id, run_id)
        page = await list_objects(conn, repository.RUN_STEPS, tenant, query, run_id=run_id)
    return {**page, "data": [visible(step, include) for step in page["data"]]}


async def retrieve(
    db: Database,
    tenant: str,
    thread_id: str,
    run_id: str,
    step_id: str,
    include: list[str] | None = None,
) -> dict[str, Any]:
    check_include(include)
    async with db.read_keyed() as conn:
        await _require_run(conn, tenant, thread_id, run_id)
        body = await repository.get_object(
            conn, repository.RUN_STEPS, tenant, step_id, run_id=run_id
        )
    if body is None:
        raise not_found("run step", step_id)
    return visible(body, include)
