"""The console's weight: every shipped file is served and in the wheel, all of them together fit
the first-load budget (300 KB), and what a first load really transfers, measured by the
browser, fits it too."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.console import assets
from tests.support.browser import Console

BUDGET = 300 * 1024
STATIC = Path(assets.__file__).parent / "static"
ROOT = Path(__file__).resolve().parents[2]


def _shipped() -> dict[str, int]:
    return {
        str(path.relative_to(STATIC)): path.stat().st_size
        for path in STATIC.rglob("*")
        if path.is_file()
    }


def test_every_file_is_served_and_all_of_them_fit_the_first_load_budget() -> None:
    shipped = _shipped()
    served = assets.load_assets()
    assert {f"/ui/{name}" for name in shipped} == set(served) - {"/ui/"}
    # An upper bound of any first load: every page module, eagerly or not.
    assert sum(shipped.values()) <= BUDGET, shipped


def test_the_wheel_ships_every_console_file(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    subprocess.run(
        [uv, "build", "--wheel", "-o", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [wheel] = tmp_path.glob("*.whl")
    prefix = "openai_assistant_mcp/engine/console/static/"
    with zipfile.ZipFile(wheel) as archive:
        inside = {name[len(prefix) :] for name in archive.namelist() if name.startswith(prefix)}
    assert inside == set(_shipped())


def test_a_first_load_transfers_under_the_budget(console: Console, key: str) -> None:
    driver = console.driver
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})  # all fetched
    try:
        console.open("assistants", key=key)
        console.find("[data-page=assistants] .empty")
    finally:
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    transferred = console.driver.execute_script(
        "const entries = [...performance.getEntriesByType('navigation'),"
        " ...performance.getEntriesByType('resource')];"
        "return entries.map((e) => [e.name, e.transferSize]);"
    )
    total = sum(size for _, size in transferred)
    sizes = {name.rpartition("/ui/")[2]: size for name, size in transferred}
    assert sizes["pages/assistants.js"] > 1000  # fetched whole, not revalidated
    assert 0 < total <= BUDGET, transferred
