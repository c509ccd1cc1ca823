"""The Docker image (issue 15): its size by layer, and how long CI's Docker step
(scripts/docker_ci.sh: base, buildah build, tests/docker inside) takes, cached and fresh.

    uv run python bench/bench_docker.py [--fresh] [--write]

--fresh first removes what a new machine would not have: the cached base tarball, every
podman/buildah image of this machine's store that is untagged or ours, and buildah's cache
mounts (uv's downloads); then it times a fresh run followed by a cached one."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from common import ROOT, machine_lines, write_section

IMAGE = "localhost/openai-assistant-mcp:ci"
CACHE_DIR = Path.home() / ".cache" / "openai-assistant-mcp" / "docker"
BUILDAH_CACHE = Path("/var/tmp/buildah-cache")
PHASES = {
    "base": r"base ready in (\d+) s",
    "build": r"built in (\d+) s",
    "checks": r"done in (\d+) s",
}


def podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout


def forget_everything() -> None:
    """This machine's Docker-step caches removed, as on a new machine."""
    for tarball in CACHE_DIR.glob("base-*.tar"):
        tarball.unlink()
    names = podman("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    ours = [name for name in names if name.startswith("localhost/openai-assistant-mcp")]
    if ours:
        subprocess.run(["podman", "rmi", "-f", *ours], capture_output=True, check=False)
    for _ in range(50):  # pruning a leaf leaves its parent dangling: one layer a round
        if not podman("images", "-a", "-q", "--filter", "dangling=true").strip():
            break
        podman("image", "prune", "-f")
    shutil.rmtree(BUILDAH_CACHE, ignore_errors=True)


def timed_run() -> dict[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(ROOT / "scripts" / "docker_ci.sh")], capture_output=True, text=True, check=False
    )
    total = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"docker_ci.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    phases: dict[str, float] = {"total": total}
    for name, pattern in PHASES.items():
        found = re.search(pattern, done.stdout)
        phases[name] = float(found.group(1)) if found else float("nan")
    return phases


# What each layer of the Dockerfile holds, told by a piece of the step that made it.
LAYER_NAMES = {
    "ADD file:": "base: Debian bookworm minbase, python3 3.11, python3-venv, CA certificates",
    "COPY dir:": "/app/.venv: the project and its locked runtime dependencies, bytecode compiled",
    "apt-get": "bubblewrap (code_interpreter's sandbox) and the `app` user",
    "sandbox setup": "code_interpreter's Python (`sandbox setup`: numpy, pandas, matplotlib...)",
}


def layers() -> list[tuple[int, str]]:
    """(bytes, what) of each image layer that has content, biggest first."""
    rows = json.loads(podman("history", "--format", "json", IMAGE))
    sized = []
    for row in rows:
        step = row.get("CreatedBy", "")
        name = next((v for k, v in LAYER_NAMES.items() if k in step), step[:80])
        sized.append((int(row["size"]), name))
    return sorted((row for row in sized if row[0] > 0), reverse=True)


def report(runs: dict[str, dict[str, float]]) -> str:
    size = json.loads(podman("image", "inspect", IMAGE))[0]["Size"]
    lines = [
        "## Docker image (issue 15)",
        "",
        *machine_lines(),
        "- Command: `uv run python bench/bench_docker.py --fresh --write` (one run each; the",
        "  machine's 2 cores are shared with other work, so times are upper bounds)",
        "- Base: Debian bookworm minbase + python3 (3.11), python3-venv, ca-certificates,",
        "  bootstrapped by scripts/docker_ci.sh with mmdebstrap (CI reaches no registry;",
        "  the default BASE_IMAGE, python:3.12-slim, is not measured here)",
        "",
        f"Image `{IMAGE}`: **{size / 1e6:.0f} MB** (uncompressed, as `docker images` shows).",
        "",
        "| layer | MB |",
        "| --- | --- |",
    ]
    for layer_bytes, name in layers():
        if name.startswith("code_interpreter") and layer_bytes < 1e6:
            name += " (skipped: this tree's CLI has no `sandbox` command)"
        lines.append(f"| {name} | {layer_bytes / 1e6:.1f} |")
    lines += [
        "",
        "CI's Docker step (`scripts/docker_ci.sh`), seconds:",
        "",
        "| run | base | build | checks (tests/docker) | total |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, phases in runs.items():
        lines.append(
            f"| {name} | {phases['base']:.0f} | {phases['build']:.0f} | "
            f"{phases['checks']:.0f} | {phases['total']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="time a fresh run first")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args()
    runs = {}
    if args.fresh:
        forget_everything()
        runs["fresh (nothing cached)"] = timed_run()
    runs["cached (base and layers)"] = timed_run()
    text = report(runs)
    print(text)
    if args.write:
        write_section("## Docker image (issue 15)", text)


if __name__ == "__main__":
    main()
