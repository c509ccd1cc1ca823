"""The stdio handshake answered before the MCP SDK is loaded: its import (~0.6 s of CPU here,
mostly its pydantic models) would otherwise stand between a client's `initialize` (or
`server/discover`) and the answer.

The answer is the SDK's own, recorded: the first time a client's handshake is seen, the SDK
answers it and the answer is kept in DATA_DIR (remote mode, which keeps no data there: the
user's cache dir), keyed by the request, minus the client's name, and by this package's and
the SDK's versions. On later starts the kept answer goes out at
once while the SDK loads; the request is then handed to the SDK all the same (its session
learns the client's capabilities from it), and its answer, not sent again, replaces the kept
one should it differ.
"""

from __future__ import annotations

import json
import logging
import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HANDSHAKE_METHODS = ("initialize", "server/discover")
FILE_NAME = "mcp-handshake.json"
MAX_KEPT = 32  # distinct handshakes kept (clients send the same one each time)


def handshake_key(message: Any) -> str | None:
    """The key of a handshake request (None for any other message)."""
    if not isinstance(message, dict) or message.get("method") not in HANDSHAKE_METHODS:
        return None
    if "id" not in message or not isinstance(message.get("params", {}), dict):
        return None
    params = {k: v for k, v in (message.get("params") or {}).items() if k != "clientInfo"}
    meta = params.get("_meta")
    if isinstance(meta, dict):  # the modern protocol's client info travels in _meta
        params["_meta"] = {k: v for k, v in meta.items() if not k.endswith("clientInfo")}
    versions = [version("openai-assistant-mcp"), version("mcp")]
    return json.dumps([message["method"], params, versions], sort_keys=True)


class KeptAnswers:
    """The SDK's handshake answers, kept in one small JSON file."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def _load(self) -> dict[str, Any]:
        try:
            kept = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return kept if isinstance(kept, dict) else {}

    def get(self, key: str) -> Any:
        return self._load().get(key)

    def put(self, key: str, result: Any) -> None:
        kept = self._load()
        kept.pop(key, None)
        kept[key] = result
        while len(kept) > MAX_KEPT:
            kept.pop(next(iter(kept)))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(kept))
            temporary.replace(self.path)
        except OSError as exc:  # a read-only data dir: every start waits for the SDK
            log.debug("handshake answer not kept: %s", exc)


class Handshake:
    """One stdio session's first message: answered early if an answer is kept, and the SDK's
    own answer to it recognised on the way out (kept; not sent twice)."""

    def __init__(self, line: str | None, kept: KeptAnswers) -> None:
        self.kept = kept
        self.key: str | None = None
        self.id: Any = None
        self.early: str | None = None  # the line sent before the SDK loaded
        self.pending = line is not None
        if line is None:
            return
        try:
            message = json.loads(line)
        except ValueError:
            return
        self.key = handshake_key(message)
        if self.key is None:
            return
        self.id = message["id"]
        result = kept.get(self.key)
        if result is not None:
            self.early = json.dumps(
                {"jsonrpc": "2.0", "id": self.id, "result": result}, separators=(",", ":")
            )

    def outgoing(self, text: str) -> str | None:
        """What to write for the SDK's message `text` (None: nothing, it was answered early)."""
        if self.key is None or not self.pending:
            return text
        try:
            message = json.loads(text)
        except ValueError:
            return text
        if message.get("id") != self.id or ("result" not in message and "error" not in message):
            return text
        self.pending = False
        if "result" in message:
            kept = json.loads(self.early)["result"] if self.early else None
            if message["result"] != kept:
                self.kept.put(self.key, message["result"])
                if kept is not None:
                    log.info("the kept handshake answer was out of date; replaced")
        return None if self.early else text
