"""The Docker image's install steps, run on the host: the locked runtime dependencies alone,
without dev tools, install a working server. Plus the Dockerfile's promises, read from the file.
(The image itself is built and run by scripts/docker_ci.sh: tests/docker.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.mcp.servers import server_env
from tests.mcp.workflow import call

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_dockerfile_install_steps_give_a_working_server(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    # The very command the image runs, with the environment in a scratch directory.
    # The build stage's last step installs the project (the one before, only its dependencies).
    install = re.findall(r"/opt/uv/bin/(uv sync [^\\\n]+)", DOCKERFILE)[-1]
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_COMPILE_BYTECODE": "0"}
    done = subprocess.run(
        install.split(), cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    installed = sorted(p.name for p in (venv / "lib").glob("python3*/site-packages/*"))
    assert not any(name.startswith(("pytest", "ruff", "hypothesis")) for name in installed)

    command = str(venv / "bin" / "openai-assistant-mcp")
    image_env = server_env(tmp_path / "data", HOST="0.0.0.0", PORT="8662")

    async def use() -> None:
        params = StdioServerParameters(command=command, env=image_env)
        with anyio.fail_after(60):
            async with Client(params) as client:
                made = await call(client, "create_assistant", {"model": "m", "name": "in image"})
                assert made["name"] == "in image"

    anyio.run(use)
    assert (tmp_path / "data" / "assistants.db").exists()


def test_dockerfile_promises() -> None:
    assert re.search(r"^USER app$", DOCKERFILE, re.M)  # not root
    assert re.search(r"^VOLUME /data$", DOCKERFILE, re.M)
    assert "DATA_DIR=/data" in DOCKERFILE and "HOST=0.0.0.0" in DOCKERFILE
    assert "PORT=8662" in DOCKERFILE and "EXPOSE 8662" in DOCKERFILE
    assert not re.search(r"^ENV.*TRANSPORT", DOCKERFILE, re.M)  # stdio stays the default
    assert 'ENTRYPOINT ["openai-assistant-mcp"]' in DOCKERFILE
    # Builds wherever the base is reachable: uv comes from PyPI, not from a ghcr.io image.
    assert re.search(r"^ARG BASE_IMAGE=python:3\.\d+-slim$", DOCKERFILE, re.M)
    assert not re.search(r"--from=\S*/", DOCKERFILE)  # nothing copied from a registry image
