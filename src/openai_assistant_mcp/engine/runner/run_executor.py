"""Executes runs in-process as asyncio tasks, one provider turn per task.

A run is claimed by the process that created it (or was given its tool outputs) with a lease
in the database; while it executes, a poller renews the lease, notices a cancel written by any
process, and sweeps up runs nobody executes (a lease that ran out: their process died). Every
write checks the lease, so a run is executed by exactly one process.

One turn: queued -> in_progress, stream a chat completion (publishing stream events as the
message and steps appear), then store them with the outcome: `completed` / `incomplete`, or
`requires_action` to wait for tool outputs (the next turn is a new task). The caller's API key
lives only in the task's memory."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from ..providers.chat import ChatProvider, ProviderFailure
from ..services import files, messages, run_steps
from ..services import runs as run_service
from ..services.common import now
from ..services.runs import Prepared, Unsaved
from ..settings import EngineSettings
from ..store import repository
from ..store.database import Database
from ..store.repository import RunRow
from ..tenancy import DEFAULT_TENANT
from .events import RunEvents, Subscription
from .prompt import build_request, history_limit, image_file_ids

log = logging.getLogger(__name__)
T = TypeVar("T")

# A turn still going after this long is stored `in_progress` (quicker ones end in one write).
MARK_IN_PROGRESS_AFTER = 0.1

_STEP_EVENT = {
    "completed": "thread.run.step.completed",
    "cancelled": "thread.run.step.cancelled",
    "failed": "thread.run.step.failed",
    "expired": "thread.run.step.expired",
}
_INTERRUPTED = (
    "The engine stopped while this run was executing and it cannot resume it: the run used "
    "the caller's API key, which is never stored, and the server has no key of its own "
    "(OPENAI_API_KEY). Create a new run."
)


class RunGone(Exception):
    """The run was deleted, ended, or taken over by another process: stop quietly."""


class CancelRequested(Exception):
    """The run was set `cancelling` (seen at a write): end it cancelled."""


class RunExecutor:
    """Runs' executor for one engine process (see the module docstring)."""

    def __init__(self, settings: EngineSettings, db: Database, provider: ChatProvider) -> None:
        self.settings = settings
        self.db = db
        self.provider = provider
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.events = RunEvents()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stop_reason: dict[str, str] = {}
        self._writes: set[asyncio.Task[Any]] = set()
        # Runs whose local turn stored requires_action (giving up the lease) and is on its
        # way out: the heartbeat must not take the missing lease for a lost run.
        self._released: set[str] = set()
        self._poller: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume or end what earlier processes left behind, then keep watch."""
        await self.sweep()
        self._poller = asyncio.create_task(self._poll_forever(), name="run-executor-poller")

    async def stop(self) -> None:
        """Stop executing; unfinished runs stay in the database for the next process."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        tasks = list(self._tasks.items())
        for run_id, task in tasks:
            if run_id not in self._stop_reason:
                self._stop_reason[run_id] = "shutdown"
                task.cancel()
        await asyncio.gather(*(task for _, task in tasks), return_exceptions=True)
        await asyncio.gather(*self._writes, return_exceptions=True)
        try:
            async with self.db.write() as conn:
                await repository.release_leases(conn, self.owner)
        except Exception as exc:  # the database may already be gone; leases then just expire
            log.warning("could not release run leases: %s", type(exc).__name__)
        await self.provider.close()

    @property
    def active(self) -> list[str]:
        return list(self._tasks)

    def launch(
        self,
        run_id: str,
        api_key: str | None,
        *,
        subscribe: bool = False,
        prepared: Prepared | None = None,
    ) -> Subscription | None:
        """Execute the next turn of a run this process has just claimed (`prepared`: as the
        claiming transaction left it). With `subscribe`, the returned subscription sees every
        event of the turn (it subscribes before the task starts)."""
        subscription = self.events.subscribe(run_id) if subscribe else None
        # The previous turn's task may still be finishing (it stored requires_action and is
        # on its way out): the new turn starts after it.
        previous = self._tasks.get(run_id)
        self._released.discard(run_id)  # claimed again by the caller
        turn = Turn(self, run_id, api_key, prepared)
        self._tasks[run_id] = asyncio.create_task(
            self._execute(turn, subscription, previous), name=f"run {run_id}"
        )
        return subscription

    def released(self, run_id: str) -> None:
        """The local turn of `run_id` gave up its lease (requires_action) and is ending."""
        self._released.add(run_id)

    def cancel_local(self, run_id: str, reason: str = "cancel") -> bool:
        """Stop the local task of a run (its provider stream closes at once)."""
        task = self._tasks.get(run_id)
        if task is None or task.done() or run_id in self._stop_reason:
            return False  # once: a second cancel would cut the task's own ending short
        self._stop_reason[run_id] = reason
        task.cancel()
        return True

    # -- one turn --------------------------------------------------------------------------------

    async def _execute(
        self,
        turn: Turn,
        subscription: Subscription | None,
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        run_id = turn.run_id

        async def end(status: str, **details: Any) -> None:
            # What the turn streamed so far is stored with the end (a message cut short).
            await self._end_quietly(
                run_id,
                status,
                unsaved=turn.unsaved(),
                started_at=turn.run.get("started_at"),
                **details,
            )

        try:
            await turn.execute()
        except asyncio.CancelledError:
            reason = self._stop_reason.get(run_id, "shutdown")
            if reason == "cancel":
                await end("cancelled")
        except CancelRequested:
            await end("cancelled")
        except TimeoutError:
            await end("expired")
        except ProviderFailure as failure:
            await end("failed", last_error={"code": failure.code, "message": failure.message})
        except RunGone:
            pass
        except Exception as exc:
            # The type only: an exception's text could carry request data.
            log.error("run %s failed: %s", run_id, type(exc).__name__)
            error = {"code": "server_error", "message": "The engine failed executing this run."}
            await end("failed", last_error=error)
        finally:
            if self._tasks.get(run_id) is asyncio.current_task():
                self._stop_reason.pop(run_id, None)
                self._released.discard(run_id)
                del self._tasks[run_id]
            if subscription is not None:
                subscription.finish()

    async def _end_quietly(self, run_id: str, status: str, **details: Any) -> None:
        try:
            await self.end(run_id, status, **details)
        except RunGone:
            pass
        except Exception as exc:
            log.error("could not end run %s: %s", run_id, type(exc).__name__)

    async def end(
        self,
        run_id: str,
        status: str,
        *,
        last_error: dict[str, Any] | None = None,
        incomplete_details: dict[str, Any] | None = None,
        execution: dict[str, Any] | None = None,
        unsaved: Unsaved | None = None,
        started_at: int | None = None,
    ) -> dict[str, Any]:
        """End a run this process holds with a terminal `status`, publishing the events.
        A run set `cancelling` meanwhile ends `cancelled` whatever happened."""

        async def work(conn: AsyncConnection) -> Any:
            row = await self.own(conn, run_id, allow_cancelling=True)
            if row.status == "cancelling":
                return await run_service.finish(
                    conn,
                    row,
                    "cancelled",
                    execution=execution,
                    unsaved=unsaved,
                    started_at=started_at,
                )
            return await run_service.finish(
                conn,
                row,
                status,
                last_error=last_error,
                incomplete_details=incomplete_details,
                execution=execution,
                unsaved=unsaved,
                started_at=started_at,
            )

        body, steps, closed = await self.write(work)
        self.publish_end(body, steps, closed)
        return body

    def publish_end(
        self, run: dict[str, Any], steps: list[dict[str, Any]], closed: list[dict[str, Any]]
    ) -> None:
        for message in closed:
            self.events.publish(run["id"], "thread.message.incomplete", message)
        for step in steps:
            self.events.publish(run["id"], _STEP_EVENT[step["status"]], step)
        self.events.publish(run["id"], f"thread.run.{run['status']}", run)

    async def own(
        self, conn: AsyncConnection, run_id: str, *, allow_cancelling: bool = False
    ) -> RunRow:
        """The run's row, locked, if this process still holds it."""
        row = await repository.get_run(conn, run_id, lock=True)
        return self.check_held(run_id, row, allow_cancelling=allow_cancelling)

    def check_held(
        self, run_id: str, row: RunRow | None, *, allow_cancelling: bool = False
    ) -> RunRow:
        if row is None or row.lease_owner != self.owner or row.status in run_service.TERMINAL:
            raise RunGone(run_id)
        if row.status == "cancelling" and not allow_cancelling:
            raise CancelRequested(run_id)
        return row

    async def write(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        committed: Callable[[T], None] | None = None,
    ) -> T:
        """Run `work` in one write transaction that a cancel cannot cut in half (the task
        sees its cancellation when the transaction is over); `committed(result)` runs right
        after the commit, before any cancel can land."""

        async def transaction() -> T:
            async with self.db.write() as conn:
                result = await work(conn)
            if committed is not None:
                committed(result)
            return result

        task = asyncio.ensure_future(transaction())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return await asyncio.shield(task)

    # -- watching: leases, cancels, runs nobody executes ----------------------------------------

    async def _poll_forever(self) -> None:
        interval = max(0.05, min(self.settings.run_poll_interval, self.lease_seconds / 3))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
                await self.sweep()
            except Exception as exc:  # keep watching; the next round retries
                log.warning("run executor poll failed: %s", type(exc).__name__)

    @property
    def lease_seconds(self) -> float:
        return self.settings.run_lease_seconds

    async def heartbeat(self) -> None:
        """Renew the leases of the runs executing here; stop those cancelled elsewhere or
        lost (deleted, or taken over after this process stalled past its lease)."""
        run_ids = self.active
        if not run_ids:
            return
        async with self.db.write() as conn:
            held = await repository.renew_leases(
                conn, self.owner, run_ids, time.time() + self.lease_seconds
            )
        for run_id in run_ids:
            status = held.get(run_id)
            if status == "cancelling":
                self.cancel_local(run_id, "cancel")
            elif status is None and run_id not in self._released:
                self.cancel_local(run_id, "lost")

    async def sweep(self) -> None:
        """Claim runs nobody executes and resume, expire or end each of them."""
        now_s = time.time()
        waiting_before = int(now_s) - self.settings.run_expires_after
        async with self.db.read() as conn:
            found = await repository.any_claimable(
                conn, now=now_s, waiting_created_before=waiting_before
            )
        if not found:
            return
        async with self.db.write() as conn:
            rows = await repository.claim_runs(
                conn,
                self.owner,
                now=now_s,
                lease_until=now_s + self.lease_seconds,
                waiting_created_before=waiting_before,
            )
        for row in rows:
            if row.id in self._tasks:
                continue
            try:
                await self._take_over(row, now_s)
            except RunGone:
                pass

    async def _take_over(self, row: RunRow, now_s: float) -> None:
        expires_at = row.body.get("expires_at")
        if row.status == "cancelling":
            await self.end(row.id, "cancelled")
        elif expires_at is not None and expires_at <= now_s:
            await self.end(row.id, "expired")
        elif row.status == "requires_action":  # not yet expired: leave it waiting, unowned
            await self.write(lambda conn: self._release_waiting(conn, row.id))
        elif row.tenant == DEFAULT_TENANT or self.provider.server_key:
            self.launch(row.id, None)  # the interrupted turn starts again (nothing was stored)
        else:
            error = {"code": "server_error", "message": _INTERRUPTED}
            await self.end(row.id, "failed", last_error=error)

    async def _release_waiting(self, conn: AsyncConnection, run_id: str) -> None:
        row = await self.own(conn, run_id)
        if row.status == "requires_action":
            await repository.save_run(conn, row.body, lease_owner=None, lease_expires_at=None)


class Turn:
    """One provider call of a run: from queued/in_progress to requires_action or an end.

    The message and steps the turn produces are published as they appear, and stored once,
    together with the turn's outcome, in one transaction (so a crash leaves nothing
    half-written: the turn is simply done again)."""

    def __init__(
        self,
        executor: RunExecutor,
        run_id: str,
        api_key: str | None,
        prepared: Prepared | None = None,
    ) -> None:
        self.prepared = prepared
        self.executor = executor
        self.run_id = run_id
        self.api_key = executor.provider.key_for(api_key)
        self.events = executor.events
        self.run: dict[str, Any] = {}
        self.tenant = ""
        self.execution: dict[str, Any] = {}
        self.message: dict[str, Any] | None = None
        self.message_step: dict[str, Any] | None = None
        self.tool_step: dict[str, Any] | None = None
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.marking_started = False

    def publish(self, event: str, data: Any) -> None:
        self.events.publish(self.run_id, event, data)

    def unsaved(self) -> Unsaved:
        """The turn's message and steps as they stand (text streamed so far included)."""
        found = Unsaved()
        if self.message is not None:
            found.messages.append(self._message_now())
        if self.message_step is not None:
            found.steps.append(self.message_step)
        if self.tool_step is not None:
            found.steps.append(self._tool_step_now())
        return found

    def _message_now(self) -> dict[str, Any]:
        assert self.message is not None
        return {**self.message, "content": [run_service.text_part("".join(self.text))]}

    def _tool_calls(self, *, with_output: bool) -> list[dict[str, Any]]:
        calls = []
        for index in sorted(self.calls):
            call = self.calls[index]
            function = {"name": call["name"], "arguments": call["arguments"]}
            if with_output:
                function["output"] = None
            calls.append({"id": call["id"], "type": "function", "function": function})
        return calls

    def _tool_step_now(self) -> dict[str, Any]:
        assert self.tool_step is not None
        details = {"type": "tool_calls", "tool_calls": self._tool_calls(with_output=True)}
        return {**self.tool_step, "step_details": details}

    # -- start -----------------------------------------------------------------------------------

    async def execute(self) -> None:
        history = await self._load()
        marking = None
        if self.run["status"] == "queued":
            self.run = {**self.run, "status": "in_progress"}
            self.run["started_at"] = self.run["started_at"] or now()
            marking = asyncio.ensure_future(self._mark_in_progress_soon())
            self.publish("thread.run.in_progress", self.run)
        try:
            spent = self._spent_budget()
            if spent is None:
                images = await files.image_data_urls(
                    self.executor.db, self.tenant, image_file_ids(history)
                )
                request = build_request(self.run, self.execution, history, images)
                expires_at = self.run.get("expires_at")
                remaining = None if expires_at is None else max(0.0, expires_at - time.time())
                async with asyncio.timeout(remaining):
                    usage = await self._stream(request)
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
        if spent is not None:
            await self.executor.end(
                self.run_id,
                "incomplete",
                incomplete_details={"reason": spent},
                started_at=self.run["started_at"],
            )
            return
        await self._finish(usage)

    async def _load(self) -> list[dict[str, Any]]:
        """The run as it stands and the thread's messages the provider will see (as the
        claiming transaction read them, when it handed them over)."""
        if self.prepared is not None:
            row, history = self.prepared.row, self.prepared.history
        else:
            async with self.executor.db.read() as conn:
                row = await repository.get_run(conn, self.run_id)
                row = self.executor.check_held(self.run_id, row)
                history = await repository.recent_messages(
                    conn, row.thread_id, history_limit(row.body)
                )
        if row.status not in ("queued", "in_progress"):
            raise RunGone(self.run_id)
        self.run, self.tenant, self.execution = row.body, row.tenant, dict(row.execution)
        return history

    async def _mark_in_progress_soon(self) -> None:
        """Store `in_progress` once the turn has taken MARK_IN_PROGRESS_AFTER: a quicker turn
        goes from queued to its end in one write (the stream says in_progress either way)."""
        await asyncio.sleep(MARK_IN_PROGRESS_AFTER)
        self.marking_started = True
        await self.executor.write(self._mark_in_progress)

    async def _mark_in_progress(self, conn: AsyncConnection) -> None:
        row = await self.executor.own(conn, self.run_id)
        if row.status == "queued":
            started_at = row.body["started_at"] or self.run["started_at"]
            body = {**row.body, "status": "in_progress", "started_at": started_at}
            await repository.save_run(conn, body)

    def _spent_budget(self) -> str | None:
        """`max_prompt_tokens` or `max_completion_tokens` once the run has used it up."""
        used = self.execution.get("usage") or {}
        for field, used_key in (
            ("max_prompt_tokens", "prompt_tokens"),
            ("max_completion_tokens", "completion_tokens"),
        ):
            limit = self.run.get(field)
            if limit and int(used.get(used_key, 0)) >= limit:
                return field
        return None

    # -- streaming the provider's answer ---------------------------------------------------------

    async def _stream(self, request: dict[str, Any]) -> dict[str, int]:
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        async for chunk in self.executor.provider.stream(request, self.api_key):
            if chunk.get("usage"):
                usage = {
                    "prompt_tokens": int(chunk["usage"].get("prompt_tokens") or 0),
                    "completion_tokens": int(chunk["usage"].get("completion_tokens") or 0),
                }
            if not chunk.get("choices"):
                continue
            choice = chunk["choices"][0]
            delta = choice.get("delta") or {}
            text = (delta.get("content") or "") + (delta.get("refusal") or "")
            if text:
                self._on_text(text)
            if delta.get("tool_calls"):
                self._on_tool_calls(delta["tool_calls"])
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return usage

    def _on_text(self, text: str) -> None:
        if self.message is None:
            self._open_message()
        assert self.message is not None
        self.text.append(text)
        part = {"index": 0, "type": "text", "text": {"value": text, "annotations": []}}
        self.publish(
            "thread.message.delta",
            {
                "id": self.message["id"],
                "object": "thread.message.delta",
                "delta": {"content": [part]},
            },
        )

    def _open_message(self) -> None:
        message = messages.build(
            self.run["thread_id"],
            {"role": "assistant", "content": []},
            assistant_id=self.run["assistant_id"],
            run_id=self.run_id,
        )
        message.update(status="in_progress", completed_at=None)
        step = run_steps.message_creation(self.run, message["id"])
        self.message, self.message_step = message, step
        self.publish("thread.run.step.created", step)
        self.publish("thread.run.step.in_progress", step)
        self.publish("thread.message.created", message)
        self.publish("thread.message.in_progress", message)

    def _close_message(self, incomplete: str | None = None) -> None:
        """The message is whole (or cut: `incomplete` says why); so is its step."""
        assert self.message is not None and self.message_step is not None
        stamp = now()
        message = self._message_now()
        if incomplete is None:
            message.update(status="completed", completed_at=stamp)
        else:
            message.update(
                status="incomplete", incomplete_at=stamp, incomplete_details={"reason": incomplete}
            )
        self.message = message
        self.message_step = {**self.message_step, "status": "completed", "completed_at": stamp}
        event = "thread.message.completed" if incomplete is None else "thread.message.incomplete"
        self.publish(event, message)
        self.publish("thread.run.step.completed", self.message_step)

    def _on_tool_calls(self, deltas: list[dict[str, Any]]) -> None:
        if self.tool_step is None:
            if self.message is not None and self.message["status"] == "in_progress":
                self._close_message()
            self.tool_step = run_steps.tool_calls(self.run)
            self.publish("thread.run.step.created", self.tool_step)
            self.publish("thread.run.step.in_progress", self.tool_step)
        for delta in deltas:
            index = int(delta.get("index", 0))
            call = self.calls.get(index)
            if call is None:
                call_id = delta.get("id") or f"call_{secrets.token_hex(12)}"
                call = self.calls[index] = {"id": call_id, "name": "", "arguments": ""}
            function: dict[str, Any] = {"arguments": ""}
            given = delta.get("function") or {}
            if given.get("name"):
                call["name"] += given["name"]
                function["name"] = given["name"]
            if given.get("arguments"):
                call["arguments"] += given["arguments"]
                function["arguments"] = given["arguments"]
            item: dict[str, Any] = {"index": index, "type": "function", "function": function}
            if delta.get("id") or "name" in function:
                item["id"] = call["id"]
                function["output"] = None
            details = {"type": "tool_calls", "tool_calls": [item]}
            self.publish(
                "thread.run.step.delta",
                {
                    "id": self.tool_step["id"],
                    "object": "thread.run.step.delta",
                    "delta": {"step_details": details},
                },
            )

    # -- the turn's outcome ----------------------------------------------------------------------

    async def _finish(self, turn_usage: dict[str, int]) -> None:
        usage = dict(self.execution.get("usage") or {})
        for key in ("prompt_tokens", "completion_tokens"):
            usage[key] = int(usage.get(key, 0)) + turn_usage[key]
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        self.execution["usage"] = usage
        step_usage = {**turn_usage, "total_tokens": sum(turn_usage.values())}
        if self.calls:
            await self._require_action(step_usage)
            return
        if self.message is None:  # the model said nothing: still record an (empty) answer
            self._open_message()
        cut = self.finish_reason == "length"
        reason = {"length": "max_tokens", "content_filter": "content_filter"}
        self._close_message(reason.get(self.finish_reason or ""))
        assert self.message_step is not None
        self.message_step = {**self.message_step, "usage": step_usage}
        if cut and self.run.get("max_completion_tokens"):
            await self.executor.end(
                self.run_id,
                "incomplete",
                incomplete_details={"reason": "max_completion_tokens"},
                execution=self.execution,
                unsaved=self.unsaved(),
                started_at=self.run["started_at"],
            )
        else:
            await self.executor.end(
                self.run_id,
                "completed",
                execution=self.execution,
                unsaved=self.unsaved(),
                started_at=self.run["started_at"],
            )

    async def _require_action(self, step_usage: dict[str, int]) -> None:
        assert self.tool_step is not None
        if any(not call["name"] for call in self.calls.values()):
            raise ProviderFailure(
                "server_error", "The model provider sent a tool call without a function name."
            )
        self.tool_step = {**self._tool_step_now(), "usage": step_usage}
        wanted = self._tool_calls(with_output=False)
        said = "".join(self.text) if self.message is not None else ""
        self.execution["transcript"] = [
            *self.execution.get("transcript", []),
            {"role": "assistant", "content": said or None, "tool_calls": wanted},
        ]
        spent = self._spent_budget()
        if spent is not None:  # no budget left to go on after the tool outputs
            await self.executor.end(
                self.run_id,
                "incomplete",
                incomplete_details={"reason": spent},
                execution=self.execution,
                unsaved=self.unsaved(),
                started_at=self.run["started_at"],
            )
            return
        self.execution["tool_step_id"] = self.tool_step["id"]
        unsaved = self.unsaved()

        async def work(conn: AsyncConnection) -> dict[str, Any]:
            row = await self.executor.own(conn, self.run_id)
            await messages.insert_in(conn, self.tenant, unsaved.messages)
            for step in unsaved.steps:
                await run_steps.insert(conn, self.tenant, step)
            run = {
                **row.body,
                "started_at": row.body["started_at"] or self.run["started_at"],
                "status": "requires_action",
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
            self.publish("thread.run.requires_action", run)

        await self.executor.write(work, committed)
