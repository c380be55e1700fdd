"""Gerakan Beli NTT's pages rendered against canned programme-service answers: the ASN's claim
and progress card, an OPD officer's compliance and claims, the programme office's dashboard and
commitment versions; empty, many-item and refusal states (a refusal is a message, never a 500)."""

from __future__ import annotations

import re
from typing import Any

from web.backend import BackendError

from .staff_fakes import Browser, browsing

NIP = "*" * 14 + "0123"
PROGRESS = {
    "month": "2026-11",
    "commitment": 100_000,
    "spent": 60_000,
    "remaining": 40_000,
    "met": False,
    "orders": [
        {"order_id": "BNTT-1A", "kind": "paid", "amount": 75_000, "at": "2026-11-03T02:00:00Z"},
        {"order_id": "BNTT-1A", "kind": "refund", "amount": -15_000, "at": "2026-11-04T02:00:00Z"},
    ],
}


def linked(browser: Browser) -> None:
    me = {"status": "linked", "nip": NIP, "name": "Yohana Lende", "opd_id": "prov-dinkes", "opd_name": "Dinas Kesehatan"}
    browser.services.on("GET", "programme", "/programme/me", me)
    browser.services.on("GET", "programme", "/programme/me/progress", PROGRESS)
    months = [{"month": f"2026-{m:02d}", "commitment": 100_000, "spent": 120_000, "met": True} for m in range(10, 0, -1)]
    browser.services.on("GET", "programme", "/programme/me/months", months)


async def test_an_unlinked_shopper_claims_a_nip_and_sees_why_a_claim_is_refused() -> None:
    async with browsing() as browser:
        await browser.log_in("shopper")
        browser.services.on("GET", "programme", "/programme/me", {"status": "none"})
        page = await browser.open("/asn")
        assert page.status_code == 200 and "Hubungkan NIP Anda" in page.text and 'name="nip"' in page.text
        assert "ditolak oleh OPD" not in page.text
        refused_before = {"status": "none", "refused": {"nip": NIP, "decided_at": "2026-11-20T01:00:00"}}
        browser.services.on("GET", "programme", "/programme/me", refused_before)
        page = await browser.open("/asn")
        assert f"Klaim NIP {NIP} ditolak oleh OPD pada 20 Nov 2026 09.00 WITA" in page.text and 'name="nip"' in page.text
        refusal = BackendError(404, "NIP tidak ditemukan dalam data ASN; hubungi OPD Anda", [{"field": "nip", "message": "x"}])
        browser.services.on("POST", "programme", "/programme/me/nip", refusal)
        page = await browser.submit("/asn/klaim", {"nip": "198503122010012001"})
        assert page.status_code == 422 and "NIP tidak ditemukan dalam data ASN" in page.text and "198503122010012001" in page.text
        claimed = {"id": "clm-1", "status": "pending", "nip": NIP, "name": "Markus Bria", "opd_id": "prov-dinkes"}
        browser.services.on("POST", "programme", "/programme/me/nip", claimed)
        browser.services.on("GET", "programme", "/programme/me", {"status": "pending", "nip": NIP, "name": "Markus Bria"})
        page = await browser.submit("/asn/klaim", {"nip": "198503122010012001"})
        assert "dikirim ke OPD Anda" in page.text and "menunggu persetujuan OPD" in page.text and 'name="nip"' not in page.text


async def test_a_linked_asn_sees_progress_orders_and_past_months_and_the_home_card() -> None:
    async with browsing() as browser:
        await browser.log_in("shopper")
        linked(browser)
        page = await browser.open("/asn")
        assert 'id="asn-spent">Rp60.000<' in page.text and 'id="asn-remaining">Rp40.000<' in page.text and "Rp100.000" in page.text
        assert "November 2026" in page.text and page.text.count('data-order="BNTT-1A"') == 2 and "-Rp15.000" in page.text
        assert page.text.count("<tr data-month=") == 10 and "Terpenuhi" in page.text
        browser.services.on("GET", "catalog", "/products", {"items": []})
        browser.services.on("GET", "catalog", "/ovop-villages", [])
        home = await browser.open("/")
        assert 'id="asn-progress"' in home.text and "Rp40.000 lagi" in home.text and 'href="/asn"' in home.text
        browser.services.on("GET", "programme", "/programme/me/progress", BackendError(0, "layanan programme sedang tidak dapat dihubungi"))
        home = await browser.open("/")
        assert home.status_code == 200 and 'id="asn-progress"' not in home.text  # the shop works without the programme service


async def test_a_shopper_and_a_seller_cannot_open_programme_pages() -> None:
    async with browsing() as browser:
        await browser.log_in("shopper")
        for path in ("/program", "/program/kepatuhan", "/program/opd/prov-dinkes", "/program/klaim", "/program/komitmen"):
            page = await browser.open(path)
            assert page.status_code == 403 and "bukan untuk jenis akun Anda" in page.text, path
        await browser.log_in("seller")
        assert (await browser.open("/asn")).status_code == 403


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total = {"key": "TOTAL", "name": "TOTAL", "government": "", "asn_count": 0, "met": 0, "share_bps": 0, "share": "0,00%", "spent": 0}
    return {"month": "2026-11", "commitment": 100_000, "rows": rows, "total": total}


def opd_row(key: str, asn: int = 3, met: int = 1) -> dict[str, Any]:
    share = f"{met * 100 // asn},00%"
    return {
        "key": key,
        "name": f"Dinas {key}",
        "government": "Provinsi NTT",
        "asn_count": asn,
        "met": met,
        "share": share,
        "spent": met * 100_000,
    }


def below(count: int) -> dict[str, Any]:
    items = [
        {"nip": "*" * 14 + f"{i:04d}", "name": f"ASN {i:03d}", "linked": i % 2 == 0, "spent": 0, "remaining": 100_000} for i in range(count)
    ]
    return {"month": "2026-11", "opd_id": "prov-dinkes", "commitment": 100_000, "items": items}


async def test_an_officer_sees_its_opd_the_asn_below_and_export_links() -> None:
    async with browsing() as browser:
        await browser.log_in("opd", opd_id="prov-dinkes")
        browser.services.on("GET", "programme", "/programme/compliance/opds", report([opd_row("prov-dinkes", 120, 20)]))
        browser.services.on("GET", "programme", "/programme/compliance/opds/prov-dinkes/below", below(100))
        claim = {"id": "clm-9", "status": "pending", "nip": NIP, "name": "Markus Bria", "opd_id": "prov-dinkes", "created_at": None}
        browser.services.on("GET", "programme", "/programme/claims", [claim])
        page = await browser.open("/program/opd")
        assert str(page.url).endswith("/program/opd/prov-dinkes") and page.status_code == 200
        assert page.text.count("<tr data-nip=") == 100 and "Dinas prov-dinkes" in page.text and "1 klaim NIP menunggu" in page.text
        assert "/program/ekspor/opd/prov-dinkes/belum?month=" in page.text and "format=csv" in page.text
        browser.services.on("GET", "programme", "/programme/compliance/opds/prov-dinkes/below", below(0))
        assert "Semua ASN di OPD ini sudah memenuhi" in (await browser.open("/program/opd/prov-dinkes?month=2026-10")).text
        assert browser.services.sent("GET", "programme", "/programme/compliance/opds")[-1]["params"]["month"] == "2026-10"


async def test_another_opd_and_an_unbound_officer_get_a_message_not_a_500() -> None:
    async with browsing() as browser:
        await browser.log_in("opd", opd_id="prov-dinkes")
        browser.services.on("GET", "programme", "/programme/compliance/opds/kota-kupang-pupr/below", BackendError(404, "tidak ada OPD"))
        page = await browser.open("/program/opd/kota-kupang-pupr")
        assert page.status_code == 404 and "bukan bagian dari OPD Anda" in page.text
        browser.services.on("GET", "programme", "/programme/claims", BackendError(403, "akun OPD ini belum terhubung dengan sebuah OPD"))
        page = await browser.open("/program/klaim")
        assert page.status_code == 403 and "belum terhubung dengan sebuah OPD" in page.text
        await browser.log_in("opd", opd_id=None)
        page = await browser.open("/program/opd")
        assert page.status_code == 403 and "belum terhubung dengan sebuah OPD" in page.text


async def test_claims_are_approved_and_refused_with_a_message() -> None:
    async with browsing() as browser:
        await browser.log_in("opd", opd_id="prov-dinkes")
        browser.services.on("GET", "programme", "/programme/claims", [])
        assert "Tidak ada klaim NIP yang menunggu" in (await browser.open("/program/klaim")).text
        claim = {"id": "clm-9", "status": "pending", "nip": NIP, "name": "Markus Bria", "opd_id": "prov-dinkes", "created_at": None}
        browser.services.on("GET", "programme", "/programme/claims", [claim])
        page = await browser.open("/program/klaim")
        assert 'action="/program/klaim/clm-9/setujui"' in page.text and 'action="/program/klaim/clm-9/tolak"' in page.text
        browser.services.on("POST", "programme", "/programme/claims/clm-9/approve", claim | {"status": "linked"})
        assert "Markus Bria disetujui" in (await browser.submit("/program/klaim/clm-9/setujui")).text
        browser.services.on("POST", "programme", "/programme/claims/clm-9/reject", BackendError(409, "klaim ini sudah linked"))
        assert "Klaim tidak dapat diputuskan: klaim ini sudah linked" in (await browser.submit("/program/klaim/clm-9/tolak")).text


def month_figures(params: dict[str, Any], _: Any) -> dict[str, Any]:
    month = params["month"]
    gmv = int(month[-2:]) * 1_000_000
    return {
        "month": month,
        "gmv": gmv,
        "gmv_target": 150_000_000_000,
        "gmv_target_share_bps": gmv * 10_000 // 150_000_000_000,
        "pad_levy": gmv // 100,
        "refunds": 0,
        "paid_orders": 7,
        "spending_by_seller_regency": [{"regency": "Ngada", "gross": gmv - 250_000}, {"regency": "Belu", "gross": 250_000}],
        "ovop_gross": 250_000,
        "ovop_share_bps": 250_000 * 10_000 // gmv,
        "active_buyers": 5,
        "active_sellers": 2,
        "asn": {"count": 300, "met": 30, "share_bps": 1000, "spent": 4_000_000},
    }


def chart_values(html: str, chart_title: str) -> dict[str, int]:
    section = html[html.index(chart_title) :]
    section = section[: section.index("</svg>")]
    return {label: int(value) for label, value in re.findall(r"data-label='([^']+)' data-value='(-?\d+)'", section)}


async def test_the_dashboard_draws_six_months_and_the_regencies() -> None:
    async with browsing() as browser:
        await browser.log_in("programme")
        browser.services.on("GET", "programme", "/programme/dashboard", month_figures)
        page = await browser.open("/program?month=2026-11")
        assert page.status_code == 200 and "Gerakan Beli NTT November 2026" in page.text
        assert 'data-gmv="11000000"' in page.text and "Rp110.000" in page.text and "Rp150.000.000.000" in page.text
        assert chart_values(page.text, "GMV) per bulan") == {
            f"{m} 2026": n * 1_000_000 for m, n in zip(("Jun", "Jul", "Agu", "Sep", "Okt", "Nov"), range(6, 12), strict=True)
        }
        assert chart_values(page.text, "kabupaten/kota penjual") == {"Ngada": 10_750_000, "Belu": 250_000}
        assert page.text.count("<tr data-month=") == 6 and "10,00%" in page.text


async def test_compliance_per_government_and_opd_and_the_exports() -> None:
    class File:
        content = b"Kode,Nama\nTOTAL,TOTAL\n"
        headers = {"content-type": "text/csv", "content-disposition": 'attachment; filename="kepatuhan-pemda-2026-11.csv"'}

    async with browsing() as browser:
        await browser.log_in("programme")
        browser.services.on("GET", "programme", "/programme/compliance/governments", report([opd_row("kota-kupang")]))
        browser.services.on("GET", "programme", "/programme/compliance/opds", report([opd_row(f"opd-{i}") for i in range(60)]))
        page = await browser.open("/program/kepatuhan?month=2026-11&government=Kota%20Kupang")
        assert page.text.count('<tr data-key="opd-') == 60 and 'href="/program/opd/opd-7?month=2026-11"' in page.text
        assert browser.services.sent("GET", "programme", "/programme/compliance/opds")[-1]["params"]["government"] == "Kota Kupang"
        browser.services.on("GET", "programme", "/programme/compliance/exports/governments", File())
        download = await browser.open("/program/ekspor/pemda?month=2026-11&format=csv")
        assert download.content == File.content and "kepatuhan-pemda-2026-11.csv" in download.headers["content-disposition"]


async def test_commitment_versions_are_listed_and_a_new_one_is_set() -> None:
    async with browsing() as browser:
        await browser.log_in("programme")
        browser.services.on("GET", "programme", "/programme/commitments", [])
        page = await browser.open("/program/komitmen")
        assert "Belum ada versi" in page.text and 'type="month"' in page.text
        version = {
            "effective_month": "2027-01",
            "amount": 150_000,
            "reason": "SE Gubernur",
            "created_by": "bkd",
            "created_at": "2026-11-20T01:00:00Z",
        }
        browser.services.on("GET", "programme", "/programme/commitments", [version])
        browser.services.on("POST", "programme", "/programme/commitments", version)
        page = await browser.submit("/program/komitmen", {"amount": "150.000", "effective_month": "2027-01", "reason": "SE Gubernur"})
        assert "Komitmen Rp150.000 per ASN berlaku mulai Januari 2027 tersimpan" in page.text and 'data-amount="150000"' in page.text
        assert browser.services.sent("POST", "programme", "/programme/commitments")[0]["json"] == {
            "amount": 150_000,
            "effective_month": "2027-01",
            "reason": "SE Gubernur",
        }
        past = BackendError(
            422, "bulan berlaku tidak boleh bulan yang sudah lewat", [{"field": "body.effective_month", "message": "bulan lewat"}]
        )
        browser.services.on("POST", "programme", "/programme/commitments", past)
        page = await browser.submit("/program/komitmen", {"amount": "150000", "effective_month": "2020-01", "reason": "salah"})
        assert page.status_code == 400 and "bulan lewat" in page.text and 'aria-invalid="true"' in page.text
        page = await browser.submit("/program/komitmen", {"amount": "seratus", "effective_month": "2027-01", "reason": "x"})
        assert page.status_code == 400 and "harus bilangan bulat" in page.text
