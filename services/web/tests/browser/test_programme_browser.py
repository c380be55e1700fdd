"""Gerakan Beli NTT's pages in a real browser (Chromium through Playwright): an ASN claims a NIP
in the form and sees the progress card; another's claim is approved by the OPD officer with the
keyboard-reachable button; the programme office opens the dashboard, compliance and commitment
pages. Every page passes axe-core (no serious or critical violation) and is screenshotted."""

from __future__ import annotations

import random
import uuid

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.programme_support import import_opds, import_roster, new_nip
from tests.support import Api, System

from ..browsing import PASSWORD
from .harness import audit
from .test_shopper_journey import sign_up
from .test_staff_browser import log_in

pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]
TIMEOUT_MS = 30_000


async def new_page(browser: Browser, system: System) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=system.profile.service_url("web"), viewport={"width": 390, "height": 844}, locale="id-ID")
    context.set_default_timeout(TIMEOUT_MS)
    return context, await context.new_page()


async def staff_account(api: Api, role: str, **fields: str) -> str:
    tag = uuid.uuid4().hex[:6]
    email = f"{role}-{tag}@nttprov.example.id"
    account = {"role": role, "name": f"Petugas {tag}", "email": email, "phone": f"0813{int(tag, 16) % 10**8:08d}", "password": PASSWORD}
    created = await api.catalog.post("/auth/staff", json=account | fields)
    assert created.status_code == 201, created.text
    return email


async def claim_in_the_form(page: Page, nip: str) -> None:
    await page.goto("/asn")
    await expect(page.get_by_role("heading", name="Hubungkan NIP Anda")).to_be_visible()
    await audit(page, "asn-klaim")
    await page.get_by_label("NIP (18 angka)").fill(nip)
    await page.get_by_role("button", name="Klaim NIP").click()


async def test_programme_pages_in_the_browser(browser: Browser, system: System, api: Api) -> None:
    t = uuid.uuid4().hex[:6]
    opd = f"prov-dinkop-{t}"
    await import_opds(api, [(opd, "Dinas Koperasi Provinsi NTT", "Provinsi NTT")])
    contexts = [await new_page(browser, system) for _ in range(4)]
    (_, asn), (_, other), (_, officer), (_, office) = contexts
    try:
        account = await sign_up(asn, "Yohana Lende", api)
        await sign_up(other, "Markus Bria", api)
        rng = random.Random()
        nips = [new_nip(rng, "2"), new_nip(rng, "1")]
        rows = [[nips[0], "Yohana Lende", opd, account["email"], account["phone"]], [nips[1], "Markus Bria", opd, f"m-{t}@x.id", ""]]
        await import_roster(api, rows)

        await claim_in_the_form(asn, nips[0])
        await expect(asn.locator("#asn-progress")).to_be_visible()
        await audit(asn, "asn-kemajuan")
        await asn.goto("/")
        await expect(asn.locator("#asn-progress")).to_be_visible()
        await audit(asn, "beranda-asn")
        await claim_in_the_form(other, nips[1])
        await expect(other.locator("#status-nip")).to_contain_text("menunggu persetujuan OPD")
        await audit(other, "asn-menunggu")

        await log_in(officer, await staff_account(api, "opd", opd_id=opd), PASSWORD)
        await officer.goto("/program/opd")
        await expect(officer.get_by_role("heading", name="Dinas Koperasi Provinsi NTT")).to_be_visible()
        await audit(officer, "opd-kepatuhan")
        await officer.get_by_role("link", name="Klaim NIP", exact=True).click()
        await audit(officer, "opd-klaim")
        await officer.get_by_role("button", name="Setujui klaim Markus Bria").click()
        await expect(officer.get_by_text("Markus Bria disetujui")).to_be_visible()

        await log_in(office, await staff_account(api, "programme"), PASSWORD)
        for path, name in (
            ("/program", "program-dasbor"),
            ("/program/kepatuhan", "program-kepatuhan"),
            ("/program/komitmen", "program-komitmen"),
        ):
            await office.goto(path)
            await expect(office.get_by_role("heading", level=1)).to_be_visible()
            await audit(office, name)
    finally:
        for context, _ in contexts:
            await context.close()
