"""Helpers for the engine tests: paging walks, direct rows for runs, tenants."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from openai_assistant_mcp.engine.ids import new_id
from openai_assistant_mcp.engine.services import messages
from openai_assistant_mcp.engine.services.common import now
from openai_assistant_mcp.engine.store import repository
from tests.support.engine import engine_state

ListFn = Callable[..., Awaitable[Any]]


def page_ids(page: Any) -> list[str]:
    return [item.id for item in page.data]


def envelope(page: Any) -> dict[str, Any]:
    """The list envelope fields the SDK page object carries."""
    extra = page.model_extra or {}
    return {
        "object": extra.get("object"),
        "first_id": extra.get("first_id"),
        "last_id": extra.get("last_id"),
        "has_more": page.has_more,
    }


async def walk(
    list_fn: ListFn, *, order: str, limit: int, cursor: str, start: str | None = None
) -> list[str]:
    """Follow `after` (forward) or `before` (backward) cursors page by page, from `start` if
    given; checks each page's envelope on the way and returns every ID seen, in list order."""
    seen: list[str] = []
    kwargs: dict[str, Any] = {cursor: start} if start else {}
    while True:
        page = await list_fn(order=order, limit=limit, **kwargs)
        ids = page_ids(page)
        info = envelope(page)
        assert info["object"] == "list"
        assert info["first_id"] == (ids[0] if ids else None)
        assert info["last_id"] == (ids[-1] if ids else None)
        assert len(ids) <= limit
        if cursor == "after":
            seen += ids
        else:
            seen = ids + seen
        if not info["has_more"]:
            return seen
        assert len(ids) == limit
        kwargs = {"after": ids[-1]} if cursor == "after" else {"before": ids[0]}


def tenant_of(app: FastAPI, api_key: str | None) -> str:
    return engine_state(app).hasher.tenant_for(api_key)


async def insert_run_row(
    app: FastAPI, tenant: str, thread_id: str, status: str, assistant_id: str = "asst_x"
) -> str:
    """A run row stored directly, leased for an hour to an executor elsewhere so that this
    engine's executor leaves it alone (these tests are about threads and messages)."""
    body = {
        "id": new_id("run"),
        "object": "thread.run",
        "created_at": now(),
        "thread_id": thread_id,
        "assistant_id": assistant_id,
        "status": status,
    }
    async with engine_state(app).db.write() as conn:
        await repository.insert_object(
            conn,
            repository.RUNS,
            body,
            tenant,
            thread_id=thread_id,
            status=status,
            lease_owner="tests-elsewhere",
            lease_expires_at=time.time() + 3600,
        )
    return body["id"]


async def insert_run_step_row(app: FastAPI, tenant: str, thread_id: str, run_id: str) -> str:
    body = {"id": new_id("step"), "object": "thread.run.step", "created_at": now()}
    async with engine_state(app).db.write() as conn:
        await repository.insert_object(
            conn, repository.RUN_STEPS, body, tenant, thread_id=thread_id, run_id=run_id
        )
    return body["id"]


async def add_run_message(app: FastAPI, tenant: str, thread_id: str, run_id: str, text: str) -> str:
    """An assistant message recorded by a run, through the service the runner uses."""
    async with engine_state(app).db.write() as conn:
        body = await messages.create_in(
            conn,
            tenant,
            thread_id,
            {"role": "assistant", "content": text},
            assistant_id="asst_x",
            run_id=run_id,
        )
    return body["id"]
