"""Operator console pages rendered against canned service answers: empty, many-item and error states."""

from __future__ import annotations

from typing import Any

from web.backend import BackendError

from .staff_fakes import browsing


def pending(index: int) -> dict[str, Any]:
    return {
        "id": f"slr-{index}",
        "name": f"Madu Timor {index}",
        "owner_name": "Yakobus",
        "regency": "Timor Tengah Selatan",
        "village": "Desa Fatumnasi",
        "ovop": False,
        "email": "m@example.id",
        "phone": "0812",
        "status": "pending",
        "nik": "************1234",
        "nib": "1234567890123",
        "bank_account": {"bank": "Bank NTT", "account_number": "******7890", "account_holder": "Yakobus"},
    }


def letter(index: int) -> dict[str, Any]:
    return {
        "id": f"dl-{index}",
        "group": "orders",
        "topic": "catalog.events",
        "partition": 0,
        "offset": index,
        "type": "catalog.stock_reserved",
        "error": "KeyError: 'lines'",
        "attempts": 5,
        "status": "dead",
        "failed_at": "2026-03-05T02:00:00Z",
        "event": '{"id": "e"}',
    }


async def test_verification_queue_masks_identity_numbers_and_verifies_with_one_click() -> None:
    async with browsing() as browser:
        await browser.log_in("admin")
        browser.services.on("GET", "catalog", "/admin/sellers", [])
        assert "Tidak ada penjual yang menunggu verifikasi" in (await browser.open("/operator/penjual")).text
        browser.services.on("GET", "catalog", "/admin/sellers", [pending(i) for i in range(60)])
        page = await browser.open("/operator/penjual")
        assert page.text.count("/verifikasi") == 60
        assert (
            "1234567890123" not in page.text
            and "•••••••••0123" in page.text
            and "••••••••••••1234" in page.text
            and "••••••7890" in page.text
        )
        browser.services.on("POST", "catalog", "/admin/sellers/slr-3/verify", pending(3) | {"status": "verified"})
        done = await browser.submit("/operator/penjual/slr-3/verifikasi")
        assert "Madu Timor 3 terverifikasi" in done.text


async def test_levy_rules_versions_and_a_new_version() -> None:
    async with browsing() as browser:
        await browser.log_in("admin")
        browser.services.on("GET", "payments", "/admin/levy-rules", {"default_rate_bps": 100, "items": []})
        assert "tarif bawaan 1%" in (await browser.open("/operator/aturan-pad")).text
        versions = [
            {
                "rule_id": "pad:kopi:ngada",
                "version": v,
                "rate_bps": 100 + 50 * v,
                "category": "kopi",
                "regency": "Ngada",
                "effective_from": f"2026-0{v}-01T00:00:00Z",
                "reason": f"Pergub {v}",
                "changed_by": "admin",
                "created_at": "2026-01-01T00:00:00Z",
            }
            for v in (1, 2, 3)
        ]
        browser.services.on("GET", "payments", "/admin/levy-rules", {"default_rate_bps": 100, "items": versions})
        page = await browser.open("/operator/aturan-pad")
        assert page.text.index(">v3<") < page.text.index(">v1<") and "2,5%" in page.text
        browser.services.on(
            "POST",
            "payments",
            "/admin/levy-rules",
            BackendError(422, "invalid", [{"field": "effective_from", "message": "tidak boleh di masa lalu"}]),
        )
        refused = await browser.submit(
            "/operator/aturan-pad",
            {"rate_percent": "2,75", "category": "kopi", "regency": "Ngada", "effective_from": "2020-01-01T00:00", "reason": "Pergub 4"},
        )
        assert refused.status_code == 400 and "tidak boleh di masa lalu" in refused.text and 'value="2,75"' in refused.text
        assert browser.services.sent("POST", "payments", "/admin/levy-rules")[0]["json"] == {
            "rate_bps": 275,
            "category": "kopi",
            "regency": "Ngada",
            "effective_from": "2020-01-01T00:00:00+08:00",
            "reason": "Pergub 4",
        }
        bad = await browser.submit("/operator/aturan-pad", {"rate_percent": "dua", "reason": "x"})
        assert "tarif harus angka persen" in bad.text
        browser.services.on("POST", "payments", "/admin/levy-rules", versions[2] | {"version": 4, "rate_bps": 275})
        done = await browser.submit(
            "/operator/aturan-pad", {"rate_percent": "2,75", "category": "kopi", "regency": "Ngada", "reason": "Pergub 4"}
        )
        assert "pad:kopi:ngada versi 4 (2,75%) tersimpan" in done.text


async def test_dead_letters_of_every_service_replay_and_an_unreachable_service() -> None:
    async with browsing() as browser:
        await browser.log_in("admin")
        for service in ("catalog", "payments", "notifications"):
            browser.services.on("GET", service, "/admin/dead-letters", [])
        browser.services.on("GET", "orders", "/admin/dead-letters", [letter(i) for i in range(30)])
        page = await browser.open("/operator/surat-mati")
        assert page.text.count("Proses ulang</button>") == 30 and page.text.count("Tidak ada.") == 3
        browser.services.on(
            "POST",
            "orders",
            "/admin/dead-letters/dl-1/replay",
            {"id": "dl-1", "replayed": False, "status": "dead", "error": "KeyError again"},
        )
        assert "gagal lagi: KeyError again" in (await browser.submit("/operator/surat-mati/orders/dl-1/ulang")).text
        browser.services.on("GET", "payments", "/admin/dead-letters", BackendError(0, "layanan payments sedang tidak dapat dihubungi"))
        page = await browser.open("/operator/surat-mati")
        assert page.status_code == 200 and "Tidak dapat dibaca: layanan payments" in page.text


async def test_failed_deliveries_and_resend() -> None:
    async with browsing() as browser:
        await browser.log_in("admin")
        browser.services.on("GET", "notifications", "/admin/notifications/deliveries", [])
        assert "Semua pesan terkirim" in (await browser.open("/operator/pengiriman-gagal")).text
        failed = {
            "id": "dlv-1",
            "message_id": "m",
            "kind": "receipt",
            "channel": "whatsapp",
            "recipient": "y@example.id",
            "address": "+6281299990000",
            "order_id": "BNTT-1",
            "status": "failed",
            "attempts": 5,
            "last_error": "provider 503",
            "errors": [],
            "provider_id": None,
            "created_at": "2026-03-05T02:00:00Z",
            "sent_at": None,
        }
        browser.services.on("GET", "notifications", "/admin/notifications/deliveries", [failed])
        page = await browser.open("/operator/pengiriman-gagal")
        assert "WhatsApp" in page.text and "provider 503" in page.text
        browser.services.on(
            "POST", "notifications", "/admin/notifications/deliveries/dlv-1/resend", BackendError(409, "delivery dlv-1 is not failed")
        )
        assert (
            "belum dikirim ulang: delivery dlv-1 is not failed"
            in (await browser.submit("/operator/pengiriman-gagal/dlv-1/kirim-ulang")).text
        )


async def test_finance_officers_cannot_open_the_console() -> None:
    async with browsing() as browser:
        await browser.log_in("finance")
        assert (await browser.open("/operator/penjual")).status_code == 403
