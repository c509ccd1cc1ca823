"""Ending a run: the one transition every terminal status goes through (executor and services).

A run ends in the caller's transaction together with whatever its executing turn produced and
had not stored yet, and the step it was waiting on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..runs import lifecycle
from ..runs.lifecycle import StepStatus
from ..store import repository
from ..store.repository import RunRow
from . import messages, run_steps
from .common import now

# Under the runs service's name, where run outcomes were always logged (operators filter on it).
log = logging.getLogger(f"{__package__}.runs")


def text_part(value: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": []}}


@dataclass
class Unsaved:
    """What the executing turn has produced but not stored yet, as it stands now."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


def usage_of(execution: dict[str, Any]) -> dict[str, int]:
    usage = execution.get("usage") or {}
    prompt = int(usage.get("prompt_tokens", 0))
    completion = int(usage.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def finish(
    conn: AsyncConnection,
    row: RunRow,
    status: str,
    *,
    last_error: dict[str, Any] | None = None,
    incomplete_details: dict[str, Any] | None = None,
    execution: dict[str, Any] | None = None,
    unsaved: Unsaved | None = None,
    started_at: int | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """End the run with terminal `status` inside the caller's transaction.

    The step waiting for tool outputs, if any, is closed to match; so are the `unsaved`
    message and steps of the turn that was executing (the executor stores them only when the
    turn ends; a message keeps the text streamed so far). Returns (run, steps, messages) that
    were closed or stored here, for the stream events. `started_at`: when the executor
    started the run, if the row does not say yet (a quick turn stores it only here)."""
    execution = row.execution if execution is None else execution
    stamp = now()
    body = {
        **row.body,
        "started_at": row.body["started_at"] or started_at,
        "status": status,
        "required_action": None,
        "expires_at": None,
        "last_error": last_error,
        "incomplete_details": incomplete_details,
        "usage": usage_of(execution),
    }
    if status in lifecycle.STAMP:
        body[lifecycle.STAMP[status]] = stamp
    closed_steps: list[dict[str, Any]] = []
    waiting_id = execution.get("tool_step_id")
    if waiting_id:
        step = await repository.get_object(
            conn, repository.RUN_STEPS, row.tenant, waiting_id, run_id=row.id
        )
        if step is not None and step["status"] == StepStatus.IN_PROGRESS:
            step = run_steps.end(step, status, last_error)
            await repository.replace_body(conn, repository.RUN_STEPS, step["id"], step)
            closed_steps.append(step)
    closed_messages: list[dict[str, Any]] = []
    if unsaved is not None:
        for message in unsaved.messages:
            if message["status"] == "in_progress":
                message = {
                    **message,
                    "status": "incomplete",
                    "incomplete_at": stamp,
                    "incomplete_details": {
                        "reason": lifecycle.MESSAGE_REASON.get(status, "run_failed")
                    },
                }
                closed_messages.append(message)
            await messages.insert_in(conn, row.tenant, [message])
        for step in unsaved.steps:
            if step["status"] == StepStatus.IN_PROGRESS:
                step = run_steps.end(step, status, last_error)
                closed_steps.append(step)
            await run_steps.insert(conn, row.tenant, step)
    await repository.save_run(conn, body, execution, lease_owner=None, lease_expires_at=None)
    if status in (lifecycle.RunStatus.FAILED, lifecycle.RunStatus.EXPIRED):
        # An operator's only sign of a broken provider set-up; the code, never the message
        # (a provider may quote the key in it).
        code = (last_error or {}).get("code")
        log.warning(
            "run %s on thread %s %s (last_error.code %s)", row.id, row.thread_id, status, code
        )
    return body, closed_steps, closed_messages
