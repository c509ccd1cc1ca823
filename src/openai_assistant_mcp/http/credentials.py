"""Caller credentials, in one place: the bearer of `Authorization`, the caller's key in
`X-OpenAI-API-Key`, what a usable key looks like, and keys kept out of any text shown."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .asgi import Scope, header

KEY_HEADER = "x-openai-api-key"
KEY_MAX_LENGTH = 256
_KEY_CHARACTERS = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}")
# Key-shaped words (OpenAI's sk-/rk-/pk- keys, "key-..."), possibly partly masked, as they can
# appear in upstream error messages.
_KEY_LIKE = re.compile(r"\b(sk|rk|pk|key)[-_][A-Za-z0-9_\-*.]{3,}", re.IGNORECASE)


def bearer(value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (None for another scheme)."""
    scheme, _, token = (value or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def caller_key(headers: Mapping[str, str] | None) -> str | None:
    """The caller's key: `X-OpenAI-API-Key`, else `Authorization: Bearer <key>`."""
    if headers is None:
        return None
    key = (headers.get(KEY_HEADER) or "").strip()
    return key or bearer(headers.get("authorization"))


def key_refusal(scope: Scope) -> str | None:
    """Why the caller's key headers cannot be used (None when they can): a key is printable
    ASCII, at most KEY_MAX_LENGTH characters, as it must go on to the provider in a header."""
    keys = [("X-OpenAI-API-Key", (header(scope, KEY_HEADER.encode()) or "").strip())]
    authorization = header(scope, b"authorization")
    if authorization is not None:
        keys.append(("Authorization", bearer(authorization) or ""))
    for name, key in keys:
        if key and not _KEY_CHARACTERS.fullmatch(key):
            return (
                f"Invalid {name} header: an API key is printable ASCII without spaces, at most "
                f"{KEY_MAX_LENGTH} characters."
            )
    return None


def redact(text: str, key: str | None) -> str:
    """`text` on one line, without `key` or anything shaped like a key."""
    if key:
        text = text.replace(key, "***")
    return _KEY_LIKE.sub(r"\1-***", " ".join(text.split()))
