"""The shared API client (mcp/client.py): its `beta` namespace serves the Assistants API's
resources without loading the SDK's other beta resources (agents, chatkit, realtime: memory and
start-up CPU for nothing the tools call)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Run in a fresh interpreter: this test process may have loaded any openai module already.
SCRIPT = """
import json, sys, anyio
from openai_assistant_mcp.mcp.client import call_api_key, open_api
from openai_assistant_mcp.settings import Settings

async def main():
    settings = Settings(provider_api_key="sk-client-test", data_dir=sys.argv[1])
    async with open_api(settings) as api:
        call_api_key.set("sk-client-test")
        made = await api.beta.assistants.create(model="gpt-test", name="light")
        found = await api.beta.assistants.retrieve(made.id)
        thread = await api.beta.threads.create()
        runs = await api.beta.threads.runs.list(thread.id)
        message = await api.beta.threads.messages.create(thread.id, role="user", content="hi")
    loaded = sorted(m for m in sys.modules if m.startswith("openai.resources.beta."))
    print(json.dumps({"name": found.name, "runs": len(runs.data), "message": message.thread_id
                      == thread.id, "loaded": loaded}))

anyio.run(main)
"""


def test_beta_serves_assistants_and_threads_without_the_sdks_other_beta_resources(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["name"] == "light"
    assert found["runs"] == 0
    assert found["message"] is True
    assert "openai.resources.beta.assistants" in found["loaded"]
    assert "openai.resources.beta.threads.threads" in found["loaded"]
    for other in ("beta", "agents", "chatkit", "realtime"):
        assert not any(m.startswith(f"openai.resources.beta.{other}") for m in found["loaded"]), (
            found["loaded"]
        )
