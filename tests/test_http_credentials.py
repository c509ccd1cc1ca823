"""http/credentials.py: the one place keys are parsed from headers and kept out of text."""

from __future__ import annotations

from starlette.datastructures import Headers

from openai_assistant_mcp.http.credentials import bearer, caller_key, redact


def test_bearer_takes_only_the_bearer_scheme() -> None:
    assert bearer("Bearer  sk-one ") == "sk-one"
    assert bearer("bearer sk-one") == "sk-one"
    assert bearer("Basic dXNlcg==") is None
    assert bearer("Bearer ") is None and bearer(None) is None


def test_the_key_header_wins_over_the_bearer() -> None:
    both = Headers({"X-OpenAI-API-Key": " sk-header ", "Authorization": "Bearer sk-bearer"})
    assert caller_key(both) == "sk-header"
    assert caller_key(Headers({"Authorization": "Bearer sk-bearer"})) == "sk-bearer"
    assert caller_key(Headers({"X-OpenAI-API-Key": "  "})) is None
    assert caller_key(None) is None


def test_redaction_removes_the_key_and_key_shaped_words_on_one_line() -> None:
    key = "sk-caller-secret"
    text = redact(f"bad key {key}\nalso rk_live_abcdef and KEY-123456", key)
    assert "\n" not in text
    for secret in ("sk-caller-secret", "rk_live_abcdef", "KEY-123456"):
        assert secret not in text
    assert redact("nothing to hide here", None) == "nothing to hide here"
