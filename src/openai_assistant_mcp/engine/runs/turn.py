"""One turn of a run: from queued/in_progress to `requires_action` or an end.

A turn is a small state machine of provider rounds: ask the provider (streaming the message
and tool-call step as they appear); an answer without tool calls ends the run; built-in tool
calls are executed here and the provider is asked again; function tool calls stop the run at
`requires_action`. What the turn produces is published as it appears and stored once, with
the turn's outcome, in one transaction (a crash leaves nothing half-written: the turn is
simply done again)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..providers.chat import ProviderFailure, too_long_message
from ..services import files, messages, run_steps
from ..services.common import now
from ..services.run_end import Unsaved
from ..services.runs import history_limit
from ..store import repository
from ..store.repository import Prepared
from . import loops
from .budget import add_usage, estimated_usage, spent_budget
from .builtin import BuiltinContext, BuiltinTool
from .file_search import newest_question
from .fit import DoesNotFit, Fitted, fit, output_room
from .host import KEY_GONE, Ending, Host, RunGone, TurnFailure, Waiting
from .lifecycle import STARTABLE, RunStatus, run_event
from .prompt import build_request, image_file_ids
from .record import Record
from .round import engine_call, forced_call, stream_round
from .stream import Answer, ToolCall, function_call
from .turn_tools import builtin_context, described, unavailable

# A turn still going after this long is stored `in_progress` (quicker ones end in one write).
MARK_IN_PROGRESS_AFTER = 0.1
# Provider rounds that end in calls the engine answers itself (built-in calls, repeated calls),
# per turn: a model that keeps calling them would otherwise loop until the run expires.
MAX_BUILTIN_ROUNDS = 8


class Turn:
    """One turn of one run (see the module docstring)."""

    def __init__(
        self,
        executor: Host,
        run_id: str,
        api_key: str | None,
        prepared: Prepared | None = None,
    ) -> None:
        self.prepared = prepared
        self.executor = executor
        self.run_id = run_id
        self.caller_key = api_key
        self.api_key: str | None = None
        self.events = executor.events
        self.run: dict[str, Any] = {}
        self.tenant = ""
        self.execution: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.record: Record | None = None  # once the run is loaded
        self.capped = False
        self.marking_started = False

    def publish(self, event: str, data: Any) -> None:
        self.events.publish(self.run_id, event, data)

    @property
    def rec(self) -> Record:
        assert self.record is not None, "the run is loaded first"
        return self.record

    def unsaved(self) -> Unsaved:
        """The turn's messages and steps as they stand (text streamed so far included)."""
        return Unsaved() if self.record is None else self.record.unsaved()

    # -- the turn --------------------------------------------------------------------------------

    async def execute(self) -> None:
        await self._load()
        marking = None
        if self.run["status"] == RunStatus.QUEUED:
            self.run = {**self.run, "status": RunStatus.IN_PROGRESS}
            self.run["started_at"] = self.run["started_at"] or now()
            marking = asyncio.ensure_future(self._mark_in_progress_soon())
            self.publish(run_event(RunStatus.IN_PROGRESS), self.run)
        try:
            expires_at = self.run.get("expires_at")
            remaining = None if expires_at is None else max(0.0, expires_at - time.time())
            async with asyncio.timeout(remaining):
                outcome = await self._rounds()
        finally:
            marked: BaseException | None = None
            if marking is not None:  # a quick turn ends before it needed marking at all
                if not self.marking_started:
                    marking.cancel()
                await asyncio.wait([marking])
                if not marking.cancelled():
                    marked = marking.exception()
        if marked is not None:  # cancelled, deleted or taken over meanwhile
            raise marked
        if isinstance(outcome, Waiting):
            await self._require_action(outcome.wanted)
        else:
            await self.executor.end_durably(
                self.run_id,
                outcome.status,
                incomplete_details=outcome.incomplete_details,
                execution=self.execution,
                unsaved=self.unsaved(),
                started_at=self.run["started_at"],
            )

    async def _load(self) -> None:
        """The run as it stands and the thread's messages the provider will see (as the
        claiming transaction read them, when it handed them over); the key to call with."""
        if self.prepared is not None:
            row, history = self.prepared.row, self.prepared.history
        else:
            async with self.executor.db.read() as conn:
                found = await repository.get_run(conn, self.run_id)
                row = self.executor.check_held(self.run_id, found)
                history = await repository.recent_messages(
                    conn, row.thread_id, history_limit(row.body)
                )
        if row.status not in STARTABLE:
            raise RunGone(self.run_id)
        self.run, self.tenant, self.execution = row.body, row.tenant, dict(row.execution)
        self.history = history
        self.record = Record(
            self.run,
            self.execution,
            self.publish,
            engine_citations=self.executor.provider.engine_citations,
            question=newest_question(history),
        )
        self.api_key = self.executor.key_for(self.tenant, self.caller_key)
        if self.api_key is None and not self.executor.keyless_allowed(self.tenant):
            raise TurnFailure("server_error", KEY_GONE)

    async def _mark_in_progress_soon(self) -> None:
        """Store `in_progress` once the turn has taken MARK_IN_PROGRESS_AFTER: a quicker turn
        goes from queued to its end in one write (the stream says in_progress either way)."""
        await asyncio.sleep(MARK_IN_PROGRESS_AFTER)
        self.marking_started = True
        await self.executor.write(self._mark_in_progress)

    async def _mark_in_progress(self, conn: AsyncConnection) -> None:
        row = await self.executor.own(conn, self.run_id)
        if row.status == RunStatus.QUEUED:
            started_at = row.body["started_at"] or self.run["started_at"]
            body = {**row.body, "status": RunStatus.IN_PROGRESS, "started_at": started_at}
            await repository.save_run(conn, body)

    async def _rounds(self) -> Ending | Waiting:
        """Ask the provider until it answers, wants function outputs, or a limit is hit."""
        offered = self.executor.tools.offered(self.run.get("tools") or [])
        self.rec.builtins.offered = offered
        context: BuiltinContext | None = None
        notes: dict[str, str] = {}
        if offered:
            context = await builtin_context(
                self.executor.db,
                self.tenant,
                self.run,
                self.execution,
                self.api_key,
                self.executor.services,
                self.history,
            )
            reason = await unavailable(offered, context)
            if reason:
                raise TurnFailure("server_error", reason)
            notes = await described(offered, context)
        images = await files.image_data_urls(
            self.executor.db, self.tenant, image_file_ids(self.history)
        )
        rounds = 0
        answer_now = asked_again = clean_output = False  # see loops.py
        while True:
            spent = spent_budget(self.run, self.execution)
            if spent is not None:
                return Ending(RunStatus.INCOMPLETE, {"reason": spent})
            self.rec.answer = Answer()
            request = build_request(self.run, self.execution, self.history, offered, images, notes)
            fitted = await self._fit(request)
            request = fitted.request if fitted else request
            forced = forced_call(request)
            if answer_now:
                request = loops.answer_now(request, offered)
            elif asked_again and forced:
                request = loops.call_now(request, forced)
            elif clean_output:
                request = loops.answer_if_done(request)
            clean_output = False
            streamed = await stream_round(
                self.executor.provider,
                self.api_key,
                self.executor.settings.run_max_output_chars,
                self.rec,
                request,
                await engine_call(request, offered, context),
            )
            self.capped = streamed.capped
            if not self.rec.answer.usage_given:  # llama-cpp-python streams none: count it
                self.rec.answer.usage = estimated_usage(request, self.rec.answer)
            step_usage = add_usage(self.execution, self.rec.answer.usage)
            calls = self.rec.answer.ordered_calls()
            if self.capped:
                return self._cut_off(step_usage)
            if streamed.instead is not None and forced:  # text instead of the forced call
                if asked_again:
                    raise TurnFailure("server_error", loops.not_called(forced))
                asked_again = True
                continue
            if not calls:
                return self._answered(step_usage)
            if any(not call.name for call in calls):
                raise ProviderFailure(
                    "server_error", "The model provider sent a tool call without a function name."
                )
            found = [(call, offered.get(call.name)) for call in calls]
            builtin: list[tuple[ToolCall, BuiltinTool]] = [(c, t) for c, t in found if t]
            functions = [c for c, t in found if t is None]
            repeats = self._repeats(calls)
            if builtin or repeats:
                rounds += 1
                if rounds > MAX_BUILTIN_ROUNDS:
                    raise TurnFailure(
                        "server_error",
                        "The model called built-in tools (or repeated its calls) in more than "
                        f"{MAX_BUILTIN_ROUNDS} rounds of one run; the run was stopped.",
                    )
            if builtin:
                assert context is not None
                context.output_tokens = output_room(fitted, [c for c, _ in builtin])
                await self.rec.builtins.execute(context, builtin)
                clean_output = self.rec.builtins.ran_cleanly and self._small_models
            self._extend_transcript(calls)
            if repeats:  # the model goes round in circles: answered here, then it must answer
                answered = [(c, repeats[calls.index(c)]) for c in functions]
                for call, output in answered:
                    self.rec.give_output(call, output)
                self.execution["transcript"] += [
                    {"role": "tool", "tool_call_id": call.id, "content": output}
                    for call, output in answered
                ]
                answer_now = True
            elif functions:
                assert self.rec.tool_step is not None
                self.rec.tool_step = {**self.rec.tool_step, "usage": step_usage}
                spent = spent_budget(self.run, self.execution)
                if spent is not None:  # no budget left to go on after the tool outputs
                    return Ending(RunStatus.INCOMPLETE, {"reason": spent})
                return Waiting([function_call(c, with_output=False) for c in functions])
            self.rec.close_tool_step(step_usage)

    @property
    def _small_models(self) -> bool:
        """Whether the provider is one small models run on, whose rounds loops.py watches:
        where text tool calls are recognised (by default every provider but OpenAI)."""
        return self.executor.provider.text_tool_calls

    def _repeats(self, calls: list[ToolCall]) -> list[str] | None:
        """The earlier outputs of this round's calls if all repeat answered ones (loops.py)."""
        if not self._small_models:
            return None
        return loops.repeated_outputs(calls, self.execution.get("transcript", []))

    async def _fit(self, request: dict[str, Any]) -> Fitted | None:
        """The request fitted into the model's context window, when it is known."""
        window = await self.executor.provider.windows.tokens(self.run["model"], self.api_key)
        if not window:
            return None
        try:
            return fit(request, self.run, len(self.execution.get("transcript", [])), window)
        except DoesNotFit as too_long:
            raise TurnFailure(
                "invalid_prompt",
                too_long_message(too_long.prompt_tokens, too_long.window, answer=too_long.answer),
            ) from None

    def _extend_transcript(self, calls: list[ToolCall]) -> None:
        """What the model said and called this round, and the built-in calls' outputs, for the
        conversation the provider sees next (function outputs follow on submission)."""
        said = self.rec.answer.said
        self.execution["transcript"] = [
            *self.execution.get("transcript", []),
            {
                "role": "assistant",
                "content": said or None,
                "tool_calls": [function_call(c, with_output=False) for c in calls],
            },
            *self.rec.builtins.transcript(),
        ]

    # -- the turn's outcome ----------------------------------------------------------------------

    def _answered(self, step_usage: dict[str, int]) -> Ending:
        finish = self.rec.answer.finish_reason or ""
        self.rec.close_answer(finish, step_usage, self.execution)
        if finish == "length" and self.run.get("max_completion_tokens"):
            return Ending(RunStatus.INCOMPLETE, {"reason": "max_completion_tokens"})
        return Ending(RunStatus.COMPLETED)

    def _cut_off(self, step_usage: dict[str, int]) -> Ending:
        """The answer went past the engine's output cap: keep what came, end `incomplete`."""
        if self.rec.message is not None:
            self.rec.close_message("max_tokens", step_usage)
        return Ending(RunStatus.INCOMPLETE, {"reason": "max_completion_tokens"})

    async def _require_action(self, wanted: list[dict[str, Any]]) -> None:
        assert self.rec.tool_step is not None
        self.execution["tool_step_id"] = self.rec.tool_step["id"]
        unsaved = self.unsaved()

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            row = await self.executor.own(conn, self.run_id)
            await messages.insert_in(conn, self.tenant, unsaved.messages)
            for step in unsaved.steps:
                await run_steps.insert(conn, self.tenant, step)
            run = {
                **row.body,
                "started_at": row.body["started_at"] or self.run["started_at"],
                "status": RunStatus.REQUIRES_ACTION,
                "required_action": {
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {"tool_calls": wanted},
                },
            }
            await repository.save_run(
                conn, run, self.execution, lease_owner=None, lease_expires_at=None
            )
            # Before the commit: from then on another connection's heartbeat can find the lease
            # given up, and must not take this turn for lost and cancel it.
            self.executor.released(self.run_id)
            return run

        def committed(run: dict[str, Any]) -> None:
            # Here, not after the await: the stream gets the event even if this task is
            # cancelled (by a cancel request) before it resumes.
            self.publish(run_event(RunStatus.REQUIRES_ACTION), run)

        await self.executor.write(work, committed)
