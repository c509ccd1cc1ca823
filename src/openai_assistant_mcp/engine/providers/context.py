"""The model's context window: PROVIDER_CONTEXT_TOKENS when set, else what the server says.

Local servers run a model with a window set at start (llama.cpp's default 2048 or 4096 tokens),
far below what a file_search result list takes; a request over it fails (llama-cpp-python breaks
the stream off) instead of being fitted. Where the server reports it, it is read once per
base URL and model and kept:

- llama.cpp's `llama-server`: `GET /props` -> `default_generation_settings.n_ctx` (or `n_ctx`);
- llama-cpp-python's server and llama.cpp: `GET /v1/models` -> the model's `meta.n_ctx`;
- Ollama: `POST /api/show {"model"}` -> `num_ctx` in its `parameters` (the Modelfile's
  window); else `GET /api/ps` -> the loaded model's `context_length` (the window it runs with,
  its default or `OLLAMA_CONTEXT_LENGTH`; known once the model is loaded, so a model not loaded
  yet is asked again after RETRY_AFTER). `model_info`'s `<arch>.context_length` is the
  window the model was trained for, not the one Ollama runs: not used.

OpenAI is never asked (it has no such routes). A server that says nothing is asked again
after RETRY_AFTER seconds (it may have been starting)."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import httpx2

log = logging.getLogger(__name__)

RETRY_AFTER = 60.0
ASK_TIMEOUT = 5.0
_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.M)


class ContextWindows:
    """Context windows by model for one provider (see the module docstring)."""

    def __init__(self, base_url: str, configured: int | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.configured = configured
        self._known: dict[str, int] = {}
        self._unknown_since: dict[str, float] = {}
        self.asks = 0  # requests made to learn windows (for tests)

    @property
    def askable(self) -> bool:
        return httpx2.URL(self.base_url).host != "api.openai.com"

    async def tokens(self, model: str, api_key: str | None) -> int | None:
        """The window `model` runs with, in tokens; None when neither set nor reported."""
        if self.configured:
            return self.configured
        if model in self._known:
            return self._known[model]
        since = self._unknown_since.get(model)
        if not self.askable or (since is not None and time.monotonic() - since < RETRY_AFTER):
            return None
        found = await self._ask(model, api_key)
        if found:
            self._known[model] = found
            log.info(
                "The model %s at %s has a context window of %d tokens.", model, self.base_url, found
            )
        else:
            self._unknown_since[model] = time.monotonic()
        return found

    async def _ask(self, model: str, api_key: str | None) -> int | None:
        root = re.sub(r"/v1$", "", self.base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        async with httpx2.AsyncClient(timeout=ASK_TIMEOUT, headers=headers) as client:
            for ask in (self._props, self._models, self._ollama, self._ollama_ps):
                self.asks += 1
                try:
                    found = await ask(client, root, model)
                except (httpx2.HTTPError, ValueError, TypeError, KeyError, AttributeError):
                    continue
                if found:
                    return found
        return None

    async def _props(self, client: httpx2.AsyncClient, root: str, model: str) -> int | None:
        answer = await client.get(f"{root}/props")
        if answer.status_code != 200:
            return None
        props = answer.json()
        settings = props.get("default_generation_settings") or {}
        return _positive(settings.get("n_ctx") or props.get("n_ctx"))

    async def _models(self, client: httpx2.AsyncClient, root: str, model: str) -> int | None:
        answer = await client.get(f"{self.base_url}/models")
        if answer.status_code != 200:
            return None
        listed = [m for m in answer.json().get("data") or [] if isinstance(m, dict)]
        chosen = next((m for m in listed if m.get("id") == model), None)
        if chosen is None and len(listed) == 1:  # a one-model server answers any name
            chosen = listed[0]
        return _positive(((chosen or {}).get("meta") or {}).get("n_ctx"))

    async def _ollama(self, client: httpx2.AsyncClient, root: str, model: str) -> int | None:
        answer = await client.post(f"{root}/api/show", json={"model": model})
        if answer.status_code != 200:
            return None
        found = _NUM_CTX.search(str(answer.json().get("parameters") or ""))
        return _positive(found.group(1)) if found else None

    async def _ollama_ps(self, client: httpx2.AsyncClient, root: str, model: str) -> int | None:
        answer = await client.get(f"{root}/api/ps")
        if answer.status_code != 200:
            return None
        loaded = [m for m in answer.json().get("models") or [] if isinstance(m, dict)]
        names = {model, f"{model}:latest"}  # Ollama lists `qwen2.5` as `qwen2.5:latest`
        chosen = next((m for m in loaded if {m.get("model"), m.get("name")} & names), None)
        return _positive((chosen or {}).get("context_length"))


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
