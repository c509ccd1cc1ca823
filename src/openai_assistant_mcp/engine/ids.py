"""Object IDs with OpenAI's prefixes."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """`prefix` + '_' + 24 random base62 characters, e.g. `asst_abc…`."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))
