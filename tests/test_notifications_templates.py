"""Every template of every message kind rendered with realistic data: long names, many lines,
awkward characters. No infrastructure needed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from beli_contracts.catalog import StockLow
from beli_contracts.orders import (
    OrderCancelled,
    OrderCompleted,
    OrderShipped,
    PickupCollected,
    PickupReminderDue,
    SubOrderAtOutlet,
    SubOrderReturned,
)
from beli_contracts.payments import LevyRuleChanged, LevyRuleTerms, PaymentLinkCreated, PaymentReturned, PaymentSettled
from beli_contracts.programme import AsnContact, CommitmentMet, CommitmentReminderDue
from beli_contracts.values import Customer, PickupOutlet, PricedLine, ReturnedLine, SellerContact, SettledLine
from notifications import domain
from notifications.domain import KINDS, Notice
from notifications.rendering import SMS_LIMIT, Renderer

AT = datetime(2025, 8, 17, 1, 30, tzinfo=UTC)  # 09:30 WITA
LONG = "Kain Tenun Ikat Sumba Timur Motif Kuda dan Mamuli Pewarna Alami Akar Mengkudu Ukuran Besar"
SHOPPER = Customer(
    name="Maria Goreti Yohana Fransiska Ndapa Ngara Lende <ASN Dinas Koperasi & UKM>",
    email="maria.lende@nttprov.example.id",
    phone="0812-3456-7890",
)
SELLERS = [
    SellerContact(
        seller_id=f"slr-{i}",
        name=f'Kelompok Tenun Ibu-Ibu Desa Jenilu {i} "Tunas Harapan"',
        email=f"tenun{i}@umkm.example.id",
        phone=f"08133{i:07d}",
        regency=regency,
    )
    for i, regency in enumerate(["Sumba Timur", "Belu", "Ngada"])
]
ORDER = "BNTT-0F1E2D3C4B5A6978"
# The longest outlet name, with opening hours as people write them (an en dash: not in SMS).
OUTLET = PickupOutlet(
    outlet_id="ntt-mart-timor-tengah-selatan",
    name="NTT Mart Timor Tengah Selatan",
    regency="Timor Tengah Selatan",
    address="Jl. Gajah Mada No. 12, Kelurahan Kota Baru, Soe <depan Kantor Bupati & DPRD>",
    opening_hours="Senin–Sabtu 08.00–20.00, Minggu 10.00–16.00",
    phone="0388-21234",
)


def settled_lines(count: int = 12, sellers: list[SellerContact] = SELLERS, product: str = LONG) -> list[SettledLine]:
    lines = []
    for i in range(count):
        price, quantity = 1_250_000 + i * 33_333, 1 + i % 4
        levy = round(price * quantity / 100)
        lines.append(
            SettledLine(
                product_id=f"prd-{i}",
                product_name=f"{product} #{i}",
                category="tenun",
                seller=sellers[i % 3],
                quantity=quantity,
                unit_price=price,
                levy=levy,
                seller_payable=price * quantity - levy,
                levy_rule_id="default",
                levy_rule_version=1,
            )
        )
    return lines


def rule(version: int, bps: int, category: str | None, regency: str | None, rule_id: str = "pad-tenun-sumba") -> LevyRuleTerms:
    return LevyRuleTerms(rule_id=rule_id, version=version, rate_bps=bps, category=category, regency=regency, effective_from=AT)


@dataclass(frozen=True)
class Typed:
    """What people typed into the messages: the shopper, the shops, a product, an outlet (staff),
    the courier (a seller) and a levy rule's scope and reason (an operator)."""

    shopper: Customer = SHOPPER
    sellers: list[SellerContact] = field(default_factory=lambda: SELLERS)
    product: str = LONG
    outlet: PickupOutlet = OUTLET
    courier: str = "JNE Reguler (Jalur Nugraha Ekakurir)"
    regency: str = "Sumba Timur"
    reason: str = "Perda baru tentang kontribusi UMKM tenun"
    rule_ids: tuple[str, str] = ("pad-tenun-sumba", "pad-tenun-sumba")


def all_notices(typed: Typed = Typed()) -> list[Notice]:
    shopper, sellers, outlet = typed.shopper, typed.sellers, typed.outlet
    lines = settled_lines(sellers=sellers, product=typed.product)
    gross = sum(line.subtotal for line in lines)
    levy = sum(line.levy for line in lines)
    priced = [PricedLine(**line.model_dump(exclude={"levy", "seller_payable", "levy_rule_id", "levy_rule_version"})) for line in lines]
    return [
        *domain.for_payment_link(
            PaymentLinkCreated(
                order_id=ORDER,
                customer=shopper,
                lines=priced,
                gross_amount=gross,
                token="0" * 36,
                redirect_url="https://app.sandbox.midtrans.com/snap/v4/redirection/6f1c2a7e-9b7d-4a55-8a1f-0d2c9e6b4f31",
                pay_before=AT,
            )
        ),
        *domain.for_settlement(
            PaymentSettled(
                order_id=ORDER,
                customer=shopper,
                lines=lines,
                gross_amount=gross,
                levy_total=levy,
                seller_payable_total=gross - levy,
                payment_type="qris",
                transaction_id="tx-1",
                settled_at=AT,
            )
        ),
        *domain.for_cancellation(OrderCancelled(order_id=ORDER, customer=shopper, reason="payment_expired")),
        # Paid, then its hold turned out to have lapsed: the two sellers asked to ship are told not to.
        *domain.for_cancellation(OrderCancelled(order_id=ORDER, customer=shopper, reason="stock_unavailable", sellers=sellers[:2])),
        *domain.for_return(
            PaymentReturned(
                order_id=ORDER, customer=shopper, gross_amount=gross, refund_key=f"{ORDER}-return", reason="order cancelled", returned_at=AT
            )
        ),
        *domain.for_shipment(
            OrderShipped(
                order_id=ORDER,
                seller_id="slr-0",
                customer=shopper,
                courier=typed.courier,
                tracking_number="JNE0123456789012345",
                shipped_at=AT,
                seller_name=sellers[0].name,
            )
        ),
        *domain.for_completion(
            OrderCompleted(order_id=ORDER, seller=sellers[0], gross=4_500_000, levy=45_000, seller_payable=4_455_000, completed_at=AT)
        ),
        *domain.for_pickup_ready(
            SubOrderAtOutlet(
                order_id=ORDER,
                seller_id="slr-1",
                seller_name=sellers[1].name,
                customer=shopper,
                outlet=outlet,
                pickup_code="K7QM2X",
                arrived_at=AT,
                collect_before=AT,
            )
        ),
        *domain.for_pickup_reminder(
            PickupReminderDue(
                order_id=ORDER,
                seller_id="slr-1",
                seller_name=sellers[1].name,
                customer=shopper,
                outlet=outlet,
                pickup_code="K7QM2X",
                collect_before=AT,
            )
        ),
        *domain.for_pickup_collected(
            PickupCollected(order_id=ORDER, customer=shopper, outlet=outlet, seller_names=[s.name for s in sellers], collected_at=AT)
        ),
        *domain.for_pickup_returned(
            SubOrderReturned(
                order_id=ORDER,
                seller=sellers[2],
                customer=shopper,
                outlet=outlet,
                lines=[ReturnedLine(product_id="prd-2", quantity=3)],
                gross=3_750_000,
                returned_at=AT,
            )
        ),
        *domain.for_stock_low(
            StockLow(product_id="prd-0", product_name=typed.product, variant_id="merah-besar", seller=sellers[1], stock=2, threshold=5)
        ),
        *domain.for_levy_rule_change(
            LevyRuleChanged(
                current=rule(2, 125, "tenun", typed.regency, typed.rule_ids[0]),
                previous=rule(1, 100, None, None, typed.rule_ids[1]),
                reason=typed.reason,
                changed_by="operator@nttprov.example.id",
            ),
            ["keuangan@nttprov.example.id", "KEUANGAN@nttprov.example.id", "bapenda@nttprov.example.id"],
        ),
        *domain.for_commitment_reminder(
            CommitmentReminderDue(month="2025-08", asn=ASN, commitment=100_000, spent=35_000, remaining=65_000, days_left=11)
        ),
        *domain.for_commitment_met(CommitmentMet(month="2025-08", asn=ASN, commitment=100_000, spent=150_000)),
    ]


ASN = AsnContact(
    name=SHOPPER.name,
    email=SHOPPER.email,
    phone=SHOPPER.phone,
    account_id="acc-1",
    nip_masked="**************2001",
    opd_name="Dinas Koperasi, Usaha Kecil dan Menengah Provinsi NTT",
)


RENDERED = [(notice, Renderer().render(notice)) for notice in all_notices()]


def test_every_kind_is_covered() -> None:
    assert {notice.kind for notice, _ in RENDERED} == set(KINDS)
    assert sum(n.kind == "seller_new_paid_order" for n, _ in RENDERED) == 3  # one per seller
    assert sum(n.kind == "levy_rule_changed" for n, _ in RENDERED) == 2  # finance list deduplicated


@pytest.mark.parametrize("index", range(len(RENDERED)), ids=lambda i: RENDERED[i][0].kind)
def test_each_part_renders_cleanly(index: int) -> None:
    notice, rendered = RENDERED[index]
    for name, text in vars(rendered).items():
        assert text.strip(), f"{notice.kind}: empty {name}"
        assert "None" not in text and "{{" not in text and "{%" not in text, f"{notice.kind} {name}: {text}"
        assert not re.search(r"Rp\d{4}", text), f"{notice.kind} {name}: amount without thousands dots"
    assert "\n" not in rendered.subject and len(rendered.subject) <= 150
    assert rendered.html.startswith("<!doctype html>") and "</html>" in rendered.html
    assert len(rendered.whatsapp) <= 4096
    # SMS: plain ASCII (one GSM-7 segment holds 160 of them); with a payment URL, two segments.
    assert rendered.sms.isascii(), rendered.sms
    assert len(rendered.sms) <= (2 * 153 if "http" in rendered.sms else SMS_LIMIT), (len(rendered.sms), rendered.sms)
    if notice.kind not in ("stock_low", "levy_rule_changed", "asn_commitment_reminder", "asn_commitment_met"):
        assert ORDER in rendered.subject + rendered.text and ORDER in rendered.sms


def by_kind(kind: str) -> list[tuple[Notice, object]]:
    return [(n, r) for n, r in RENDERED if n.kind == kind]


def test_payment_link_has_summary_total_how_to_pay_and_deadline_in_wita() -> None:
    [(notice, r)] = by_kind("payment_link")
    gross = notice.context["gross"]
    assert f"Total yang harus dibayar: Rp{gross:,}".replace(",", ".") in r.text
    assert "QRIS" in r.text and "virtual account" in r.text and notice.context["pay_url"] in r.text
    assert "17-08-2025 09:30 WITA" in r.text and "17-08-2025 09:30 WITA" in r.sms
    assert all(f"{line.product_name} ({line.seller.name}" in r.text for line in notice.context["lines"])
    assert r.html.count('<tr style="border-bottom') == 12


def test_receipt_shows_levy_as_kontribusi_pad_and_html_escapes_names() -> None:
    [(notice, r)] = by_kind("payment_receipt")
    levy = f"Rp{notice.context['levy']:,}".replace(",", ".")
    assert f"Termasuk kontribusi PAD Provinsi NTT: {levy}" in r.text and levy in r.whatsapp
    assert "<ASN Dinas Koperasi & UKM>" in r.text  # plain text keeps what was typed
    assert "&lt;ASN Dinas Koperasi &amp; UKM&gt;" in r.html and "<ASN" not in r.html


def test_each_seller_sees_only_their_lines_the_shopper_contact_and_payable_after_levy() -> None:
    for notice, r in by_kind("seller_new_paid_order"):
        seller = notice.context["seller"]
        mine = [line for line in settled_lines() if line.seller.seller_id == seller.seller_id]
        assert r.text.count(LONG) == len(mine) == 4
        payable = f"Rp{sum(line.seller_payable for line in mine):,}".replace(",", ".")
        assert f"Yang akan Anda terima: {payable}" in r.text and payable in r.sms
        assert SHOPPER.name in r.text and SHOPPER.phone in r.text


def test_other_kinds_say_what_matters() -> None:
    (_, cancelled), (_, lapsed) = by_kind("order_cancelled")
    assert "batas waktu pembayaran terlewati" in cancelled.text and "Stok" in cancelled.text
    assert "stok sudah terjual sebelum pembayaran Anda kami terima" in lapsed.text
    told = by_kind("seller_order_cancelled")
    assert [notice.recipient for notice, _ in told] == [SELLERS[0].email, SELLERS[1].email]
    assert all("JANGAN mengirim" in r.text and "jangan kirim" in r.whatsapp and "Jangan kirim" in r.sms for _, r in told)
    [(_, returned)] = by_kind("payment_returned")
    assert (
        "Seluruh dana sudah kami kembalikan" in returned.text
        and "17-08-2025 09:30 WITA" in returned.text
        and "dikembalikan" in returned.sms
    )
    lapsed = Renderer().render(domain.for_cancellation(OrderCancelled(order_id=ORDER, customer=SHOPPER, reason="stock_unavailable"))[0])
    assert "dikembalikan penuh" in lapsed.text and "tidak ada dana" not in lapsed.sms.lower()
    [(_, shipped)] = by_kind("order_shipped")
    assert "JNE0123456789012345" in shipped.text and "JNE0123456789012345" in shipped.sms
    assert all(f"dari {SELLERS[0].name} sudah" in part for part in (shipped.subject, shipped.text, shipped.whatsapp))
    assert "dari <b>Kelompok Tenun Ibu-Ibu Desa Jenilu 0 &#34;Tunas Harapan&#34;</b>" in shipped.html
    [(_, payout)] = by_kind("seller_payout")
    assert "penjualan Rp4.500.000 | kontribusi PAD Rp45.000 | dibayarkan ke Anda Rp4.455.000" in payout.text
    [(_, stock)] = by_kind("stock_low")
    assert "Sisa stok: 2" in stock.text and LONG in stock.subject and "merah-besar" in stock.text
    levy = by_kind("levy_rule_changed")[0][1]
    assert "Tarif: 1,25% (125 bps)" in levy.text and "Tarif: 1% (100 bps)" in levy.text
    assert "kategori tenun, kabupaten/kota Sumba Timur" in levy.text and "semua produk" in levy.text


def test_an_edited_template_file_overrides_the_built_in_one(tmp_path: Path) -> None:
    (tmp_path / "order_cancelled").mkdir()
    (tmp_path / "order_cancelled" / "subject.j2").write_text("Maaf, pesanan {{ order_id }} batal")
    notice = by_kind("order_cancelled")[0][0]
    rendered = Renderer(tmp_path).render(notice)
    assert rendered.subject == f"Maaf, pesanan {ORDER} batal"
    assert rendered.text == Renderer().render(notice).text  # other files still the built-in ones


def test_pickup_messages_carry_the_code_the_outlet_and_its_hours_and_escape_its_address() -> None:
    [(_, ready)] = by_kind("pickup_ready")
    assert "K7QM2X" in ready.text and "K7QM2X" in ready.sms and "K7QM2X" in ready.whatsapp
    assert "Senin–Sabtu 08.00–20.00" in ready.text and "17-08-2025 09:30 WITA" in ready.sms
    assert "&lt;depan Kantor Bupati &amp; DPRD&gt;" in ready.html and "<depan" not in ready.html
    [(_, reminder)] = by_kind("pickup_reminder")
    assert "K7QM2X" in reminder.text and "Batas pengambilan: 17-08-2025 09:30 WITA" in reminder.text
    [(_, collected)] = by_kind("pickup_collected")
    assert all(seller.name in collected.text for seller in SELLERS)
    [(_, returned)] = by_kind("pickup_returned")
    assert "Rp3.750.000" in returned.text and "Rp3.750.000" in returned.sms


# WhatsApp has no escape: typed `*bold*`, `_italic_`, `~strike~` or backquotes would format the
# message, and a typed line break could start a quote or a list item.
def hostile(what: str) -> str:
    return f"{what} Tokó *PROMO* _x_ ~y~ `kode`\n> palsu"


HOSTILE = Typed(
    shopper=SHOPPER.model_copy(update={"name": hostile("Maria")}),
    sellers=[seller.model_copy(update={"name": hostile(f"Tenun {i}")}) for i, seller in enumerate(SELLERS)],
    product=hostile("Kain tenun (Merah, 2 x 1 m)"),
    outlet=OUTLET.model_copy(update={n: hostile(n) + " Kabupaten Timor Tengah Selatan" for n in ("name", "address", "opening_hours")}),
    courier=hostile("JNE"),
    regency=hostile("Sumba"),
    reason=hostile("Perda"),
    rule_ids=("pad:tenun:sumba-timur", "pad:*:*"),
)
# The message kinds whose WhatsApp text shows something typed (the others show only our own values).
SHOWS_TYPED = {
    *("payment_link", "payment_receipt", "order_shipped", "seller_new_paid_order", "stock_low", "levy_rule_changed"),
    *("pickup_ready", "pickup_reminder", "pickup_collected", "pickup_returned"),
}
BOLD_AMOUNTS = {"payment_link", "payment_receipt", "seller_new_paid_order", "pickup_returned", "seller_payout"}
ATTACKED = [Renderer().render(notice) for notice in all_notices(HOSTILE)]


@pytest.mark.parametrize("index", range(len(RENDERED)), ids=lambda i: RENDERED[i][0].kind)
def test_typed_names_never_format_a_whatsapp_message(index: int) -> None:
    notice, plain = RENDERED[index]
    attacked = ATTACKED[index]
    wa = attacked.whatsapp
    for mark in ("*PROMO*", "_x_", "~y~", "`kode`", "\n> palsu"):
        assert mark not in wa, (notice.kind, wa)
    # Every formatting character and line is our template's: the typed values added none.
    assert [wa.count(c) for c in "*_~`"] == [plain.whatsapp.count(c) for c in "*_~`"], (notice.kind, wa)
    assert len(wa.splitlines()) == len(plain.whatsapp.splitlines()), (notice.kind, wa)
    assert all(not line.startswith(">") for line in wa.splitlines())
    # Our own bold (the brand, amounts in *Rp…*) is still there, and the typed text still reads.
    assert wa.startswith(("*Beli NTT*", "*Gerakan Beli NTT*"))
    amounts = re.findall(r"\*Rp[\d.]+\*", wa)
    assert amounts == re.findall(r"\*Rp[\d.]+\*", plain.whatsapp) and (amounts or notice.kind not in BOLD_AMOUNTS)
    if notice.kind in SHOWS_TYPED:
        assert "Tokó \u2217PROMO\u2217 \uff3fx\uff3f \u223cy\u223c \u02cbkode\u02cb > palsu" in wa, (notice.kind, wa)
    # SMS: the typed text in plain ASCII, one segment (two with a payment URL), as for any data.
    assert attacked.sms.isascii(), attacked.sms
    assert len(attacked.sms) <= (2 * 153 if "http" in attacked.sms else SMS_LIMIT), (len(attacked.sms), attacked.sms)
