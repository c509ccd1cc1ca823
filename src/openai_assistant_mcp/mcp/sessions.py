"""Room for MCP sessions (streamable HTTP) and SSE streams: a total cap, a cap per client, and
eviction, so a flood of idle sessions cannot lock a real client out.

Opening a session is free (no key needed on a server without a token), so a full table does
not refuse newcomers: it closes an idle session to make room. The one closed is the client's
own when that client is at its cap, else anyone's; sessions that never made a request after
opening go first (oldest first), then the least recently used. A session serving a request is
never closed; when every one is busy, the newcomer is refused (503).

A client is a peer address together with the credential it presents (a digest of it), so a
client with a key of its own is not counted with anonymous ones from the same address.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def client_of(scope: Mapping[str, Any]) -> str:
    """Who opens a session: the peer's address and a digest of its key or token headers."""
    peer = (scope.get("client") or ("?",))[0]
    credential = b""
    for name, value in scope.get("headers", ()):
        if name in (b"authorization", b"x-openai-api-key"):
            credential += name + b"=" + value + b";"
    return f"{peer}/{hashlib.sha256(credential).hexdigest()[:16]}"


@dataclass
class Entry:
    client: str
    close: Callable[[], None]
    busy: Callable[[], bool] = lambda: False
    on_use: Callable[[], None] = lambda: None
    opened: float = field(default_factory=time.monotonic)
    last_used: float = 0.0  # 0: no request since it opened

    def eviction_order(self) -> tuple[bool, float]:
        return (self.last_used > 0, self.last_used or self.opened)


class SessionTable:
    """Open sessions (or streams) by ID, with the caps and eviction of the module docstring."""

    def __init__(self, limit: int, per_client: int) -> None:
        self.limit = limit
        self.per_client = per_client
        self.entries: dict[str, Entry] = {}

    def admit(self, key: str, entry: Entry) -> bool:
        """Make room for `entry` (closing idle sessions as needed) and add it; False when
        there is no room (every candidate busy)."""
        mine = [k for k, e in self.entries.items() if e.client == entry.client]
        if len(mine) >= self.per_client and not self._evict(mine):
            return False
        if len(self.entries) >= self.limit and not self._evict(list(self.entries)):
            return False
        self.entries[key] = entry
        return True

    def touch(self, key: str) -> None:
        entry = self.entries.get(key)
        if entry is not None:
            entry.last_used = time.monotonic()
            entry.on_use()

    def remove(self, key: str) -> None:
        self.entries.pop(key, None)

    def count(self, client: str) -> int:
        return sum(1 for e in self.entries.values() if e.client == client)

    def _evict(self, keys: list[str]) -> bool:
        idle = [k for k in keys if not self.entries[k].busy()]
        if not idle:
            return False
        victim = min(idle, key=lambda k: self.entries[k].eviction_order())
        self.entries.pop(victim).close()
        return True
