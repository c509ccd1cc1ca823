"""Resource change notifications (mcp/resource_events.py): `subscriptions/listen` streams of
`notifications/resources/updated` for thread resources, through the official SDK client,
in-process and over streamable HTTP in multi-user mode (a listener hears only its own key's
threads)."""

from __future__ import annotations

import secrets
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.subscriptions import ResourceUpdated

from tests.mcp.fixtures import StartServer
from tests.mcp.test_run_tasks import new_thread, serving
from tests.mcp.workflow import call
from tests.support.mcp_tasks import RunTasksClient, start_task, wait_for_status
from tests.support.scripted_provider import ScriptedProvider, Text


def uri(thread_id: str) -> str:
    return f"thread://{thread_id}/messages"


async def next_update(subscription: object) -> str:
    """The URI of the next update on a listen stream (a readiness wait, 60 s cap)."""
    with anyio.fail_after(60):
        event = await subscription.__anext__()  # type: ignore[attr-defined]
    assert isinstance(event, ResourceUpdated)
    return event.uri


async def test_a_thread_resource_is_updated_by_messages_and_by_runs_that_end(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(Text("First."), Text("Second."))
    async with (
        serving(model_provider, tmp_path) as server,
        Client(server.lowlevel_server(), extensions=[RunTasksClient()]) as client,
    ):
        resources = client.server_capabilities.resources
        assert resources is not None and resources.subscribe
        assistant_id, thread_id = await new_thread(client)
        _, other_thread = await new_thread(client)
        subscribed = [uri(thread_id), uri(other_thread)]
        async with client.listen(resource_subscriptions=[uri(thread_id)]) as subscription:
            assert subscription.honored.resource_subscriptions == [uri(thread_id)]
            # Another thread's change is not this subscription's; this thread's message is.
            await call(client, "create_message", {"thread_id": other_thread, "content": "x"})
            await call(client, "create_message", {"thread_id": thread_id, "content": "More?"})
            assert await next_update(subscription) == uri(thread_id)
            # A waiting run that ends.
            await call(client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id})
            assert await next_update(subscription) == uri(thread_id)
        # (The SDK's client folds identical pending events into one: each is read before the
        # next change.)
        async with client.listen(resource_subscriptions=subscribed) as subscription:
            # A run followed as a task: told when tasks/get first sees it ended, once.
            created = await start_task(
                client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
            )
            await wait_for_status(client.session, created.task_id, "completed")
            assert await next_update(subscription) == uri(thread_id)  # the task's end
            await wait_for_status(client.session, created.task_id, "completed")
            await call(client, "create_message", {"thread_id": other_thread, "content": "y"})
            assert await next_update(subscription) == uri(other_thread)  # not a repeat
            read = await client.read_resource(uri(thread_id))
            assert "Second." in read.contents[0].text  # type: ignore[union-attr]


def keyed_client(url: str, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"X-OpenAI-API-Key": key}, timeout=httpx2.Timeout(120.0))
    return Client(streamable_http_client(url, http_client=http))


async def test_a_listener_hears_only_its_own_keys_threads(start_server: StartServer) -> None:
    server = start_server(
        "multi-user-http", TRANSPORT="streamable-http", MCP_CREDENTIALS_PASSTHROUGH="true"
    )
    url = server.url("/mcp")
    alice, bob = (f"sk-{name}-{secrets.token_hex(8)}" for name in ("alice", "bob"))
    async with keyed_client(url, alice) as a, keyed_client(url, bob) as b:
        alices = (await call(a, "create_thread", {}))["id"]
        bobs = (await call(b, "create_thread", {}))["id"]
        # Bob listens on Alice's thread (its ID leaked) and on his own.
        async with b.listen(resource_subscriptions=[uri(alices), uri(bobs)]) as subscription:
            await call(a, "create_message", {"thread_id": alices, "content": "secret"})
            await call(b, "create_message", {"thread_id": bobs, "content": "mine"})
            assert await next_update(subscription) == uri(bobs)
        async with a.listen(resource_subscriptions=[uri(alices)]) as subscription:
            await call(a, "create_message", {"thread_id": alices, "content": "again"})
            assert await next_update(subscription) == uri(alices)
