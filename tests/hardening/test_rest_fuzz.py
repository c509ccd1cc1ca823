"""The REST API fuzzed against the shared OpenAPI spec with schemathesis, over a real socket
(`openai-assistant-mcp api` in its own process, guards on): requests valid and invalid per the
spec, some aimed at real objects; no answer may be a server error (5xx) or break the spec's
response schema."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import httpx2
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.hardening.conftest import ServerPool
from tests.mcp.servers import ServerProcess
from tests.support.spec import load_spec

EXAMPLES = 300
HEADERS = {"Authorization": "Bearer sk-schemathesis", "OpenAI-Beta": "assistants=v2"}


@pytest.fixture(scope="module")
def api(pool: ServerPool) -> ServerProcess:
    return pool.get("open-api")


def _real_ids(base: str) -> dict[str, str]:
    """One of each object, so generated requests also reach existing ones."""
    with httpx2.Client(base_url=base, headers=HEADERS, timeout=60) as http:
        assistant = http.post("/assistants", json={"model": "m"}).json()
        thread = http.post("/threads", json={"messages": [{"role": "user", "content": "hi"}]})
        thread_id = thread.json()["id"]
        message = http.get(f"/threads/{thread_id}/messages").json()["data"][0]
        run = http.post(f"/threads/{thread_id}/runs", json={"assistant_id": assistant["id"]})
        run_id = run.json()["id"]
        for _ in range(200):  # the scripted provider answers at once
            if http.get(f"/threads/{thread_id}/runs/{run_id}").json()["status"] == "completed":
                break
        step = http.get(f"/threads/{thread_id}/runs/{run_id}/steps").json()["data"][0]
    return {
        "assistant_id": assistant["id"],
        "thread_id": thread_id,
        "message_id": message["id"],
        "run_id": run_id,
        "step_id": step["id"],
    }


def test_rest_api_fuzzed_against_the_spec(api: ServerProcess) -> None:
    base = api.url("/v1")
    # The spec as the project's own response checks read it (tests/support/spec.py): with its
    # errata, e.g. an empty page's first_id/last_id are null, as OpenAI answered.
    spec = copy.deepcopy(load_spec())
    schema = schemathesis.openapi.from_dict(spec).exclude(path="/chat/completions")
    ids = _real_ids(base)
    strategy = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE),
        schema.as_strategy(GenerationMode.POSITIVE, path_parameters=ids),
        schema.as_strategy(GenerationMode.NEGATIVE),
    )
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    session = requests.Session()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one_request(case: Any) -> None:
        try:
            response = case.call(base_url=base, session=session, headers=HEADERS, timeout=30)
        except requests.RequestException as exc:
            failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}")
            return
        statuses[response.status_code] += 1
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except Exception as exc:  # a check failed: note it, keep fuzzing
            text = " ".join(str(exc).split())[:400]
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {text}"
            )

    one_request()
    total = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"\nschemathesis: {total} requests over {len(list(schema.get_all_operations()))} "
        f"operations, {server_errors} server errors, {len(failures)} failed checks; statuses "
        + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    )
    assert failures == [], "\n".join(failures[:15])
    assert server_errors == 0 and total >= EXAMPLES * 0.9
