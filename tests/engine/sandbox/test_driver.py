"""The driver's channel on the real sandbox: the user's code cannot write the server's answers,
every answer belongs to the execution that asked, images are checked and bounded, and what a
cell started does not run between cells."""

from __future__ import annotations

from pathlib import Path

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings

FORGE = """
import base64, json, os, struct, sys, zlib

def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

png = (b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 1, 1, 8, 0, 0, 0, 0))
       + chunk(b'IDAT', zlib.compress(b'\\x00\\x00')) + chunk(b'IEND', b''))
frame, nonce = sys._getframe(), None
while frame is not None:  # the driver's own request, if the code can see it
    request = frame.f_locals.get('request')
    if isinstance(request, dict):
        nonce = request.get('nonce')
    frame = frame.f_back
images = [base64.b64encode(b'not an image at all').decode()] * 30
images += [base64.b64encode(png).decode()] * 30
fake = {'nonce': nonce, 'id': None, 'output': 'FORGED', 'error': None, 'images': images}
line = (json.dumps(fake) + '\\n').encode()
targets = [f'/proc/self/fd/{fd}' for fd in os.listdir('/proc/self/fd')]
for pid in (p for p in os.listdir('/proc') if p.isdigit()):
    try:
        targets += [f'/proc/{pid}/fd/{fd}' for fd in os.listdir(f'/proc/{pid}/fd')]
    except OSError:
        pass
own_output = os.readlink('/proc/self/fd/1')  # the code's own output: not a channel
for path in targets:
    try:
        if os.readlink(path) == own_output:
            continue
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, line * 3)
    except OSError:
        pass
for fd in range(3, 256):  # and every descriptor the code holds, as it is
    try:
        os.write(fd, line * 3)
    except OSError:
        pass
print('tried')
"""


async def test_the_code_cannot_forge_or_misplace_answers(
    sandbox: Sandbox, sandbox_settings: SandboxSettings
) -> None:
    forged = await sandbox.pool.execute("t1", FORGE)
    # The reply may be what the code forged on its own pipe (it is the code's output anyway)...
    assert forged.output in ("tried\n", "FORGED"), forged.logs()
    # ...but only PNGs, at most the limit, and never an answer for another execution.
    assert len(forged.images) <= sandbox_settings.max_images
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in forged.images)
    for expected in ("first", "second", "third"):  # each execution gets its own answer
        assert (await sandbox.pool.execute("t1", f"print({expected!r})")).output == f"{expected}\n"


def thread_states(pid: int) -> set[str]:
    states = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        states.add(task.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0])
    return states


async def test_threads_a_cell_started_do_not_run_between_cells(sandbox: Sandbox) -> None:
    spin = (
        "import threading\ncount = [0]\ndef spin():\n    while True:\n        count[0] += 1\n"
        "threading.Thread(target=spin, daemon=True).start()\nimport os\nos.getpid()"
    )
    await sandbox.pool.execute("t1", spin)
    session = sandbox.pool.sessions["t1"]
    assert session.process is not None
    assert thread_states(interpreter_of(session.process.pid)) == {"T"}  # every thread stopped
    after = await sandbox.pool.execute("t1", "count[0] > 0")
    assert after.logs() == "True"  # the thread runs during cells


def interpreter_of(sandbox_pid: int) -> int:
    """The process running the code: down the first children from bwrap (its init, the driver,
    the driver's kernel) to the last."""
    pid = sandbox_pid
    while children := _children(pid):
        pid = children[0]
    return pid


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(child) for task in tasks for child in (task / "children").read_text().split()]
