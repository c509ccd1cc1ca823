"""llama.cpp's own HTTP server (OpenAI-compatible `/v1/chat/completions`, `/props`, `/health`)
from the prebuilt `xllamacpp` wheel: no compiler, no build. Run it with the Python of the venv
scripts/real_model_env.sh prepares (it is not a dependency of the project):

    $REAL_MODEL_PYTHON scripts/llama_server.py --model "$REAL_MODEL_GGUF" --port 8080

It serves until interrupted (SIGINT/SIGTERM). `--ctx-size` is the model's context window, which
the engine reads from `/props` (8192 holds file_search's results for a small model)."""

from __future__ import annotations

import argparse
import os
import signal
import threading

import xllamacpp  # type: ignore[import-not-found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="path of the GGUF file")
    parser.add_argument("--alias", default="local", help="the model's name in /v1/models")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--ctx-size", type=int, default=8192, help="context window, tokens")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx_size
    params.n_parallel = 1  # one slot: the whole window for one request
    params.use_jinja = True  # the GGUF's own chat template, tools included
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.endpoint_props = True
    server = xllamacpp.Server(params)  # loads the model, then listens
    print(f"llama_server: serving {args.model} at {server.listening_address}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    main()
