"""The cgroup layer's own decisions, on directories laid out like cgroup mounts (this machine
mounts cgroup v1 only, so v2 cannot run for real here): which of v2, v1 or none is chosen,
what is written to enable the controllers, which limit files get which values, and what is
read back (OOM kills, CPU time) and written to kill. A unit test of our code, not of the
kernel: a real v2 hierarchy makes its control files itself, refuses writes this one accepts
and kills on `cgroup.kill`; test_limits.py checks the limits on the host's real cgroups."""

from __future__ import annotations

from pathlib import Path

from openai_assistant_mcp.engine.sandbox.cgroups import (
    OVERHEAD_TASKS,
    PARENT,
    CgroupHost,
    Mount,
    choose,
)

MIB = 1 << 20


def _v2_layout(root: Path, controllers: str, delegated: str = "") -> Path:
    """A cgroup2 mount at `root` with the server in /server.slice/engine; returns its group."""
    own = root / "server.slice" / "engine"
    (own / PARENT).mkdir(parents=True)
    (own / "cgroup.controllers").write_text(controllers + "\n")
    (own / "cgroup.subtree_control").write_text("")
    (own / PARENT / "cgroup.subtree_control").write_text(delegated)
    return own


def _v2_mount(root: Path) -> Mount:
    return ("/", str(root), "cgroup2", {"rw", "nsdelegate"})


V2_GROUPS = {"": "/server.slice/engine"}


def test_v2_is_chosen_and_the_controllers_delegated(tmp_path: Path) -> None:
    own = _v2_layout(tmp_path, "cpuset cpu io memory pids")
    host = choose([_v2_mount(tmp_path)], V2_GROUPS)
    assert isinstance(host, CgroupHost), host
    assert host.version == 2
    assert host.memory == host.pids == host.cpu == own / PARENT
    # Enabled in the server's group (for its new child) and in that child (for the sessions).
    assert (own / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (own / PARENT / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert host.describe() == f"cgroup v2 (memory, pids, cpu time) under {own}"


def test_v2_session_limits_counters_and_kill(tmp_path: Path) -> None:
    own = _v2_layout(tmp_path, "memory pids")
    host = choose([_v2_mount(tmp_path)], V2_GROUPS)
    assert isinstance(host, CgroupHost)
    group = host.create(512 * MIB, 32)
    (directory,) = group.dirs
    assert directory.parent == own / PARENT
    assert group.procs_files == [str(directory / "cgroup.procs")]
    assert (directory / "memory.max").read_text() == str(512 * MIB)
    assert (directory / "memory.swap.max").read_text() == "0"
    assert (directory / "pids.max").read_text() == str(32 + OVERHEAD_TASKS)
    assert not (directory / "memory.limit_in_bytes").exists()  # no v1 file in a v2 group

    (directory / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n")
    (directory / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    assert group.oom_kills() == 2
    assert group.cpu_seconds() == 2.5
    (directory / "cgroup.procs").write_text("")
    assert group.remove() is True  # seen empty
    assert (directory / "cgroup.kill").read_text() == "1"


def test_v2_already_delegated_is_left_as_it_is(tmp_path: Path) -> None:
    own = _v2_layout(tmp_path, "memory pids", delegated="memory pids")
    host = choose([_v2_mount(tmp_path)], V2_GROUPS)
    assert isinstance(host, CgroupHost) and host.version == 2
    assert (own / "cgroup.subtree_control").read_text() == ""  # nothing written


def _v1_mounts(root: Path) -> list[Mount]:
    mounts = []
    for name, options in (("memory", "memory"), ("pids", "pids"), ("cpu,cpuacct", "cpu,cpuacct")):
        (root / name / "docker" / "engine").mkdir(parents=True)
        mounts.append(("/docker/engine", str(root / name), "cgroup", {"rw", *options.split(",")}))
    return mounts


V1_GROUPS = {"memory": "/docker/engine", "pids": "/docker/engine", "cpuacct": "/docker/engine"}


def test_v1_is_chosen_when_v2_lacks_the_controllers(tmp_path: Path) -> None:
    _v2_layout(tmp_path / "unified", "cpu io")  # a hybrid host's v2 without memory and pids
    mounts = [_v2_mount(tmp_path / "unified"), *_v1_mounts(tmp_path)]
    host = choose(mounts, {"": "/server.slice/engine", **V1_GROUPS, "cpu": "/docker/engine"})
    assert isinstance(host, CgroupHost), host
    assert host.version == 1
    # The mount root is the server's own group (as in a container): parents go right in it.
    assert host.memory == tmp_path / "memory" / PARENT
    assert host.pids == tmp_path / "pids" / PARENT
    assert host.cpu == tmp_path / "cpu,cpuacct" / PARENT
    group = host.create(256 * MIB, 8)
    memory, pids, cpu = group.dirs
    assert (memory / "memory.limit_in_bytes").read_text() == str(256 * MIB)
    assert (memory / "memory.memsw.limit_in_bytes").read_text() == str(256 * MIB)
    assert (pids / "pids.max").read_text() == str(8 + OVERHEAD_TASKS)
    assert not (memory / "memory.max").exists()
    assert len(group.procs_files) == 3  # a process joins every hierarchy
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 4\n")
    (cpu / "cpuacct.usage").write_text("1500000000\n")
    assert group.oom_kills() == 4
    assert group.cpu_seconds() == 1.5


def test_v2_not_delegated_falls_back_to_v1_or_says_why(tmp_path: Path) -> None:
    own = _v2_layout(tmp_path / "unified", "memory pids")
    # The server's group refuses to delegate (a file the kernel would refuse to write: here a
    # directory in its place).
    (own / "cgroup.subtree_control").unlink()
    (own / "cgroup.subtree_control").mkdir()
    mounts = [_v2_mount(tmp_path / "unified")]
    reason = choose(mounts, V2_GROUPS)
    assert isinstance(reason, str)
    assert reason.startswith("cgroup v2 not delegated to the server (")
    assert "neither cgroup v2 nor cgroup v1 memory and pids controllers are mounted" in reason
    host = choose([*mounts, *_v1_mounts(tmp_path)], {**V2_GROUPS, **V1_GROUPS})
    assert isinstance(host, CgroupHost) and host.version == 1


def test_no_cgroup_mounts_say_so(tmp_path: Path) -> None:
    reason = choose([], {"": "/"})
    assert reason == (
        "no cgroup v2 hierarchy with the memory and pids controllers; "
        "neither cgroup v2 nor cgroup v1 memory and pids controllers are mounted"
    )
