"""Runs: create (on a thread, or with a new thread), list, retrieve, modify, cancel, submit tool
outputs - and ending a run, which the executor shares.

A run is stored as its API document plus an `execution` document the API does not show
(reasoning effort, the tool-call transcript the provider sees, usage so far). Every change of
state is one transaction on the locked run row; the executor is told afterwards."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ...shapes.objects import Setting, new_object
from ...shapes.runs import RUN_FIELDS
from ..errors import APIError, conflict, invalid, not_found
from ..ids import new_id
from ..runs import lifecycle
from ..runs.lifecycle import RunStatus, StepStatus
from ..state import EngineState, Event, Subscription
from ..store import repository
from ..store.repository import Prepared, RunRow
from . import file_refs, messages, thread_files, threads
from .common import ListQuery, list_objects, now, require_thread
from .run_end import finish

TERMINAL = lifecycle.TERMINAL
# How many of a thread's newest messages a turn considers at most (`auto` truncation).
HISTORY_LIMIT = 1000
# Not a Run field: kept in the run's execution document, for the provider.
REASONING_EFFORT = Setting(from_assistant=True)


def history_limit(run: dict[str, Any]) -> int:
    truncation = run.get("truncation_strategy") or {}
    if truncation.get("type") == "last_messages" and truncation.get("last_messages"):
        # Messages of this run itself are skipped, so read a few more than needed.
        return int(truncation["last_messages"]) + 16
    return HISTORY_LIMIT


def build(
    thread_id: str,
    assistant: dict[str, Any],
    fields: dict[str, Any],
    expires_after: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A queued run from the assistant overridden by the request `fields`, and its execution
    document. `additional_instructions` are appended to the instructions the run shows."""
    created_at = now()
    # What the run's lifecycle writes on a new run; every other field is a setting.
    written = {
        "id": new_id("run"),
        "object": "thread.run",
        "created_at": created_at,
        "thread_id": thread_id,
        "assistant_id": assistant["id"],
        "status": RunStatus.QUEUED,
        "expires_at": created_at + expires_after,
    }
    body = new_object(RUN_FIELDS, fields, written, assistant)
    extra = fields.get("additional_instructions")
    if extra:
        instructions = body["instructions"]
        body["instructions"] = f"{instructions}\n\n{extra}" if instructions else extra
    _check(body)
    execution = {
        "reasoning_effort": REASONING_EFFORT.value("reasoning_effort", fields, assistant),
        "include": list(fields.get("include") or []),
        "transcript": [],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
    return body, execution


def _check(run: dict[str, Any]) -> None:
    """Refuse combinations the provider could not honour, naming the field."""
    truncation = run["truncation_strategy"]
    if truncation["type"] == "last_messages" and not truncation.get("last_messages"):
        raise invalid(
            "truncation_strategy.last_messages",
            "Missing 'truncation_strategy.last_messages': required when type is 'last_messages'.",
        )
    choice = run["tool_choice"]
    if isinstance(choice, dict):
        if choice["type"] == "function":
            name = (choice.get("function") or {}).get("name")
            names = {t["function"]["name"] for t in run["tools"] if t["type"] == "function"}
            if not name:
                raise invalid("tool_choice.function", "Missing 'tool_choice.function.name'.")
            if name not in names:
                raise invalid(
                    "tool_choice",
                    f"Invalid 'tool_choice': the run has no function tool named '{name}'.",
                )
        elif not any(t["type"] == choice["type"] for t in run["tools"]):
            raise invalid(
                "tool_choice",
                f"Invalid 'tool_choice': the run has no {choice['type']} tool.",
            )


# --- create -------------------------------------------------------------------------------------


async def _assistant(conn: AsyncConnection, tenant: str, assistant_id: str) -> dict[str, Any]:
    assistant = await repository.get_object(conn, repository.ASSISTANTS, tenant, assistant_id)
    if assistant is None:
        raise not_found("assistant", assistant_id)
    return assistant


async def _insert(
    state: EngineState,
    conn: AsyncConnection,
    tenant: str,
    thread_id: str,
    fields: dict[str, Any],
    assistant: dict[str, Any] | None = None,
    queued: list[tuple[str, str]] | None = None,
) -> Prepared:
    """Store a new queued run, claimed by this process, on a thread the caller has checked
    is free (with its `additional_messages`, whose file_search attachments join the thread's
    vector store: their (store, file) pairs are added to `queued`)."""
    assistant = assistant or await _assistant(conn, tenant, fields["assistant_id"])
    run, execution = build(thread_id, assistant, fields, state.settings.run_expires_after)
    if fields.get("additional_messages"):
        refs = file_refs.messages_refs(fields["additional_messages"], "additional_messages")
        await file_refs.require_files(conn, tenant, refs)
        attached = await messages.attach_for_search_in(
            conn, state, tenant, thread_id, fields["additional_messages"]
        )
        if queued is not None:
            queued += attached
        bodies = [
            messages.build(thread_id, message, created_at=run["created_at"])
            for message in fields["additional_messages"]
        ]
        await messages.insert_in(conn, tenant, bodies)
    lease = time.time() + state.settings.run_lease_seconds
    owner = state.executor.owner
    await repository.insert_run(
        conn, run, tenant, execution, lease_owner=owner, lease_expires_at=lease
    )
    row = RunRow(run["id"], tenant, thread_id, RunStatus.QUEUED, owner, lease, run, execution)
    return await _prepared(conn, row)


async def _prepared(conn: AsyncConnection, row: RunRow) -> Prepared:
    """The run as just stored, with the thread's messages the provider will see (read here,
    in the same transaction, so the executor's turn need not read them again)."""
    history = await repository.recent_messages(conn, row.thread_id, history_limit(row.body))
    return Prepared(row, history)


def _queued_events(run: dict[str, Any]) -> list[Event]:
    return [("thread.run.created", run), (lifecycle.run_event(RunStatus.QUEUED), run)]


async def create(
    state: EngineState,
    tenant: str,
    api_key: str | None,
    thread_id: str,
    fields: dict[str, Any],
    *,
    stream: bool = False,
) -> tuple[dict[str, Any], list[Event], Subscription | None]:
    """Create a run and start executing it. Returns the run, and when `stream`, the events
    so far and a subscription to the rest."""
    async with state.db.write() as conn:
        # Locking the thread serializes this check with other runs and messages on it.
        exists, active = await repository.lock_thread_for_append(conn, tenant, thread_id)
        if not exists:
            raise not_found("thread", thread_id)
        if active is not None:
            raise conflict(f"Thread {thread_id} already has an active run {active}.")
        queued: list[tuple[str, str]] = []
        prepared = await _insert(state, conn, tenant, thread_id, fields, queued=queued)
    thread_files.queue_ingestion(state, queued, api_key)
    run = prepared.row.body
    subscription = state.executor.launch(run["id"], api_key, subscribe=stream, prepared=prepared)
    return run, _queued_events(run), subscription


async def create_thread_and_run(
    state: EngineState,
    tenant: str,
    api_key: str | None,
    fields: dict[str, Any],
    *,
    stream: bool = False,
) -> tuple[dict[str, Any], list[Event], Subscription | None]:
    """Create a thread (with its messages) and a run on it, in one transaction."""
    thread_fields = dict(fields.get("thread") or {})
    if fields.get("tool_resources") and not thread_fields.get("tool_resources"):
        thread_fields["tool_resources"] = fields["tool_resources"]
    async with state.db.write() as conn:
        assistant = await _assistant(conn, tenant, fields["assistant_id"])  # before writing
        thread, queued = await threads.create_in(
            conn, state, tenant, thread_fields, prefix="thread."
        )
        prepared = await _insert(state, conn, tenant, thread["id"], fields, assistant, queued)
    thread_files.queue_ingestion(state, queued, api_key)
    run = prepared.row.body
    subscription = state.executor.launch(run["id"], api_key, subscribe=stream, prepared=prepared)
    return run, [("thread.created", thread), *_queued_events(run)], subscription


# --- read and modify ----------------------------------------------------------------------------


async def _require_run(
    conn: AsyncConnection, tenant: str, thread_id: str, run_id: str, *, lock: bool = False
) -> RunRow:
    """The caller's run on that thread, or a 404 naming whichever of the two is missing."""
    row = await repository.get_run(conn, run_id, tenant=tenant, thread_id=thread_id, lock=lock)
    if row is None:
        await require_thread(conn, tenant, thread_id)
        raise not_found("run", run_id)
    return row


async def retrieve(state: EngineState, tenant: str, thread_id: str, run_id: str) -> dict[str, Any]:
    async with state.db.read_keyed() as conn:
        return (await _require_run(conn, tenant, thread_id, run_id)).body


async def list_(
    state: EngineState, tenant: str, thread_id: str, query: ListQuery
) -> dict[str, Any]:
    async with state.db.read_keyed() as conn:
        await require_thread(conn, tenant, thread_id)
        return await list_objects(conn, repository.RUNS, tenant, query, thread_id=thread_id)


async def modify(
    state: EngineState, tenant: str, thread_id: str, run_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Only metadata can change; it is replaced as a whole (null clears it)."""
    async with state.db.write() as conn:
        row = await _require_run(conn, tenant, thread_id, run_id, lock=True)
        body = row.body
        if "metadata" in fields:
            body = {**body, "metadata": fields["metadata"] or {}}
            await repository.save_run(conn, body)
    return body


# --- cancel -------------------------------------------------------------------------------------


async def cancel(state: EngineState, tenant: str, thread_id: str, run_id: str) -> dict[str, Any]:
    """A waiting run, or one nobody is executing, is cancelled at once; one being executed
    goes `cancelling` and its executor (here, or another process via the database) ends it."""
    async with state.db.write() as conn:
        row = await _require_run(conn, tenant, thread_id, run_id, lock=True)
        if row.status == RunStatus.CANCELLING:
            return row.body
        if row.status not in lifecycle.CANCELLABLE:
            raise APIError(400, f"Cannot cancel run with status '{row.status}'.")
        executing = row.lease_owner is not None and (row.lease_expires_at or 0) > time.time()
        if row.status == RunStatus.REQUIRES_ACTION or not executing:
            body, _, _ = await finish(conn, row, RunStatus.CANCELLED)
            return body
        body = {**row.body, "status": RunStatus.CANCELLING}
        await repository.save_run(conn, body)
    if row.lease_owner == state.executor.owner:
        state.executor.events.publish(run_id, lifecycle.run_event(RunStatus.CANCELLING), body)
        state.executor.cancel_local(run_id)
    return body


# --- submit tool outputs ------------------------------------------------------------------------


async def submit_tool_outputs(
    state: EngineState,
    tenant: str,
    api_key: str | None,
    thread_id: str,
    run_id: str,
    outputs: list[dict[str, Any]],
    *,
    stream: bool = False,
) -> tuple[dict[str, Any], list[Event], Subscription | None]:
    """Record the outputs of every pending tool call and queue the run to go on. Outputs
    that come after `expires_at` are refused and the run ends `expired` (the executor's sweep
    may not have got to it yet)."""
    async with state.db.write() as conn:
        row = await _require_run(conn, tenant, thread_id, run_id, lock=True)
        status = row.status
        expires_at = row.body.get("expires_at")
        waiting = status == RunStatus.REQUIRES_ACTION
        if waiting and expires_at is not None and expires_at <= time.time():
            await finish(conn, row, RunStatus.EXPIRED)  # committed before the refusal below
            status = RunStatus.EXPIRED
        if status == RunStatus.REQUIRES_ACTION:
            calls = row.body["required_action"]["submit_tool_outputs"]["tool_calls"]
            by_id = _outputs_by_call(outputs, [call["id"] for call in calls])
            step_id = row.execution.get("tool_step_id", "")
            step = await repository.get_object(
                conn, repository.RUN_STEPS, tenant, step_id, run_id=run_id
            )
            if step is None:  # pragma: no cover - written with requires_action in one transaction
                raise APIError(500, "The run's tool call step is missing.", type="server_error")
            step = _with_outputs(step, by_id)
            await repository.replace_body(conn, repository.RUN_STEPS, step["id"], step)
            execution = dict(row.execution)
            execution["transcript"] = [
                *execution.get("transcript", []),
                *({"role": "tool", "tool_call_id": cid, "content": by_id[cid]} for cid in by_id),
            ]
            execution.pop("tool_step_id", None)
            body = {**row.body, "status": RunStatus.QUEUED, "required_action": None}
            owner, lease = state.executor.owner, time.time() + state.settings.run_lease_seconds
            await repository.save_run(
                conn, body, execution, lease_owner=owner, lease_expires_at=lease
            )
            row = RunRow(run_id, tenant, thread_id, RunStatus.QUEUED, owner, lease, body, execution)
            prepared = await _prepared(conn, row)
    if status != RunStatus.REQUIRES_ACTION:
        raise APIError(400, f'Runs in status "{status}" do not accept tool outputs.')
    subscription = state.executor.launch(run_id, api_key, subscribe=stream, prepared=prepared)
    events: list[Event] = [
        (lifecycle.step_event(StepStatus.COMPLETED), step),
        (lifecycle.run_event(RunStatus.QUEUED), body),
    ]
    return body, events, subscription


def _outputs_by_call(outputs: list[dict[str, Any]], pending: list[str]) -> dict[str, str]:
    """{tool_call_id: output} in the order of the pending calls; every pending call must be
    answered exactly once and nothing else."""
    given: dict[str, str] = {}
    for index, item in enumerate(outputs):
        call_id = item["tool_call_id"]
        if call_id not in pending:
            raise invalid(
                f"tool_outputs[{index}].tool_call_id",
                f"Invalid 'tool_outputs[{index}].tool_call_id': no pending tool call '{call_id}'"
                " on this run.",
            )
        if call_id in given:
            raise invalid(
                f"tool_outputs[{index}].tool_call_id",
                f"Duplicate 'tool_outputs[{index}].tool_call_id': '{call_id}' was given twice.",
            )
        given[call_id] = item.get("output", "")
    missing = [call_id for call_id in pending if call_id not in given]
    if missing:
        raise invalid(
            "tool_outputs",
            f"Expected tool outputs for call_ids {pending}, got {list(given)}.",
        )
    return {call_id: given[call_id] for call_id in pending}


def _with_outputs(step: dict[str, Any], outputs: dict[str, str]) -> dict[str, Any]:
    calls = []
    for call in step["step_details"]["tool_calls"]:
        if call["type"] == "function":  # built-in calls in the step are complete already
            call = {**call, "function": {**call["function"], "output": outputs.get(call["id"])}}
        calls.append(call)
    details = {**step["step_details"], "tool_calls": calls}
    done, stamp = lifecycle.STEP_DONE
    return {**step, "step_details": details, "status": done, stamp: now()}
