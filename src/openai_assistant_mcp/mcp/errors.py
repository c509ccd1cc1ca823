"""What a caller is told when a tool call fails: one line naming the cause, with no key in it."""

from __future__ import annotations

import os


def describe_error(exc: BaseException) -> str:
    """One line naming the cause of a failed API call."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        message = (error.get("message") if isinstance(error, dict) else None) or exc.message
        return f"Assistants API error {exc.status_code}: {message}"
    if isinstance(exc, openai.APIConnectionError):
        reason = _refusal_reason(exc)
        if reason:  # checked first: aiohttp reports a refused connection as a connect time-out
            return f"Could not reach the Assistants API ({reason})."
        if isinstance(exc, openai.APITimeoutError):
            return "The Assistants API did not answer in time."
        cause = exc.__cause__ or exc
        return f"Could not reach the Assistants API ({type(cause).__name__})."
    if isinstance(exc, openai.APIError):
        return f"Assistants API error: {exc.message}"
    # Failures the SDK lets through unwrapped: a body that is not JSON (or was cut short), and
    # a response stream that broke off.
    import json

    import httpx2

    if isinstance(exc, json.JSONDecodeError):
        return "The Assistants API sent a malformed response (not valid JSON)."
    if isinstance(exc, httpx2.TimeoutException):
        return "The Assistants API did not answer in time."
    if isinstance(exc, httpx2.TransportError):
        return f"The connection to the Assistants API broke off ({type(exc).__name__})."
    return f"Internal error ({type(exc).__name__}); the server log has details."


def _refusal_reason(exc: BaseException) -> str | None:
    """The OS's reason a connection could not be made ("Connection refused"), if that is the
    cause of `exc`; None for time-outs and other failures."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError) and cause.errno:
            return os.strerror(cause.errno)
        cause = cause.__cause__
    return None
