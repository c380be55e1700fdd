"""What the notifications tests on the real database share."""

from collections.abc import AsyncIterator

import pytest

from notifications.main import NotificationsService, build_service
from notifications.settings import NotificationsSettings
from tests.service_layer import ServiceDatabase, ready


@pytest.fixture
async def notifications(service_database: ServiceDatabase) -> AsyncIterator[NotificationsService]:
    """The service as its composition root builds it, on a database of its own, indexes created."""
    service = build_service(NotificationsSettings(**service_database.settings()))
    async with ready(service):
        yield service
