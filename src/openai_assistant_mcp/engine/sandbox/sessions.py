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
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backend import SandboxBackend, SessionSpec
from .cgroups import SessionCgroup
from .cgroups import detect as detect_cgroups
from .disk import empty, mount_tmpfs, mounts_under, unmount, usage_of
from .settings import SandboxSettings
from .uids import NoFreeUid, UidClaim, claim_uid, release_uid

log = logging.getLogger(__name__)

GRACE_SECONDS = 3.0  # beyond the driver's own alarm before the server kills the sandbox
STDERR_TAIL = 2000


class SandboxBusy(Exception):
    """Every session slot is executing code right now."""


def busy() -> Execution:
    return Execution("", error="All sandbox sessions are busy; try again shortly.")


@dataclass
class Execution:
    output: str  # stdout/stderr as the code printed them (capped)
    error: str | None = None  # traceback or limit message
    truncated: int = 0  # characters of output left out
    images: list[bytes] = field(default_factory=list)  # PNG figures
    note: str | None = None  # e.g. "the interpreter was restarted"

    def logs(self) -> str:
        """The text the model and the run step see."""
        parts = [f"[{self.note}]"] if self.note else []
        if self.output:
            parts.append(self.output.rstrip("\n"))
        if self.truncated:
            parts.append(f"[output truncated: {self.truncated} more characters not shown]")
        if self.error:
            parts.append(self.error.rstrip("\n"))
        return "\n".join(parts)


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

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None


def _safe_name(name: str) -> str:
    """A file name for /mnt/data: its last path component, never '.', '..' or empty."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].replace("\0", "")
    return base if base not in ("", ".", "..") else "file"


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
            await asyncio.to_thread(group.remove)

    async def _end(self, session: Session) -> None:
        """Stop the interpreter and delete the session's files (caller holds the guard)."""
        self.sessions.pop(session.key, None)
        await self._kill(session)
        if session.spec.data_mounted:
            await asyncio.to_thread(unmount, session.spec.data_dir)
        await asyncio.to_thread(shutil.rmtree, session.spec.data_dir, True)
        if session.uid_claim is not None:  # only once none of its processes is left
            await asyncio.to_thread(release_uid, session.uid_claim)

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
        note = None
        if not session.alive:
            if session.ended:
                note = (
                    f"The interpreter was restarted ({session.ended}): variables from earlier "
                    "executions are gone; files in /mnt/data were kept"
                )
                session.ended = None
            await self._start(session)
        s = self.settings
        request = {
            "op": "exec",
            "code": code,
            "timeout": s.exec_timeout,
            "cpu": s.cpu_seconds,
            "max_output": s.output_chars,
        }
        process = session.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        ooms = session.cgroup.oom_kills() if session.cgroup is not None else 0
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), s.exec_timeout + GRACE_SECONDS)
            answer = json.loads(line) if line else None
        except TimeoutError:
            await self._kill(session)
            session.ended = "the previous execution timed out"
            return Execution(
                "",
                error=f"Execution timed out after {s.exec_timeout:g} s and the "
                "interpreter was stopped; variables are gone",
                note=note,
            )
        except (ValueError, ConnectionError, asyncio.LimitOverrunError):
            answer = None
        over, stop = await asyncio.to_thread(self._over_limits, session, ooms)
        if not isinstance(answer, dict):
            return Execution("", error=await self._died(session, over), note=note)
        result = self._result(answer, note)
        if over:
            result.error = f"{result.error.rstrip()}\n{over}" if result.error else over
        if stop:
            await self._kill(session)
            session.ended = "the previous execution went over the session's limits"
        return result

    def _over_limits(self, session: Session, ooms: int) -> tuple[str | None, bool]:
        """What the session's limits stopped in this execution (said to the model and the run
        step, naming the limit), and whether the interpreter must be stopped."""
        s, group, spec = self.settings, session.cgroup, session.spec
        said, stop = [], False
        if group is not None and group.oom_kills() > ooms:
            said.append(
                f"A process of this execution was killed: the session's memory limit "
                f"({s.memory_mb} MiB for all its processes, /tmp and /dev/shm together, "
                "SANDBOX_MEMORY_MB) was reached"
            )
        used = group.cpu_seconds() if group is not None else None
        if used is not None and used > s.session_cpu_seconds:
            said.append(
                f"The session's CPU time limit ({s.session_cpu_seconds} s, "
                "SANDBOX_SESSION_CPU_SECONDS) was reached; the interpreter was stopped"
            )
            stop = True
        with contextlib.suppress(OSError):
            usage = usage_of(spec.data_dir, s.max_files, s.data_mb << 20, spec.data_mounted)
            if usage.full:
                said.append(
                    f"/mnt/data is full: at most {s.data_mb} MiB (SANDBOX_DATA_MB) in at most "
                    f"{s.max_files} files (SANDBOX_MAX_FILES)"
                    + ("; writes beyond that failed" if spec.data_mounted else "")
                )
            if usage.full and not spec.data_mounted:  # measured only now: it must be emptied
                empty(spec.data_dir)
                said[-1] += "; the interpreter was stopped and the files in /mnt/data deleted"
                stop = True
        return ("\n".join(said) or None), stop

    async def _died(self, session: Session, over: str | None) -> str:
        process = session.process
        await self._kill(session)
        code = process.returncode if process is not None else None
        reason = "it was killed" if code is not None and code < 0 else f"exit status {code}"
        session.ended = f"the previous interpreter ended: {reason}"
        if session.stderr_tail:
            log.info("sandbox interpreter ended (%s): %s", reason, session.stderr_tail[-500:])
        cause = over or (
            f"e.g. by exceeding the sandbox's memory ({self.settings.memory_mb} MiB) or "
            "process limits"
        )
        return (
            f"The interpreter ended while running this code ({reason}). {cause}. It will "
            "restart on the next execution without earlier variables"
        )

    def _result(self, answer: dict[str, Any], note: str | None) -> Execution:
        import base64

        images = []
        for item in answer.get("images") or []:
            with contextlib.suppress(ValueError, TypeError):
                images.append(base64.b64decode(item, validate=True))
        limit = self.settings.output_chars
        output = answer.get("output")
        error = answer.get("error")
        return Execution(
            output=output[:limit] if isinstance(output, str) else "",
            error=error[:limit] if isinstance(error, str) else None,
            truncated=truncated if isinstance(truncated := answer.get("truncated"), int) else 0,
            images=images,
            note=note,
        )

    # --- files in /mnt/data (host side; never following the sandbox's symlinks) --------

    async def put_file(self, key: str, name: str, data: bytes) -> str:
        async with self.hold(key) as session:
            return await self.write_into(session, name, data)

    async def snapshot(self, key: str) -> dict[str, tuple[int, int]]:
        async with self.hold(key) as session:
            return await self.scan(session)

    async def read_file(self, key: str, name: str, max_bytes: int) -> bytes | None:
        async with self.hold(key) as session:
            return await self.read_from(session, name, max_bytes)

    async def write_into(self, session: Session, name: str, data: bytes) -> str:
        """Place a file in the held session's /mnt/data; returns its path there."""
        name = _safe_name(name)
        await asyncio.to_thread(self._write, session.spec, name, data)
        return f"/mnt/data/{name}"

    @staticmethod
    def _write(spec: SessionSpec, name: str, data: bytes) -> None:
        directory = os.open(spec.data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=directory)  # whatever the code left there, even a link
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(name, flags, 0o644, dir_fd=directory)
            with os.fdopen(fd, "wb") as target:
                target.write(data)
                if os.getuid() == 0:
                    os.fchown(target.fileno(), spec.uid, spec.gid)
        finally:
            os.close(directory)

    async def scan(self, session: Session) -> dict[str, tuple[int, int]]:
        """Regular files directly in the held session's /mnt/data: name -> (size, mtime_ns)."""
        return await asyncio.to_thread(self._scan, session.spec)

    @staticmethod
    def _scan(spec: SessionSpec) -> dict[str, tuple[int, int]]:
        found = {}
        with os.scandir(spec.data_dir) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    found[entry.name] = (info.st_size, info.st_mtime_ns)
        return found

    async def read_from(self, session: Session, name: str, max_bytes: int) -> bytes | None:
        """A regular file's bytes from /mnt/data, or None (missing, not a file, too large)."""
        return await asyncio.to_thread(self._read, session.spec, _safe_name(name), max_bytes)

    @staticmethod
    def _read(spec: SessionSpec, name: str, max_bytes: int) -> bytes | None:
        directory = os.open(spec.data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
            fd = os.open(name, flags, dir_fd=directory)
        except OSError:
            return None
        finally:
            os.close(directory)
        with os.fdopen(fd, "rb") as source:
            info = os.fstat(source.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
                return None
            return source.read(max_bytes + 1)[:max_bytes]
