"""The browser every browser test drives: Debian's Chromium through Playwright (one per module)."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from .harness import CHROMIUM, missing_tools


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    problem = missing_tools()
    if problem:
        pytest.fail(problem, pytrace=False)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        await launched.close()
