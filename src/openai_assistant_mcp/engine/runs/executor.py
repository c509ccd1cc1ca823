"""Executes runs in-process as asyncio tasks, one provider turn per task.

A run is claimed by the process that created it (or was given its tool outputs) with a lease
in the database; while it executes, a poller renews the lease, notices a cancel written by any
process, and sweeps up runs nobody executes (a lease that ran out: their process died). Every
write checks the lease, so a run is executed by exactly one process.

One turn (`turn.py`) per task: from queued to an end, or to `requires_action` to wait for tool
outputs (the next turn is a new task). The caller's API key lives only in the task's memory:
a run taken over after a restart goes on only if it may use the server's own key (see
`key_for`), else it ends `failed` saying so."""

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
from ..services import run_steps
from ..services.run_end import Unsaved, finish
from ..state import EngineState
from ..store import repository
from ..store.database import unavailable_reason
from ..store.repository import Prepared, RunRow
from ..tenancy import DEFAULT_TENANT
from .builtin import BuiltinTools
from .durable_end import DurableEnd, storage_error
from .events import RunEvents, Subscription
from .host import KEY_GONE, CancelRequested, RunGone, TurnFailure
from .lifecycle import TERMINAL, RunStatus, run_event, step_event
from .turn import Turn

log = logging.getLogger(__name__)
T = TypeVar("T")


class RunExecutor:
    """Runs' executor for one engine process (see the module docstring)."""

    def __init__(
        self,
        services: EngineState,
        provider: ChatProvider,
        tools: BuiltinTools,
        *,
        server_tenant: str | None = None,
    ) -> None:
        self.services = services  # the engine it executes runs for (built-in tools use it)
        self.settings = services.settings
        self.db = services.db
        self.provider = provider
        self.tools = tools  # the built-in tools its runs execute (engine/builtin_tools.py)
        # The tenant whose key is the server's own (OPENAI_API_KEY): its runs may use it.
        self.server_tenant = server_tenant
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.events = RunEvents()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stop_reason: dict[str, str] = {}
        self._writes: set[asyncio.Task[Any]] = set()
        # Runs whose local turn stored requires_action (giving up the lease) and is on its
        # way out: the heartbeat must not take the missing lease for a lost run.
        self._released: set[str] = set()
        # Ends stored in spite of passing storage failures (see durable_end.py).
        self.end_durably = DurableEnd(self.end, self.settings.run_end_retry_seconds)
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
        await self.tools.close()

    @property
    def active(self) -> list[str]:
        return list(self._tasks)

    def keyless_allowed(self, tenant: str) -> bool:
        """Whether a turn of `tenant`'s run may go on without the caller's key: only the
        default tenant (no key) and the tenant of the server's own key - never another."""
        return tenant in (DEFAULT_TENANT, self.server_tenant)

    def key_for(self, tenant: str, caller_key: str | None) -> str | None:
        """The key a turn of `tenant`'s run calls the provider with: the caller's, else the
        server's own only where `keyless_allowed`."""
        if caller_key:
            return caller_key
        return self.provider.server_key if self.keyless_allowed(tenant) else None

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
                await end(RunStatus.CANCELLED)
        except CancelRequested:
            await end(RunStatus.CANCELLED)
        except TimeoutError:
            await end(RunStatus.EXPIRED)
        except (ProviderFailure, TurnFailure) as failure:
            error = {"code": failure.code, "message": failure.message}
            await end(RunStatus.FAILED, last_error=error)
        except RunGone:
            pass
        except Exception as exc:
            # The type only: an exception's text could carry request data.
            log.error("run %s failed: %s", run_id, type(exc).__name__)
            storage_reason = unavailable_reason(exc)
            error = {"code": "server_error", "message": "The engine failed executing this run."}
            if storage_reason is not None:
                error = storage_error(storage_reason)
            await end(RunStatus.FAILED, last_error=error)
        finally:
            if self._tasks.get(run_id) is asyncio.current_task():
                self._stop_reason.pop(run_id, None)
                self._released.discard(run_id)
                del self._tasks[run_id]
            if subscription is not None:
                subscription.finish()

    async def _end_quietly(self, run_id: str, status: str, **details: Any) -> None:
        try:
            await self.end_durably(run_id, status, **details)
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

        async def work(
            conn: AsyncConnection,
        ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
            row = await self.own(conn, run_id, allow_cancelling=True)
            if row.status == RunStatus.CANCELLING:
                return await finish(
                    conn,
                    row,
                    RunStatus.CANCELLED,
                    execution=execution,
                    unsaved=unsaved,
                    started_at=started_at,
                )
            return await finish(
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
        include = (execution or {}).get("include")
        self.publish_end(body, [run_steps.visible(step, include) for step in steps], closed)
        return body

    def publish_end(
        self, run: dict[str, Any], steps: list[dict[str, Any]], closed: list[dict[str, Any]]
    ) -> None:
        for message in closed:
            self.events.publish(run["id"], "thread.message.incomplete", message)
        for step in steps:
            self.events.publish(run["id"], step_event(step["status"]), step)
        self.events.publish(run["id"], run_event(run["status"]), run)

    async def own(
        self, conn: AsyncConnection, run_id: str, *, allow_cancelling: bool = False
    ) -> RunRow:
        """The run's row, locked, if this process still holds it."""
        row = await repository.get_run(conn, run_id, lock=True)
        return self.check_held(run_id, row, allow_cancelling=allow_cancelling)

    def check_held(
        self, run_id: str, row: RunRow | None, *, allow_cancelling: bool = False
    ) -> RunRow:
        if row is None or row.lease_owner != self.owner or row.status in TERMINAL:
            raise RunGone(run_id)
        if row.status == RunStatus.CANCELLING and not allow_cancelling:
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
                for run_id in list(self.end_durably.unwritten):
                    await self.end_durably.retry(run_id)
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
            if status == RunStatus.CANCELLING:
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
        if row.id in self.end_durably.unwritten:  # its end is known here: storage failed
            await self.end_durably.retry(row.id)
        elif row.status == RunStatus.CANCELLING:
            await self.end(row.id, RunStatus.CANCELLED)
        elif expires_at is not None and expires_at <= now_s:
            await self.end(row.id, RunStatus.EXPIRED)
        elif row.status == RunStatus.REQUIRES_ACTION:  # not yet expired: leave it, unowned
            await self.write(lambda conn: self._release_waiting(conn, row.id))
        elif self.keyless_allowed(row.tenant):
            self.launch(row.id, None)  # the interrupted turn starts again (nothing was stored)
        else:  # the caller's key died with the process: never borrow the server's
            error = {"code": "server_error", "message": KEY_GONE}
            await self.end(row.id, RunStatus.FAILED, last_error=error)

    async def _release_waiting(self, conn: AsyncConnection, run_id: str) -> None:
        row = await self.own(conn, run_id)
        if row.status == RunStatus.REQUIRES_ACTION:
            await repository.save_run(conn, row.body, lease_owner=None, lease_expires_at=None)
