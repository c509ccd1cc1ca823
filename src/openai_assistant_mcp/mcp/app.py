"""The MCP server proper: the selected tools on the mcp SDK's low-level `Server`.

The low-level server gives full control of the wire: `tools/list` is computed once (compact,
inlined schemas, no output schemas) and `tools/call` goes through the call pipeline
(middleware.py) to the tool's handler.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.lowlevel import Server

from .backend import Backend
from .caller import CallerAPI
from .completion import Completions
from .middleware import Answer, ToolCall, call_pipeline, refusal
from .prompts import Prompts
from .resource_events import ResourceEvents
from .resources import Resources
from .tasks import RunTasks
from .tools.registry import select_tools

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext

    from ..settings import Settings
    from .tools.spec import ToolSpec

SERVER_NAME = "openai-assistant-mcp"
INSTRUCTIONS = (
    "Manage and run Assistants-API assistants. Typical flow: create_assistant (or "
    "list_assistants), create_thread, create_message, create_run; create_run waits and returns "
    "the answer. If it returns tool_calls, run those functions yourself and send the results "
    "with submit_tool_outputs. Read a conversation with list_messages."
)


class ToolServer:
    """The configuration's tools (toolsets, read-only mode) served with one backend."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tools = select_tools(settings.toolsets, settings.read_only)
        self._by_name = {spec.name: spec for spec in self.tools}
        self._listing = types.ListToolsResult(tools=[self._listed(s) for s in self.tools])
        self.backend = Backend(settings)
        self.limiter = settings.limiter("tool calls", line=settings.embedded)  # http/limits.py
        self._pipeline = call_pipeline(settings, self.backend, self.limiter)
        # Resources, prompts, completion (resources.py, prompts.py, completion.py): beside the
        # tools they stand for, through the same client and key rules (caller.py).
        access = CallerAPI(settings, self.backend, self.limiter)
        self.resources = Resources(access, set(self._by_name))
        self.prompts = Prompts(set(self._by_name))
        self.completions = Completions(access, self.prompts, self.resources)
        # Change notifications for the thread resources, where they are offered.
        self.events = ResourceEvents(access) if "list_messages" in self._by_name else None
        # Runs as MCP tasks for clients that declare the tasks extension (tasks.py).
        self.tasks = RunTasks(
            access,
            self.call_tool,
            set(self._by_name),
            self.events.run_seen if self.events else None,
        )

    def _listed(self, spec: ToolSpec[Any]) -> types.Tool:
        listing = spec.listing()
        if spec.waits:  # the server's configured default wait
            listing["inputSchema"]["properties"]["timeout"]["default"] = (
                self.settings.run_wait_timeout
            )
        return types.Tool.model_validate(listing)

    def lowlevel_server(self) -> Server[Any]:
        server = Server(
            SERVER_NAME,
            version=version("openai-assistant-mcp"),
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            get_tool_input_schema=self.input_schema,
            **self._resources_and_prompts(),
        )
        if self.tasks:
            self.tasks.install(server)
        # The SDK's OpenTelemetry middleware costs ~0.2 ms a call even with no exporter set up.
        server.middleware[:] = [self._want_backend_after]
        return server

    def _resources_and_prompts(self) -> dict[str, Any]:
        """The handlers of what this configuration offers (the SDK announces a capability for
        each handler given)."""
        handlers: dict[str, Any] = {}
        if self.resources:
            handlers.update(
                on_list_resources=self.resources.list,
                on_list_resource_templates=self.resources.list_templates,
                on_read_resource=self.resources.read,
            )
        if self.prompts:
            handlers.update(on_list_prompts=self.prompts.list, on_get_prompt=self.prompts.get)
        if self.resources or self.prompts:
            handlers["on_completion"] = self.completions.complete
        if self.events:
            handlers["on_subscriptions_listen"] = self.events.listen
        return handlers

    async def _want_backend_after(self, ctx: ServerRequestContext[Any], call_next: Any) -> Any:
        """Starts the backend once the first message is answered (see backend.py)."""
        try:
            return await call_next(ctx)
        finally:
            self.backend.want()

    def waits(self, name: str) -> bool:
        """Whether the tool `name` may wait on a run."""
        spec = self._by_name.get(name)
        return spec is not None and spec.waits

    def input_schema(self, name: str) -> dict[str, Any] | None:
        spec = self._by_name.get(name)
        return spec.input_schema if spec else None

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return self._listing

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> Answer:
        spec = self._by_name.get(params.name)
        if spec is None:
            return refusal(f"Unknown tool '{params.name}'.")
        answer = await self._pipeline(ToolCall(spec, params.arguments or {}, ctx, params))
        if self.events and isinstance(answer, types.CallToolResult):
            await self.events.after_tool(ctx, spec.name, params.arguments or {}, answer)
        return answer
