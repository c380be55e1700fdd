"""Playwright (Python) driving Debian's Chromium, an axe-core check of every page, and
screenshots at phone (390x844) and desktop (1280x800) sizes kept as test artefacts."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from infra.profiles import TEST

CHROMIUM = os.environ.get("BELI_CHROMIUM", "/usr/bin/chromium")
AXE = Path(os.environ.get("BELI_AXE_DIR", Path.home() / ".cache" / "beli-ntt" / "axe")) / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("BELI_SCREENSHOTS_DIR", TEST.run_dir / "screenshots"))
SIZES = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}
BLOCKING = {"serious", "critical"}
INSTALL = "bash infra/bootstrap.sh tools (apt-get install chromium; npm install axe-core)"


def missing_tools() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: {INSTALL}"
    if not AXE.exists():
        return f"{AXE} not found: {INSTALL}"
    return None


async def audit(page: Page, name: str) -> list[dict[str, Any]]:
    """Screenshot the page at both sizes and fail on any serious or critical axe violation.
    Also checks the page works without JavaScript (our pages carry no script at all) and that
    nothing makes it wider than a phone."""
    html = await page.content()
    assert not re.search(r"<script\b", html, re.IGNORECASE), f"{name}: the page has a <script>; pages must work without JavaScript"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found: list[dict[str, Any]] = []
    for label, size in SIZES.items():
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        found += [
            {"size": label, "id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result
            if v["impact"] in BLOCKING
        ]
    await page.set_viewport_size(SIZES["390"])
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES["390"]["width"], f"{name}: the page is {width} px wide on a 390 px phone (something does not wrap)"
    assert not found, f"{name}: accessibility violations (axe-core): {found}"
    return found
