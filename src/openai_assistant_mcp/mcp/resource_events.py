"""Resource change notifications: `subscriptions/listen` (protocol 2026-07-28) on the SDK's
`ListenHandler`, one event bus per caller key, so a listener hears only its own tenant's
changes.

What is notified (`notifications/resources/updated`), by this process only (the buses are in
its memory; no replay, as the SDK's listen streams have none): `thread://{thread_id}/messages`
when a run this process waits on, reads (`get_run`, `tasks/get`) or follows as a task is seen
stopped (completed, requires_action, failed, cancelled, expired, incomplete; once per run and
status), and when a message tool (`create_message`, `modify_message`, `delete_message`) changes
the thread. Not notified: runs that end while nobody here waits on or reads them, changes made
through another process or the REST API directly, and list changes (assistants, vector stores).
The 2025 protocols' `resources/subscribe` is not offered.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.shared.exceptions import MCPError

from .tools.run_results import STOPPED

if TYPE_CHECKING:
    import mcp_types as types
    from mcp.server.context import ServerRequestContext

    from .caller import CallerAPI

# Open listen streams one caller key may hold at once.
STREAMS_PER_KEY = 16
# Caller keys with a bus kept; past this, the least recently used without open streams goes.
MAX_KEYS = 1024
# Run statuses already notified, remembered (run ID, status) so polling does not repeat them.
MAX_REMEMBERED = 4096
MESSAGE_TOOLS = frozenset({"create_message", "modify_message", "delete_message"})
RUN_TOOLS = frozenset({"create_run", "create_thread_and_run", "submit_tool_outputs", "get_run"})


class _Tenant:
    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus, max_subscriptions=STREAMS_PER_KEY)
        self.open = 0


class ResourceEvents:
    """The listen handler and the publishers, for the thread resources."""

    def __init__(self, access: CallerAPI) -> None:
        self._access = access
        self._tenants: OrderedDict[str, _Tenant] = OrderedDict()
        self._notified: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    @staticmethod
    def _tenant_id(key: str | None) -> str:
        return hashlib.sha256((key or "").encode()).hexdigest()

    async def listen(
        self, ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        tenant_id = self._tenant_id(self._access.key(ctx))
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = _Tenant()
            self._forget_idle()
        self._tenants.move_to_end(tenant_id)
        tenant.open += 1
        try:
            return await tenant.listen(ctx, params)
        finally:
            tenant.open -= 1

    def _forget_idle(self) -> None:
        for tenant_id in list(self._tenants):
            if len(self._tenants) <= MAX_KEYS:
                return
            if self._tenants[tenant_id].open == 0:
                del self._tenants[tenant_id]

    async def thread_changed(self, key: str | None, thread_id: str) -> None:
        tenant = self._tenants.get(self._tenant_id(key))
        if tenant is not None:  # nobody of this key listens: nothing to say
            await tenant.bus.publish(ResourceUpdated(uri=f"thread://{thread_id}/messages"))

    async def run_seen(self, key: str | None, run: Any) -> None:
        """A run as read or followed: its thread changed if it stopped (once per status)."""
        if not isinstance(run, dict) or run.get("status") not in STOPPED:
            return
        seen = (self._tenant_id(key), str(run.get("id")), str(run["status"]))
        if seen in self._notified:
            return
        self._notified[seen] = None
        while len(self._notified) > MAX_REMEMBERED:
            self._notified.popitem(last=False)
        await self.thread_changed(key, str(run.get("thread_id")))

    async def after_tool(
        self,
        ctx: ServerRequestContext[Any],
        name: str,
        arguments: dict[str, Any],
        result: types.CallToolResult,
    ) -> None:
        """What a successful tool call changed, told to the caller's listeners."""
        if result.is_error or (name not in MESSAGE_TOOLS and name not in RUN_TOOLS):
            return
        try:
            key = self._access.key(ctx)
        except MCPError:  # no key: the call was refused anyway
            return
        if name in MESSAGE_TOOLS:
            await self.thread_changed(key, str(arguments.get("thread_id")))
        else:
            await self.run_seen(key, (result.structured_content or {}).get("run"))
