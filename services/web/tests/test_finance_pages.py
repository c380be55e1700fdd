"""Finance office pages rendered against canned service answers: empty, many-item and error states."""

from __future__ import annotations

import re
from typing import Any

from web.backend import BackendError

from .staff_fakes import browsing

EMPTY = {"rows": [], "totals": {"entries": 0, "gross": 0, "levy": 0, "seller_payable": 0}}


def summary(params: dict[str, Any], _: Any) -> dict[str, Any]:
    group = params["group_by"]
    if group == "day":
        rows = [
            {
                "key": f"{params['period']}-{day:02d}",
                "entries": 2,
                "gross": 100_000 * day,
                "levy": 1_000 * day,
                "seller_payable": 99_000 * day,
            }
            for day in (1, 5, 9)
        ]
    elif group == "seller":
        rows = [
            {"key": f"slr-{i}", "seller_name": f"Toko {i}", "entries": 1, "gross": 100_000, "levy": 1_000 + i, "seller_payable": 99_000 - i}
            for i in range(40)
        ]
    else:
        keys = ["Ngada", "Rote Ndao"] if group == "regency" else ["kopi", "tenun"]
        rows = [{"key": key, "entries": 3, "gross": 750_000, "levy": 7_500, "seller_payable": 742_500} for key in keys]
    return {"group_by": group, "rows": rows, "totals": {"entries": 6, "gross": 1_500_000, "levy": 15_000, "seller_payable": 1_485_000}}


def entry(sequence: int) -> dict[str, Any]:
    return {
        "entry_id": f"lev-{sequence}",
        "sequence": sequence,
        "kind": "levy",
        "order_id": f"BNTT-{sequence}",
        "product_id": "prd-1",
        "variant_id": None,
        "product_name": "Kopi Bajawa",
        "seller_id": "slr-1",
        "seller_name": "Kopi Ngada",
        "regency": "Ngada",
        "category": "kopi",
        "quantity": 2,
        "unit_price": 75_000,
        "gross": 150_000,
        "levy": 1_500,
        "seller_payable": 148_500,
        "rule_id": "pad:default",
        "rule_version": 1,
        "rate_bps": 100,
        "period": "2026-03",
        "original_period": None,
        "reverses": None,
        "refund_id": None,
        "recorded_at": "2026-03-05T02:00:00Z",
        "recorded_at_wita": "2026-03-05 10:00:00 WITA",
        "prev_hash": "0" * 64,
        "hash": "a" * 64,
    }


def chart_values(html: str, chart_title: str) -> dict[str, int]:
    section = html[html.index(chart_title) :]
    section = section[: section.index("</svg>")]
    return {label: int(value) for label, value in re.findall(r"<rect[^>]*data-label='([^']+)' data-value='(-?\d+)'", section)}


async def test_dashboard_draws_the_summaries_as_charts_with_tables() -> None:
    async with browsing() as browser:
        await browser.log_in("finance")
        browser.services.on("GET", "payments", "/finance/summary", summary)
        page = await browser.open("/keuangan?period=2026-03")
        assert page.status_code == 200 and "PAD Maret 2026" in page.text and "Rp15.000" in page.text
        assert page.text.count("<svg") == 4 and page.text.count("<table class='chart-data'") == 4
        days = chart_values(page.text, "PAD per hari")
        assert len(days) == 31 and days["2026-03-05"] == 5_000 and days["2026-03-02"] == 0
        assert chart_values(page.text, "PAD per kabupaten/kota") == {"Ngada": 7_500, "Rote Ndao": 7_500}
        sellers = chart_values(page.text, "penjual teratas")
        assert len(sellers) == 11 and sellers["Toko 39"] == 1_039 and "Penjual lain (30)" in sellers


async def test_an_empty_month_says_so() -> None:
    async with browsing() as browser:
        await browser.log_in("finance")
        browser.services.on("GET", "payments", "/finance/summary", EMPTY)
        page = await browser.open("/keuangan?period=2026-01")
        assert "Belum ada PAD tercatat bulan ini" in page.text and "Belum ada penjual dengan PAD" in page.text and "Rp0" in page.text


async def test_ledger_filters_pages_and_export_links() -> None:
    async with browsing() as browser:
        await browser.log_in("finance")
        browser.services.on("GET", "payments", "/finance/ledger", {"items": [entry(i) for i in range(1, 51)], "next_cursor": 50})
        browser.services.on("GET", "payments", "/finance/summary", summary)
        page = await browser.open("/keuangan/buku-besar?period=2026-03&regency=Ngada&from=bukan-tanggal&kind=levy")
        assert page.text.count("<tr data-order=") == 50 and 'rel="next"' in page.text
        assert "after=50" in page.text and "regency=Ngada" in page.text
        sent = browser.services.sent("GET", "payments", "/finance/ledger")[-1]["params"]
        assert sent == {"period": "2026-03", "regency": "Ngada", "kind": "levy", "limit": 50}  # a malformed day is dropped, not sent
        assert "/keuangan/ekspor/buku-besar?period=2026-03&amp;regency=Ngada&amp;kind=levy&amp;format=xlsx" in page.text
        browser.services.on("GET", "payments", "/finance/ledger", {"items": [], "next_cursor": None})
        assert "Tidak ada entri yang cocok" in (await browser.open("/keuangan/buku-besar?order_id=BNTT-x")).text


async def test_exports_are_downloads_named_for_their_period() -> None:
    class File:
        content = b"PK\x03\x04 xlsx"
        headers = {"content-type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

    async with browsing() as browser:
        await browser.log_in("finance")
        browser.services.on("GET", "payments", "/finance/exports/ledger", File())
        response = await browser.open("/keuangan/ekspor/buku-besar?period=2026-03&format=xlsx")
        assert response.content == File.content
        assert response.headers["content-disposition"] == 'attachment; filename="buku-besar-pad-2026-03.xlsx"'
        assert browser.services.sent("GET", "payments", "/finance/exports/ledger")[0]["params"] == {"period": "2026-03", "format": "xlsx"}
        assert "Unduh ringkasan" in (await browser.open("/keuangan/ekspor")).text


async def test_checks_show_a_broken_chain_and_mismatches() -> None:
    async with browsing() as browser:
        await browser.log_in("finance")
        broken = {
            "ok": False,
            "entries_checked": 811,
            "head_sequence": 900,
            "head_hash": "f" * 64,
            "first_broken": {"sequence": 812, "entry_id": "lev-812", "reason": "content does not match its hash: the entry was altered"},
        }
        browser.services.on("GET", "payments", "/finance/verify", broken)
        browser.services.on(
            "GET",
            "payments",
            "/finance/checks/gross-identity",
            {
                "payments_checked": 3,
                "ok": False,
                "failures": [
                    {
                        "order_id": "BNTT-9",
                        "gross_received": 100_000,
                        "ledger_gross": 0,
                        "levy_total": 0,
                        "seller_payable_total": 0,
                        "difference": 100_000,
                        "lines_not_adding_up": 0,
                        "problem": "settled but no ledger entries",
                    }
                ],
            },
        )
        browser.services.on(
            "GET",
            "payments",
            "/finance/reconciliation",
            {
                "payments_checked": 3,
                "matched": 2,
                "unchecked": [],
                "mismatches": [
                    {
                        "order_id": "BNTT-9",
                        "problem": "settled_at_midtrans_only",
                        "ledger_settled": False,
                        "ledger_net_gross": 0,
                        "midtrans_status": "settlement",
                        "midtrans_net_gross": 100_000,
                    }
                ],
            },
        )
        page = await browser.open("/keuangan/pemeriksaan?from=2026-03-01&to=2026-03-31")
        assert "RUSAK" in page.text and "#812" in page.text and "the entry was altered" in page.text
        assert "settled but no ledger entries" in page.text and "Lunas di Midtrans, tidak ada di buku" in page.text
        browser.services.on(
            "GET",
            "payments",
            "/finance/reconciliation",
            BackendError(422, "2500 payments in this period; reconcile at most 2000 at a time"),
        )
        page = await browser.open("/keuangan/pemeriksaan?from=2026-01-01&to=2026-03-31")
        assert page.status_code == 200 and "reconcile at most 2000" in page.text


async def test_closing_a_month_needs_the_confirmation() -> None:
    async with browsing() as browser:
        await browser.log_in("finance")
        browser.services.on("GET", "payments", "/finance/periods", {"items": []})
        assert "Belum ada bulan yang ditutup" in (await browser.open("/keuangan/tutup-buku")).text
        browser.services.on("GET", "payments", "/finance/summary", summary)
        browser.services.on(
            "GET",
            "payments",
            "/finance/verify",
            {"ok": True, "entries_checked": 6, "head_sequence": 6, "head_hash": "a" * 64, "first_broken": None},
        )
        confirm = await browser.open("/keuangan/tutup-buku/konfirmasi?period=2026-02")
        assert "Tutup buku Februari 2026?" in confirm.text and "tidak dapat dibatalkan" in confirm.text
        unconfirmed = await browser.submit("/keuangan/tutup-buku", {"period": "2026-02"})
        assert "centang konfirmasi" in unconfirmed.text and not browser.services.sent("POST", "payments", "/finance/periods/2026-02/close")
        closing = {
            "period": "2026-02",
            "entries": 6,
            "gross": 1,
            "levy": 1,
            "seller_payable": 0,
            "head_sequence": 6,
            "head_hash": "a" * 64,
            "closed_by": "finance@uji",
            "note": "",
            "closed_at": "2026-03-01T01:00:00Z",
        }
        browser.services.on("POST", "payments", "/finance/periods/2026-02/close", closing)
        browser.services.on("GET", "payments", "/finance/periods", {"items": [closing]})
        done = await browser.submit("/keuangan/tutup-buku", {"period": "2026-02", "confirm": "ya", "note": "tutup"})
        assert "Buku Februari 2026 ditutup" in done.text and 'id="closings"' in done.text
        assert browser.services.sent("POST", "payments", "/finance/periods/2026-02/close")[0]["json"] == {"note": "tutup"}


async def test_sellers_and_shoppers_cannot_open_the_finance_office() -> None:
    async with browsing() as browser:
        await browser.log_in("seller", "slr-1")
        assert (await browser.open("/keuangan")).status_code == 403
