"""/v1/threads/runs, /v1/threads/{thread_id}/runs (and their steps)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from ..services import run_steps, runs, vector_stores
from ..state import Event, Subscription
from .deps import CallerDep, ListQueryDep, State
from .run_schemas import CreateRun, CreateThreadAndRun, ModifyRun, SubmitToolOutputs
from .streaming import sse_stream

router = APIRouter(prefix="/threads")

Include = Annotated[list[str] | None, Query(alias="include[]")]


def _answer(
    state: State,
    response: Response,
    run: dict[str, Any],
    events: list[Event],
    subscription: Subscription | None,
) -> Any:
    """The run, or with `stream` the server-sent events of its execution."""
    if subscription is not None:
        return StreamingResponse(
            sse_stream(events, subscription),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    return _polled(state, response, run)


def _polled(state: State, response: Response, run: dict[str, Any]) -> dict[str, Any]:
    # The SDK's *_and_poll helpers wait this long between retrievals of a run.
    if run["status"] not in runs.TERMINAL:
        response.headers["openai-poll-after-ms"] = str(state.settings.run_client_poll_ms)
    return run


@router.post("/runs")
async def create_thread_and_run(
    body: CreateThreadAndRun, state: State, caller: CallerDep, response: Response
) -> Any:
    fields = body.model_dump(exclude_unset=True)
    stream = bool(fields.pop("stream", False))
    await _resolve_file_search(state, caller, fields)
    run, events, subscription = await runs.create_thread_and_run(
        state, caller.tenant, caller.api_key, fields, stream=stream
    )
    return _answer(state, response, run, events, subscription)


async def _resolve_file_search(state: State, caller: CallerDep, fields: dict[str, Any]) -> None:
    """The run's and its new thread's file_search resources, checked (and helpers made)."""
    for holder in (fields, fields.get("thread") or {}):
        if holder.get("tool_resources"):
            holder["tool_resources"] = await vector_stores.resolve_file_search(
                state, caller.tenant, holder["tool_resources"], caller.api_key
            )


@router.post("/{thread_id}/runs")
async def create_run(
    thread_id: str,
    body: CreateRun,
    state: State,
    caller: CallerDep,
    response: Response,
    include: Include = None,
) -> Any:
    run_steps.check_include(include)
    fields = body.model_dump(exclude_unset=True)
    stream = bool(fields.pop("stream", False))
    if include:
        fields["include"] = include  # the run's steps show what it asks for, streamed too
    run, events, subscription = await runs.create(
        state, caller.tenant, caller.api_key, thread_id, fields, stream=stream
    )
    return _answer(state, response, run, events, subscription)


@router.get("/{thread_id}/runs")
async def list_runs(thread_id: str, state: State, caller: CallerDep, query: ListQueryDep) -> Any:
    return await runs.list_(state, caller.tenant, thread_id, query)


@router.get("/{thread_id}/runs/{run_id}")
async def retrieve_run(
    thread_id: str, run_id: str, state: State, caller: CallerDep, response: Response
) -> Any:
    run = await runs.retrieve(state, caller.tenant, thread_id, run_id)
    return _polled(state, response, run)


@router.post("/{thread_id}/runs/{run_id}")
async def modify_run(
    thread_id: str, run_id: str, body: ModifyRun, state: State, caller: CallerDep
) -> Any:
    fields = body.model_dump(exclude_unset=True)
    return await runs.modify(state, caller.tenant, thread_id, run_id, fields)


@router.post("/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(
    thread_id: str, run_id: str, state: State, caller: CallerDep, response: Response
) -> Any:
    run = await runs.cancel(state, caller.tenant, thread_id, run_id)
    return _polled(state, response, run)


@router.post("/{thread_id}/runs/{run_id}/submit_tool_outputs")
async def submit_tool_outputs(
    thread_id: str,
    run_id: str,
    body: SubmitToolOutputs,
    state: State,
    caller: CallerDep,
    response: Response,
) -> Any:
    outputs = [item.model_dump() for item in body.tool_outputs]
    run, events, subscription = await runs.submit_tool_outputs(
        state, caller.tenant, caller.api_key, thread_id, run_id, outputs, stream=bool(body.stream)
    )
    return _answer(state, response, run, events, subscription)


@router.get("/{thread_id}/runs/{run_id}/steps")
async def list_run_steps(
    thread_id: str,
    run_id: str,
    state: State,
    caller: CallerDep,
    query: ListQueryDep,
    include: Include = None,
) -> Any:
    return await run_steps.list_(state.db, caller.tenant, thread_id, run_id, query, include)


@router.get("/{thread_id}/runs/{run_id}/steps/{step_id}")
async def retrieve_run_step(
    thread_id: str,
    run_id: str,
    step_id: str,
    state: State,
    caller: CallerDep,
    include: Include = None,
) -> Any:
    return await run_steps.retrieve(state.db, caller.tenant, thread_id, run_id, step_id, include)
