"""Object IDs with OpenAI's prefixes."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, sep: str = "_", length: int = 24) -> str:
    """`prefix` + `sep` + `length` random base62 characters, e.g. `asst_abc…`, `file-abc…`."""
    return prefix + sep + "".join(secrets.choice(_ALPHABET) for _ in range(length))
