"""Sessions on the real bubblewrap sandbox: notebook state, limits as output, restarts,
idle time-out and the cap on live sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings
from openai_assistant_mcp.engine.sandbox.disk import mounts_under


async def test_state_persists_and_last_expression_prints(sandbox: Sandbox) -> None:
    first = await sandbox.pool.execute("t1", "x = 6 * 7\nprint('set')\nx")
    assert first.logs() == "set\n42"
    second = await sandbox.pool.execute("t1", "x + 1")
    assert second.logs() == "43"


async def test_exception_is_a_traceback_and_the_session_goes_on(sandbox: Sandbox) -> None:
    await sandbox.pool.execute("t1", "keep = 'kept'")
    failed = await sandbox.pool.execute("t1", "def f():\n    return 1 / 0\nf()")
    assert "ZeroDivisionError: division by zero" in failed.logs()
    assert "driver" not in failed.logs()  # the user sees their code's frames only
    syntax = await sandbox.pool.execute("t1", "def (:")
    assert "SyntaxError" in syntax.logs()
    assert (await sandbox.pool.execute("t1", "keep")).logs() == "'kept'"


async def test_tracebacks_are_short_and_show_the_code_s_lines(sandbox: Sandbox) -> None:
    """What a model reads to fix its code (issue 23): each line of its code that failed, the
    library's frames counted in one line (the one that raised kept), no chained exceptions."""
    setup = "import pandas as pd\ndf = pd.DataFrame({'cost': [1, 2]})\n"
    failed = (await sandbox.pool.execute("t1", setup + "df['price'].mean()")).logs()
    lines = failed.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1:3] == ['  File "<code>", line 3, in <module>', "    df['price'].mean()"]
    assert any(line.startswith("  [") and "frame" in line for line in lines)
    assert lines[-1] == "KeyError: 'price'"
    assert "During handling" not in failed and "direct cause" not in failed
    assert len(lines) < 12
    # A syntax error the compiler finds (not the parser) shows its line too.
    returned = (await sandbox.pool.execute("t1", "mean = 3\nreturn mean")).logs()
    assert returned.splitlines()[:2] == ['  File "<code>", line 2', "    return mean"]
    assert returned.splitlines()[-1] == "SyntaxError: 'return' outside function"


async def test_output_is_capped(sandbox: Sandbox, sandbox_settings: SandboxSettings) -> None:
    result = await sandbox.pool.execute("t1", "for i in range(100000):\n    print(i)")
    assert len(result.output) == sandbox_settings.output_chars
    assert result.truncated > 0 and "output truncated" in result.logs()


async def test_matplotlib_figure_becomes_png(sandbox: Sandbox) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nprint('ok')"
    result = await sandbox.pool.execute("t1", code)
    assert result.output == "ok\n"
    assert len(result.images) == 1 and result.images[0].startswith(b"\x89PNG\r\n\x1a\n")
    assert (await sandbox.pool.execute("t1", "print(1)")).images == []  # figures were closed


async def test_libraries_are_installed(sandbox: Sandbox) -> None:
    code = (
        "import numpy as np, pandas as pd, scipy\n"
        "print(pd.DataFrame({'a': np.arange(4)})['a'].sum(), scipy.__name__)"
    )
    assert (await sandbox.pool.execute("t1", code)).logs() == "6 scipy"


async def test_files_in_and_out_of_mnt_data(sandbox: Sandbox) -> None:
    path = await sandbox.pool.put_file("t1", "../../etc/data.csv", b"a,b\n1,2\n3,4\n")
    assert path == "/mnt/data/data.csv"
    code = (
        "import pandas as pd\ndf = pd.read_csv('/mnt/data/data.csv')\n"
        "df.assign(c=df.a + df.b).to_csv('/mnt/data/out.csv', index=False)\nint(df.b.sum())"
    )
    assert (await sandbox.pool.execute("t1", code)).logs() == "6"
    files = await sandbox.pool.snapshot("t1")
    assert set(files) == {b"data.csv", b"out.csv"}
    assert await sandbox.pool.read_file("t1", "out.csv", 1000) == b"a,b,c\n1,2,3\n3,4,7\n"
    assert await sandbox.pool.read_file("t1", "out.csv", 5) is None  # over the cap
    assert await sandbox.pool.read_file("t1", "missing.csv", 1000) is None


async def test_killed_interpreter_restarts_with_a_note(sandbox: Sandbox) -> None:
    await sandbox.pool.execute("t1", "lost = 1\nopen('/mnt/data/kept.txt', 'w').write('k')")
    died = await sandbox.pool.execute("t1", "import os, signal\nos.kill(os.getpid(), 9)")
    assert "interpreter ended" in died.logs()
    after = await sandbox.pool.execute("t1", "print(open('/mnt/data/kept.txt').read())\nlost")
    assert after.note and "restarted" in after.note
    assert after.output == "k\n" and "NameError" in (after.error or "")
    assert (await sandbox.pool.execute("t1", "1")).note is None  # the note is said once


async def test_idle_sessions_end(sandbox_settings: SandboxSettings, tmp_path: Path) -> None:
    box = Sandbox(sandbox_settings.model_copy(update={"idle_timeout": 0.2}), tmp_path)
    try:
        await box.pool.execute("t1", "v = 1")
        data_dir = box.pool.sessions["t1"].spec.data_dir
        # The pool's own reaper ends it (it looks every 0.1 s here): waited for, up to a minute
        # (ending a session kills its processes and removes its files: slow on a loaded box).
        for _ in range(600):
            await asyncio.sleep(0.1)
            if "t1" not in box.pool.sessions and not data_dir.exists():
                break
        assert "t1" not in box.pool.sessions and not data_dir.exists()
        assert "NameError" in (await box.pool.execute("t1", "v")).logs()
    finally:
        await box.close()
    assert mounts_under(tmp_path) == []  # each session's /mnt/data unmounted, even one being
    # ended by the idle reaper when close() cancelled it


async def test_live_sessions_are_capped_oldest_idle_first(
    sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    box = Sandbox(sandbox_settings.model_copy(update={"max_sessions": 2}), tmp_path)
    try:
        await box.pool.execute("a", "v = 'a'")
        await box.pool.execute("b", "v = 'b'")
        await box.pool.execute("a", "v")  # "b" is now the oldest idle
        await box.pool.execute("c", "v = 'c'")
        assert set(box.pool.sessions) == {"a", "c"}
        assert (await box.pool.execute("a", "v")).logs() == "'a'"
    finally:
        await box.close()


async def test_concurrent_sessions_are_independent(sandbox: Sandbox) -> None:
    results = await asyncio.gather(
        *(sandbox.pool.execute(f"t{i}", f"n = {i}\nn * 2") for i in range(4))
    )
    assert [r.logs() for r in results] == ["0", "2", "4", "6"]


async def test_a_held_session_is_never_evicted(
    sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    box = Sandbox(sandbox_settings.model_copy(update={"max_sessions": 1}), tmp_path)
    try:
        async with box.pool.hold("a") as session:
            assert (await box.pool.run(session, "1 + 1")).logs() == "2"
            refused = await box.pool.execute("b", "print('never')")
            assert "busy" in refused.logs()
        assert (await box.pool.execute("b", "print('now')")).logs() == "now"  # "a" made room
    finally:
        await box.close()


async def test_sessions_left_by_a_dead_process_are_deleted(
    sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    leftover = tmp_path / "999999999-0dead" / "0-abc"  # a pid above any pid_max
    leftover.mkdir(parents=True)
    box = Sandbox(sandbox_settings, tmp_path)
    try:
        await box.pool.execute("a", "pass")
        assert not leftover.parent.exists()
        assert box.pool.root.parent == tmp_path and box.pool.root.exists()
    finally:
        await box.close()
