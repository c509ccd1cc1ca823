"""Cursor pagination, the same on every list: limit, order, after, before, envelope."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import openai
import pytest

from .helpers import envelope, page_ids, walk

COUNT = 7
Collection = tuple[Callable[..., Awaitable[Any]], list[str]]


@pytest.fixture(scope="module", params=["assistants", "messages"])
async def collection(
    request: pytest.FixtureRequest, client_for: Callable[[str], openai.AsyncOpenAI]
) -> Collection:
    """A list operation over COUNT fresh objects (of a fresh tenant, so nothing else is in the
    list), and their IDs in creation order. Shared by this module's tests: they only read."""
    tenant_client = client_for("sk-test-paging-" + secrets.token_hex(8))
    if request.param == "assistants":
        ids = [
            (await tenant_client.beta.assistants.create(model="gpt-4o", name=str(i))).id
            for i in range(COUNT)
        ]
        return tenant_client.beta.assistants.list, ids
    thread = await tenant_client.beta.threads.create()
    ids = [
        (
            await tenant_client.beta.threads.messages.create(thread.id, role="user", content=str(i))
        ).id
        for i in range(COUNT)
    ]
    return partial(tenant_client.beta.threads.messages.list, thread.id), ids


async def test_defaults_are_newest_first_limit_20(collection: Collection) -> None:
    list_fn, ids = collection
    page = await list_fn()
    assert page_ids(page) == ids[::-1]
    assert envelope(page) == {
        "object": "list",
        "first_id": ids[-1],
        "last_id": ids[0],
        "has_more": False,
    }


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 3, COUNT, 100])
async def test_walk_forward_with_after(collection: Collection, order: str, limit: int) -> None:
    list_fn, ids = collection
    expected = ids if order == "asc" else ids[::-1]
    assert await walk(list_fn, order=order, limit=limit, cursor="after") == expected


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 3])
async def test_walk_backward_with_before(collection: Collection, order: str, limit: int) -> None:
    list_fn, ids = collection
    expected = ids if order == "asc" else ids[::-1]
    # From the end of the list, page back towards its start.
    seen = await walk(list_fn, order=order, limit=limit, cursor="before", start=expected[-1])
    assert seen == expected[:-1]


async def test_before_returns_the_page_nearest_the_cursor(collection: Collection) -> None:
    list_fn, ids = collection
    page = await list_fn(order="asc", before=ids[4], limit=2)
    assert page_ids(page) == [ids[2], ids[3]] and page.has_more
    page = await list_fn(order="desc", before=ids[2], limit=2)
    assert page_ids(page) == [ids[4], ids[3]] and page.has_more
    page = await list_fn(order="asc", before=ids[2], limit=5)
    assert page_ids(page) == [ids[0], ids[1]] and not page.has_more


async def test_after_and_before_together_bound_a_window(collection: Collection) -> None:
    list_fn, ids = collection
    page = await list_fn(order="asc", after=ids[1], before=ids[5])
    assert page_ids(page) == ids[2:5] and not page.has_more
    page = await list_fn(order="desc", after=ids[5], before=ids[1])
    assert page_ids(page) == [ids[4], ids[3], ids[2]] and not page.has_more
    page = await list_fn(order="asc", after=ids[1], before=ids[5], limit=2)
    assert page_ids(page) == ids[2:4] and page.has_more


async def test_past_the_end_is_an_empty_page(collection: Collection) -> None:
    list_fn, ids = collection
    page = await list_fn(order="asc", after=ids[-1])
    assert page_ids(page) == []
    assert envelope(page) == {
        "object": "list",
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


async def test_empty_collection(tenant_client: openai.AsyncOpenAI) -> None:
    page = await tenant_client.beta.assistants.list()
    assert page.data == [] and envelope(page)["first_id"] is None and not page.has_more
