"""Fixtures of the web app's tests: a browser-less visitor (keeps cookies and CSRF tokens)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support import System

from .browsing import WebUser


@pytest.fixture
async def visitor(system: System) -> AsyncIterator[WebUser]:
    user = WebUser(system.profile.service_url("web"), system.profile.service_url("messaging"))
    yield user
    await user.close()


@pytest.fixture
async def other_visitor(system: System) -> AsyncIterator[WebUser]:
    user = WebUser(system.profile.service_url("web"), system.profile.service_url("messaging"))
    yield user
    await user.close()
