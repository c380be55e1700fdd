"""The programme service's roster and NIP claims on the real database without Kafka: the app
comes from the composition root (`build_app`) and runs without its lifespan (no consumers, no
reminder job)."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from beli_runtime.clock import utcnow
from infra.tokens import mint
from programme import domain
from programme.main import build_app
from programme.settings import ProgrammeSettings
from tests.service_layer import ServiceDatabase, serving

pytestmark = pytest.mark.infra  # the real database (no broker)

OFFICE = {"Authorization": f"Bearer {mint('programme', email='bkd@nttprov.example.id')}"}
NIP = "198503122010012001"
ROSTER = f"nip,nama,opd,email,telepon\n{NIP},Yohanes Seran,dinas-koperasi,yohanes.seran@nttprov.example.id,\n"


def shopper(email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint('shopper', email=email)}"}


@pytest.fixture
async def programme(service_database: ServiceDatabase) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(build_app(ProgrammeSettings(**service_database.settings()))) as client:
        opd = {"id": "dinas-koperasi", "name": "Dinas Koperasi dan UKM", "government": "Provinsi NTT"}
        assert (await client.post("/programme/opds", json=opd, headers=OFFICE)).status_code == 201
        imported = await client.post("/programme/roster/import", files={"file": ("asn.csv", ROSTER, "text/csv")}, headers=OFFICE)
        assert imported.status_code == 200, imported.text
        yield client


async def test_an_asn_whose_email_is_on_the_roster_is_linked_at_once_and_the_nip_only_once(programme: httpx.AsyncClient) -> None:
    claimed = await programme.post("/programme/me/nip", json={"nip": NIP}, headers=shopper("yohanes.seran@nttprov.example.id"))
    assert claimed.status_code == 201 and claimed.json()["status"] == "linked"
    me = (await programme.get("/programme/me", headers=shopper("yohanes.seran@nttprov.example.id"))).json()
    assert me["status"] == "linked" and me["opd_name"] == "Dinas Koperasi dan UKM" and me["nip"] != NIP  # masked

    other = await programme.post("/programme/me/nip", json={"nip": NIP}, headers=shopper("bukan.yohanes@example.id"))
    assert other.status_code == 409 and "sudah terhubung dengan akun lain" in other.json()["message"]


async def test_a_claim_from_another_address_waits_for_the_opd_and_the_office_sees_it(programme: httpx.AsyncClient) -> None:
    claimed = await programme.post("/programme/me/nip", json={"nip": NIP}, headers=shopper("yohanes.pribadi@example.id"))
    assert claimed.status_code == 201 and claimed.json()["status"] == "pending"
    pending = (await programme.get("/programme/claims", headers=OFFICE)).json()
    assert [(claim["nip"], claim["status"]) for claim in pending] == [(NIP, "pending")]  # the office sees the full NIP
    roster = (await programme.get("/programme/roster", headers=OFFICE)).json()
    assert [(asn["nip"], asn["linked"]) for asn in roster] == [(NIP, False)]


async def test_a_nip_not_on_the_roster_is_refused_with_what_to_do(programme: httpx.AsyncClient) -> None:
    refused = await programme.post("/programme/me/nip", json={"nip": "199001012015031002"}, headers=shopper("asn@example.id"))
    assert refused.status_code == 404 and "hubungi OPD Anda" in refused.json()["message"]


async def test_a_commitment_version_applies_from_its_month_once(programme: httpx.AsyncClient) -> None:
    next_month = domain.month_of(utcnow() + timedelta(days=32))
    version = {"amount": 150_000, "effective_month": next_month, "reason": "Surat Edaran Gubernur"}
    created = await programme.post("/programme/commitments", json=version, headers=OFFICE)
    assert created.status_code == 201 and created.json()["created_by"] == "bkd@nttprov.example.id"
    listed = (await programme.get("/programme/commitments", headers=OFFICE)).json()
    assert [(v["effective_month"], v["amount"]) for v in listed] == [(next_month, 150_000)]

    again = await programme.post("/programme/commitments", json=version | {"amount": 175_000}, headers=OFFICE)
    assert again.status_code == 409 and next_month in again.json()["message"]
    past = await programme.post("/programme/commitments", json=version | {"effective_month": "2020-01"}, headers=OFFICE)
    assert past.status_code == 422 and "sudah lewat" in past.json()["message"]
