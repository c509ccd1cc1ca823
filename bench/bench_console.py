"""The web console's first load (issue 28): time to interactive and bytes transferred, on
loopback, in Debian's headless chromium (the tests' harness, tests/support/browser.py).

An `openai-assistant-mcp api` server is started; each load opens /ui/ afresh from about:blank
and reads the browser's own timings: `domInteractive` and `loadEventEnd` (navigation timing)
and the console's `console-ready` mark (app.js: the route drawn and its controls live). Two
series, interleaved: `prompt` (no key: the key prompt) and `assistants` (a key remembered in
the tab: the Assistants page drawn from one API call, 20 assistants in it); each cold (the
browser's cache disabled: every file fetched) and warm (revalidated: 304s).

    uv run python bench/bench_console.py [--loads 20] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from common import ROOT, machine_lines, percentile, write_section

sys.path.insert(0, str(ROOT))
from tests.mcp.servers import free_port, running_server, server_env
from tests.support.browser import chromium

KEY = "sk-bench-console-0000"
TARGET_MS = 500.0
BUDGET_BYTES = 300 * 1024

READ_TIMINGS = """
const nav = performance.getEntriesByType('navigation')[0];
const ready = performance.getEntriesByName('console-ready')[0];
const entries = [nav, ...performance.getEntriesByType('resource')];
return {interactive: nav.domInteractive, load: nav.loadEventEnd,
        ready: ready ? ready.startTime : null,
        bytes: entries.reduce((sum, e) => sum + e.transferSize, 0)};
"""


def load_once(driver: Any, base: str, series: str, cold: bool) -> dict[str, float]:
    driver.execute_cdp_cmd("Network.enable", {})  # setCacheDisabled needs it
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": cold})
    if cold:
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.get("about:blank")
    driver.get(f"{base}/ui/#/assistants")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.documentElement.dataset.ready")
    )
    if series == "assistants":
        assert driver.find_elements("css selector", "table.assistants"), "not signed in"
    else:
        assert driver.find_elements("css selector", "form.keyform")
    timings: dict[str, float] = driver.execute_script(READ_TIMINGS)
    return timings


def remember_key(driver: Any, base: str, remember: bool) -> None:
    driver.get(f"{base}/ui/")
    value = json.dumps({"key": KEY, "token": ""})
    if remember:
        driver.execute_script(
            "sessionStorage.setItem('oam-console-credentials', arguments[0])", value
        )
    else:
        driver.execute_script("sessionStorage.clear()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    args = parser.parse_args()
    import openai

    warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's beta.assistants
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        port = free_port()
        env = server_env(Path(tmp) / "data", "http://127.0.0.1:9/v1")
        with running_server(["api", "--port", str(port)], env, Path(tmp) / "api.log") as server:
            base = server.url("")
            client = openai.OpenAI(api_key=KEY, base_url=f"{base}/v1", max_retries=0)
            for index in range(20):
                client.beta.assistants.create(model="m", name=f"assistant {index}")
            client.close()
            samples: dict[tuple[str, str], list[dict[str, float]]] = {}
            with chromium() as driver:
                for series in ("prompt", "assistants"):
                    remember_key(driver, base, series == "assistants")
                    load_once(driver, base, series, cold=True)  # the server's first answers
                for _ in range(args.loads):
                    for series in ("prompt", "assistants"):
                        remember_key(driver, base, series == "assistants")
                        for cache in ("cold", "warm"):
                            timings = load_once(driver, base, series, cold=cache == "cold")
                            samples.setdefault((series, cache), []).append(timings)
    rows = []
    for (series, cache), runs in samples.items():
        ready = [run["ready"] for run in runs]
        rows.append(
            f"| {series} | {cache} | {statistics.median(ready):.0f} | "
            f"{percentile(ready, 95):.0f} | "
            f"{statistics.median(run['interactive'] for run in runs):.0f} | "
            f"{statistics.median(run['load'] for run in runs):.0f} | "
            f"{max(run['bytes'] for run in runs) / 1024:.1f} |"
        )
    worst = max(statistics.median(r["ready"] for r in runs) for runs in samples.values())
    cold_bytes = max(r["bytes"] for (s, c), runs in samples.items() if c == "cold" for r in runs)
    text = "\n".join(
        [
            "## Web console first load (issue 28)",
            "",
            *machine_lines(),
            f"- {args.loads} loads per row, interleaved; Debian chromium headless, loopback",
            "- Command: `uv run python bench/bench_console.py --write`",
            "",
            "| page | cache | ready p50 ms | ready p95 ms | domInteractive p50 ms | "
            "load p50 ms | KB transferred (max) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"Targets: interactive within {TARGET_MS:.0f} ms (worst p50 {worst:.0f} ms: "
            f"{'met' if worst <= TARGET_MS else 'MISSED'}); first load at most 300 KB "
            f"(cold {cold_bytes / 1024:.1f} KB: "
            f"{'met' if cold_bytes <= BUDGET_BYTES else 'MISSED'}).",
            "`ready` is the console's own mark once the page is drawn and its controls live "
            "(app.js), from the navigation's start; the assistants page includes its API call.",
            f"Other work on the machine during the run: load average {os.getloadavg()[0]:.2f}.",
        ]
    )
    print(text)
    if args.write:
        write_section("## Web console first load (issue 28)", text)


if __name__ == "__main__":
    main()
