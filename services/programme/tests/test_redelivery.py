"""Sales events reach the programme without inbox rows (`Subscription.state_guarded`, issue 11):
each is idempotent by the order's sale. A copy of a settlement, a refund or a cancellation (the
same event id, or published again under a new one), in a later transaction or in the same batch
as the first, and an old event arriving after newer ones change nothing the programme office or
an ASN would notice: the dashboard, the ASN's spending of the month and the OPD's and
governments' compliance stay as they were, and the "commitment met" message is written once."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from infra.tokens import mint
from programme.main import ProgrammeService, build_app
from programme.settings import ProgrammeSettings
from programme.tallies import asn_key
from services.programme.tests.test_tallies import MONTH, NIP, cancellation, line, reversal, seller, settlement
from tests.service_layer import ServiceDatabase, deliver, order_event, outbox_events, serving

pytestmark = pytest.mark.infra  # the real database (no broker)

OFFICE = {"Authorization": f"Bearer {mint('programme', email='bkd@nttprov.example.id')}"}
ACCOUNT = "acct-ina-parera"
ASN = {"Authorization": f"Bearer {mint('shopper', email='ina.parera@nttprov.example.id', account_id=ACCOUNT)}"}
ROSTER = f"nip,nama,opd,email,telepon\n{NIP},Ina Parera,sikka-dinkes,ina.parera@nttprov.example.id,\n"
SIKKA = seller("s-sikka", "Sikka")
CLOTH = line("p-tenun", SIKKA, 60_000, ovop="Desa Jenilu")
HONEY = line("p-madu", SIKKA, 50_000)  # with the cloth, 110,000: over the commitment (100,000)

Programme = tuple[httpx.AsyncClient, ProgrammeService]


@pytest.fixture
async def programme(service_database: ServiceDatabase) -> AsyncIterator[Programme]:
    """The service with an OPD in Sikka whose ASN Ina has linked her account (her e-mail is the roster's)."""
    app = build_app(ProgrammeSettings(**service_database.settings()))
    async with serving(app) as client:
        opd = {"id": "sikka-dinkes", "name": "Dinas Kesehatan Kabupaten Sikka", "government": "Sikka"}
        assert (await client.post("/programme/opds", json=opd, headers=OFFICE)).status_code == 201
        imported = await client.post("/programme/roster/import", files={"file": ("asn.csv", ROSTER, "text/csv")}, headers=OFFICE)
        assert imported.status_code == 200, imported.text
        claimed = await client.post("/programme/me/nip", json={"nip": NIP}, headers=ASN)
        assert claimed.status_code == 201 and claimed.json()["status"] == "linked"
        yield client, app.state.service


async def figures(client: httpx.AsyncClient) -> dict[str, Any]:
    """What the office and the ASN see of the month."""

    async def get(path: str, headers: dict[str, str]) -> Any:
        response = await client.get(path, params={"month": MONTH}, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    return {
        "dashboard": await get("/programme/dashboard", OFFICE),
        "progress": await get("/programme/me/progress", ASN),
        "opds": await get("/programme/compliance/opds", OFFICE),
        "governments": await get("/programme/compliance/governments", OFFICE),
    }


def summary(seen: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """Paid orders, GMV and refunds on the dashboard, the ASN's spending, how many met in her OPD."""
    dashboard, [opd] = seen["dashboard"], seen["opds"]["rows"]
    return dashboard["paid_orders"], dashboard["gmv"], dashboard["refunds"], seen["progress"]["spent"], opd["met"]


async def told(service: ProgrammeService) -> list[str]:
    """The programme's events about the ASN (the "commitment met" message)."""
    return [event.type for event in await outbox_events(service.runtime.db, asn_key(NIP))]


async def test_copies_of_a_settlement_and_its_refunds_and_old_events_after_them_change_no_figure(programme: Programme) -> None:
    client, service = programme
    paid = order_event(settlement("BNTT-1", ACCOUNT, [CLOTH, HONEY]))
    await deliver(service.runtime, [paid])
    counted = await figures(client)
    assert summary(counted) == (1, 110_000, 0, 110_000, 1)
    assert await told(service) == ["programme.commitment_met"]
    await deliver(service.runtime, [paid, paid, paid])  # again: alone, then two copies in one batch
    assert await figures(client) == counted

    first_refund, second_refund = order_event(reversal("BNTT-1", CLOTH, "lev-r1")), order_event(reversal("BNTT-1", HONEY, "lev-r2"))
    await deliver(service.runtime, [first_refund])
    refunded = await figures(client)
    assert summary(refunded) == (1, 50_000, 60_000, 50_000, 0)
    await deliver(service.runtime, [first_refund, first_refund, first_refund])
    assert await figures(client) == refunded

    await deliver(service.runtime, [second_refund])
    both = await figures(client)
    assert summary(both) == (1, 0, 110_000, 0, 0)
    # Old events after newer ones: the first refund, the settlement, a cancellation, the second refund.
    await deliver(service.runtime, [first_refund, paid, order_event(cancellation("BNTT-1")), second_refund])
    # The same settlement published again under a new event id (a producer retry): still once.
    await deliver(service.runtime, [order_event(paid.payload())])
    assert await figures(client) == both
    assert [entry["kind"] for entry in both["progress"]["orders"]] == ["paid", "refund", "refund"]
    assert await told(service) == ["programme.commitment_met"]
    assert await service.runtime.db["inbox"].count_documents({}) == 0


async def test_two_copies_of_a_new_sale_and_of_its_refund_in_one_batch_count_once(programme: Programme) -> None:
    client, service = programme
    paid, refund = order_event(settlement("BNTT-2", ACCOUNT, [CLOTH, HONEY])), order_event(reversal("BNTT-2", HONEY, "lev-r3"))
    # The first event alone, the rest (each sale's event new to the programme, and its copy) in one batch.
    await deliver(service.runtime, [order_event(cancellation("BNTT-9")), paid, refund, paid, refund])
    seen = await figures(client)
    assert summary(seen) == (1, 60_000, 50_000, 60_000, 0)
    assert seen["dashboard"]["active_buyers"] == 1 and seen["dashboard"]["ovop_gross"] == 60_000
    assert [(entry["kind"], entry["amount"]) for entry in seen["progress"]["orders"]] == [("paid", 110_000), ("refund", -50_000)]
    assert await told(service) == ["programme.commitment_met"]  # 110,000 reached once, in the batch
    assert await service.runtime.db["inbox"].count_documents({}) == 0


async def test_copies_of_cancellations_count_no_sale_and_uncount_none(programme: Programme) -> None:
    client, service = programme
    nothing = await figures(client)
    cancelled = order_event(cancellation("BNTT-3"))
    await deliver(service.runtime, [cancelled])
    # Copies, and the money arriving after the cancellation (payments returns it): never counted.
    await deliver(service.runtime, [cancelled, cancelled, order_event(settlement("BNTT-3", ACCOUNT, [CLOTH])), cancelled])
    assert await figures(client) == nothing

    paid = order_event(settlement("BNTT-4", ACCOUNT, [HONEY]))
    await deliver(service.runtime, [paid])
    counted = await figures(client)
    assert summary(counted) == (1, 50_000, 0, 50_000, 0)
    # A paid order's cancellation comes too late, again and again; the settlement again after it.
    too_late = order_event(cancellation("BNTT-4"))
    await deliver(service.runtime, [too_late, too_late, order_event(cancellation("BNTT-4")), paid])
    assert await figures(client) == counted
    assert await told(service) == []
    assert await service.runtime.db["inbox"].count_documents({}) == 0
