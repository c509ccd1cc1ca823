"""Live interpreter sessions, one per thread: started on first use, kept warm between
executions, ended after an idle time-out or when the cap on live sessions needs room.

Everything the sandboxed code does comes back as an `Execution` (never a raise): exceptions,
time-outs, memory and output limits and a dead interpreter are output text the model can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backend import SandboxBackend, SessionSpec
from .cgroups import SessionCgroup
from .cgroups import detect as detect_cgroups
from .disk import mount_tmpfs, mounts_under, unmount, usage_of
from .execution import Execution, ended, over_limits, result_from, timed_out
from .mnt_data import read_file, safe_name, scan_files, write_file
from .settings import SandboxSettings
from .uids import NoFreeUid, UidClaim, claim_uid, release_uid

log = logging.getLogger(__name__)

GRACE_SECONDS = 5.0  # beyond the driver's own deadline before the server kills the sandbox
STDERR_TAIL = 2000
# Without root /mnt/data is no tmpfs of its own: it is measured this often while code runs, so
# a session filling it is stopped within about this long of going over (plus one walk).
DATA_WATCH_SECONDS = 0.5


class SandboxBusy(Exception):
    """Every session slot is executing code right now."""


def busy() -> Execution:
    return Execution("", error="All sandbox sessions are busy; try again shortly.")


@dataclass
class Session:
    key: str
    slot: int
    spec: SessionSpec
    process: asyncio.subprocess.Process | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    ended: str | None = None  # why the last interpreter ended (shown once on restart)
    stderr_tail: bytes = b""
    drain: asyncio.Task[None] | None = None  # reads the sandbox's stderr so its pipe never fills
    placed: dict[str, str] = field(default_factory=dict)  # file_id -> its path in /mnt/data
    uid_claim: UidClaim | None = None  # the host-wide claim on spec.uid (root server)
    cgroup: SessionCgroup | None = None  # the running interpreter's limits
    files: dict[bytes, tuple[int, int]] | None = None  # /mnt/data after the last execution
    contained: bool = True  # every interpreter ran in a cgroup, seen empty when it ended
    files_lost: bool = False  # /mnt/data was emptied when the interpreter was stopped

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None


class SessionPool:
    """The sessions of one server process, keyed by (tenant, thread)."""

    def __init__(self, settings: SandboxSettings, backend: SandboxBackend, root: Path) -> None:
        self.settings = settings
        self.backend = backend
        self.shared_root = root  # several server processes may share it: each has its own dir
        self.root = root / f"{os.getpid()}-{secrets.token_hex(4)}"
        self.sessions: dict[str, Session] = {}
        self._guard = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        self._disposals: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------

    async def _session(self, key: str) -> Session:
        async with self._guard:
            session = self.sessions.get(key)
            if session is not None:
                return session
            if len(self.sessions) >= self.settings.max_sessions:
                idle = [s for s in self.sessions.values() if not s.lock.locked()]
                if not idle:
                    raise SandboxBusy
                await self._end(min(idle, key=lambda s: s.last_used))
            used = {s.slot for s in self.sessions.values()}
            slot = next(i for i in range(self.settings.max_sessions) if i not in used)
            try:
                claim, spec = await asyncio.to_thread(self._make_dir, slot)
            except NoFreeUid as error:
                log.warning("sandbox: %s", error)
                raise SandboxBusy from error
            session = Session(key, slot, spec, uid_claim=claim)
            self.sessions[key] = session
            if self._reaper is None or self._reaper.done():
                self._reaper = asyncio.create_task(self._reap_idle())
            return session

    def _make_dir(self, slot: int) -> tuple[UidClaim | None, SessionSpec]:
        claim = claim_uid(self.settings.uid_base) if os.getuid() == 0 else None
        uid, gid = (claim.uid, claim.uid) if claim is not None else (os.getuid(), os.getgid())
        try:
            return claim, self._data_dir(slot, uid, gid)
        except BaseException:
            if claim is not None:
                release_uid(claim)
            raise

    def _data_dir(self, slot: int, uid: int, gid: int) -> SessionSpec:
        if not self.root.exists():
            self.shared_root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._sweep_dead()
            self.root.mkdir(mode=0o700)
        data_dir = self.root / f"{slot}-{secrets.token_hex(8)}"
        data_dir.mkdir(mode=0o755)  # bwrap enters it as root without DAC override; root is 0700
        if os.getuid() != 0:
            return SessionSpec(data_dir=data_dir, uid=uid, gid=gid)
        os.chown(data_dir, uid, gid)
        s = self.settings
        mount_tmpfs(data_dir, s.data_mb << 20, s.max_files, uid, gid)
        return SessionSpec(data_dir=data_dir, uid=uid, gid=gid, data_mounted=True)

    def _sweep_dead(self) -> None:
        """Delete what server processes that are gone left behind (their sessions ended)."""
        for entry in self.shared_root.iterdir():
            pid = entry.name.split("-", 1)[0]
            if not pid.isdigit():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                for mount in mounts_under(entry):
                    unmount(mount)
                shutil.rmtree(entry, ignore_errors=True)
            except PermissionError:
                pass  # alive, another user's

    async def _start(self, session: Session) -> None:
        host = detect_cgroups()
        if not isinstance(host, str):
            s = self.settings
            try:
                session.cgroup = await asyncio.to_thread(
                    host.create, s.memory_mb << 20, s.max_processes
                )
            except OSError as error:
                log.warning("sandbox: no cgroup for this session: %s", error)
        if session.cgroup is None:
            session.contained = False
        join = session.cgroup.procs_files if session.cgroup is not None else []
        session.process = await self.backend.start(session.spec, join)
        session.stderr_tail = b""
        session.drain = asyncio.create_task(self._drain_stderr(session, session.process))

    async def _drain_stderr(self, session: Session, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while chunk := await process.stderr.read(4096):
            session.stderr_tail = (session.stderr_tail + chunk)[-STDERR_TAIL:]

    async def _kill(self, session: Session) -> None:
        process, session.process = session.process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()
        group, session.cgroup = session.cgroup, None
        if group is not None:  # every process of the session, and the group itself
            session.contained &= await asyncio.to_thread(group.remove)

    async def _end(self, session: Session) -> None:
        """Stop the interpreter and delete the session's files (caller holds the guard); run
        to the end even if the caller is cancelled (a mount or a uid claim must not leak)."""
        self.sessions.pop(session.key, None)
        disposal = asyncio.create_task(self._dispose(session))
        self._disposals.add(disposal)
        disposal.add_done_callback(self._disposals.discard)
        await asyncio.shield(disposal)

    async def _dispose(self, session: Session) -> None:
        await self._kill(session)
        if session.spec.data_mounted:
            await asyncio.to_thread(unmount, session.spec.data_dir)
        await asyncio.to_thread(shutil.rmtree, session.spec.data_dir, True)
        if session.uid_claim is not None:  # only once none of its processes is left
            await asyncio.to_thread(release_uid, session.uid_claim, session.contained)

    async def end(self, key: str) -> None:
        async with self._guard:
            if (session := self.sessions.get(key)) is not None:
                await self._end(session)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        async with self._guard:
            for session in list(self.sessions.values()):
                await self._end(session)
        await asyncio.gather(*self._disposals)  # also those a cancelled caller left running

    async def _reap_idle(self) -> None:
        while self.sessions:
            await asyncio.sleep(min(60.0, self.settings.idle_timeout / 2))
            await self.reap_idle()

    async def reap_idle(self) -> None:
        """End the sessions unused for longer than the idle time-out."""
        cutoff = time.monotonic() - self.settings.idle_timeout
        async with self._guard:
            for session in list(self.sessions.values()):
                if session.last_used < cutoff and not session.lock.locked():
                    await self._end(session)

    # --- execution -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[Session]:
        """The key's session (started on first use), held: it is never evicted or reaped while
        held, and one holder at a time uses it. Raises SandboxBusy when no slot can be freed."""
        while True:
            session = await self._session(key)
            await session.lock.acquire()
            if self.sessions.get(key) is session:
                break
            session.lock.release()  # ended between lookup and lock: take the new one
        try:
            yield session
        finally:
            session.last_used = time.monotonic()
            session.lock.release()

    async def execute(self, key: str, code: str) -> Execution:
        """Run `code` in the key's session (see `run`)."""
        try:
            async with self.hold(key) as session:
                return await self.run(session, code)
        except SandboxBusy:
            return busy()

    async def run(self, session: Session, code: str) -> Execution:
        """Run `code` in a held session, starting (or restarting) its interpreter."""
        session.files = None  # the code may change /mnt/data: whoever keeps a listing rescans
        note = None
        if session.ended:
            files = "were deleted" if session.files_lost else "were kept"
            note = (
                f"The interpreter was restarted ({session.ended}): variables from earlier "
                f"executions are gone; files in /mnt/data {files}"
            )
            session.ended, session.files_lost = None, False
        if not session.alive:
            await self._start(session)
        s = self.settings
        execution = secrets.token_hex(8)
        request = {
            "op": "exec",
            "id": execution,
            "code": code,
            "timeout": s.exec_timeout,
            "cpu": s.cpu_seconds,
            "max_output": s.output_chars,
            "max_images": s.max_images,
            "max_image_bytes": s.max_image_mb << 20,
        }
        process = session.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        ooms = session.cgroup.oom_kills() if session.cgroup is not None else 0
        watch = None
        if not session.spec.data_mounted:
            watch = asyncio.create_task(self._watch_data(session.spec, process))
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
            answer = await asyncio.wait_for(
                self._answer(process.stdout, execution), s.exec_timeout + GRACE_SECONDS
            )
        except TimeoutError:
            await self._kill(session)
            session.ended = "the previous execution timed out"
            return Execution("", error=timed_out(self.settings), note=note)
        except (ValueError, ConnectionError, asyncio.LimitOverrunError):
            answer = None
        finally:
            if watch is not None:
                watch.cancel()
        over, stop = await asyncio.to_thread(
            over_limits, self.settings, session.cgroup, session.spec, ooms, answer
        )
        if answer is None:
            return Execution("", error=await self._died(session, over), note=note)
        result = result_from(self.settings, answer, note)
        if died := answer.get("died"):  # the kernel ended; the sandbox starts a new one
            session.ended = f"the previous interpreter ended: {died}"
            result.error = (
                timed_out(self.settings)
                if "timed out" in str(died)
                else ended(self.settings, died, over)
            )
        elif over:
            result.error = f"{result.error.rstrip()}\n{over}" if result.error else over
        if stop:
            await self._kill(session)
            session.ended = "the previous execution went over the session's limits"
            session.files_lost = "the files in /mnt/data deleted" in (over or "")
        return result

    async def _watch_data(self, spec: SessionSpec, process: asyncio.subprocess.Process) -> None:
        """Kill the sandbox once /mnt/data (not a tmpfs: a non-root server) goes over its size
        or file count while code runs; the execution then ends as over its limits."""
        s = self.settings
        while process.returncode is None:
            await asyncio.sleep(DATA_WATCH_SECONDS)
            usage = await asyncio.to_thread(
                usage_of, spec.data_dir, s.max_files, s.data_mb << 20, False
            )
            if usage.full:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()  # bwrap dies, and with it (--die-with-parent) the session
                return

    @staticmethod
    async def _answer(stdout: asyncio.StreamReader, execution: str) -> dict[str, Any] | None:
        """The driver's answer to this execution (a line for another one is dropped); None
        when the sandbox ended."""
        while line := await stdout.readline():
            answer = json.loads(line)
            if isinstance(answer, dict) and answer.get("id") == execution:
                return answer
        return None

    async def _died(self, session: Session, over: str | None) -> str:
        """The sandbox itself ended (or answered nonsense): stopped, to start anew."""
        process = session.process
        await self._kill(session)
        code = process.returncode if process is not None else None
        reason = "it was killed" if code is not None and code < 0 else f"exit status {code}"
        session.ended = f"the previous interpreter ended: {reason}"
        if session.stderr_tail:
            log.info("sandbox interpreter ended (%s): %s", reason, session.stderr_tail[-500:])
        return ended(self.settings, reason, over)

    # --- files in /mnt/data (host side; never following the sandbox's symlinks) --------

    async def put_file(self, key: str, name: str, data: bytes) -> str:
        async with self.hold(key) as session:
            return await self.write_into(session, name, data)

    async def snapshot(self, key: str) -> dict[bytes, tuple[int, int]]:
        async with self.hold(key) as session:
            return await self.scan(session)

    async def read_file(self, key: str, name: str | bytes, max_bytes: int) -> bytes | None:
        async with self.hold(key) as session:
            return await self.read_from(session, name, max_bytes)

    async def write_into(self, session: Session, name: str, data: bytes) -> str:
        """Place a file in the held session's /mnt/data; returns its path there."""
        name = safe_name(name)
        await asyncio.to_thread(write_file, session.spec, name, data)
        session.files = None  # scanned again before the next execution
        return f"/mnt/data/{name}"

    async def scan(self, session: Session) -> dict[bytes, tuple[int, int]]:
        """Regular files directly in the held session's /mnt/data: raw name -> (size,
        mtime_ns); at most SANDBOX_MAX_FILES of them."""
        return await asyncio.to_thread(scan_files, session.spec, self.settings.max_files)

    async def read_from(self, session: Session, name: str | bytes, max_bytes: int) -> bytes | None:
        """A regular file's bytes from /mnt/data, or None (missing, not a file, too large)."""
        raw = name if isinstance(name, bytes) else os.fsencode(safe_name(name))
        return await asyncio.to_thread(read_file, session.spec, raw, max_bytes)
