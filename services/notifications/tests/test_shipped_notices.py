"""The shopper's "pesanan dikirim" notices, one per seller's parcel: each names its shop, a shop
name stays text in every channel, and events from before the name travelled still render."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from beli_contracts import Envelope, decode
from beli_contracts.orders import OrderShipped
from beli_contracts.values import Customer
from notifications.domain import for_shipment
from notifications.rendering import SMS_LIMIT, Rendered, Renderer

ORDER = "BNTT-0F1E2D3C4B5A6978"
SHOPPER = Customer(name="Maria Lende", email="maria@example.id", phone="081234567890", email_verified=True, phone_verified=True)
AT = datetime(2025, 8, 17, 1, 30, tzinfo=UTC)  # 09:30 WITA


def shipped(seller_id: str, seller_name: str | None, tracking_number: str = "JNE0123456789") -> OrderShipped:
    return OrderShipped(
        order_id=ORDER,
        seller_id=seller_id,
        customer=SHOPPER,
        courier="JNE",
        tracking_number=tracking_number,
        shipped_at=AT,
        seller_name=seller_name,
    )


def render(event: OrderShipped) -> Rendered:
    [notice] = for_shipment(event)
    assert notice.kind == "order_shipped" and notice.recipient == SHOPPER.email
    return Renderer().render(notice)


def test_a_two_seller_orders_shipped_notices_name_each_shop() -> None:
    kopi = render(shipped("slr-kopi", "Kopi Bajawa Ine Rie", "JNE0000000001"))
    tenun = render(shipped("slr-tenun", "Tenun Ikat Ina Sumba", "JNE0000000002"))
    assert kopi.subject == f"Pesanan {ORDER} dari Kopi Bajawa Ine Rie sudah dikirim (JNE)"
    assert tenun.subject == f"Pesanan {ORDER} dari Tenun Ikat Ina Sumba sudah dikirim (JNE)"
    for message, shop in ((kopi, "Kopi Bajawa Ine Rie"), (tenun, "Tenun Ikat Ina Sumba")):
        assert f"Pesanan {ORDER} dari {shop} sudah diserahkan ke kurir" in message.text  # e-mail and the inbox
        assert f"dari <b>{shop}</b>" in message.html
        assert f"Pesanan {ORDER} dari {shop} sudah dikirim." in message.whatsapp
        assert f"dari {shop} dikirim" in message.sms and len(message.sms) <= SMS_LIMIT


def test_a_hostile_shop_name_stays_text_in_every_channel() -> None:
    name = "<script>alert('x')</script> *PROMO* _gratis_ ~ongkir~ `kode`\n> Toko & Co"
    message = render(shipped("slr-jahat", name))
    assert "<script>" not in message.html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in message.html
    assert "Toko &amp; Co" in message.html
    # WhatsApp has no escape: the formatting characters become look-alikes, on one line.
    first_line = message.whatsapp.splitlines()[0]
    assert "\u2217PROMO\u2217" in first_line and "\uff3fgratis\uff3f" in first_line and "\u223congkir\u223c" in first_line
    assert "\u02cbkode\u02cb" in first_line and "> Toko & Co" in first_line
    assert not any(mark in first_line.removeprefix("*Beli NTT*") for mark in "*_~`")
    # Text is shown as text (the web inbox escapes it): what the seller typed, the subject on one line.
    assert "<script>alert('x')</script> *PROMO* _gratis_ ~ongkir~ `kode` > Toko & Co sudah" in message.text and "\n" not in message.subject
    assert message.sms.isascii() and len(message.sms) <= SMS_LIMIT


def test_a_shop_name_reaches_an_sms_in_plain_letters_and_one_segment() -> None:
    message = render(shipped("slr-kafe", "Kafé Flobamorá Kupang Timur Raya"))
    assert "dari Kafe Flobamora Kupang Timur dikirim" in message.sms and message.sms.isascii()  # cut between words
    assert "Kafé Flobamorá Kupang Timur Raya" in message.text
    longest = shipped("slr-kafe", "Kelompok Usaha Bersama " * 6, tracking_number="9" * 40).model_copy(update={"courier": "K" * 40})
    assert len(render(longest).sms) <= SMS_LIMIT  # the longest shop name, courier and tracking number the API takes


def test_an_old_shipped_event_without_the_shop_name_still_decodes_and_reads_as_before() -> None:
    body = json.loads(Envelope.wrap(shipped("slr-kopi", "Kopi Bajawa"), key=ORDER, source="orders").to_bytes())
    del body["data"]["seller_name"]  # what orders sent before the name travelled
    envelope = decode(json.dumps(body).encode())
    event = envelope.payload()
    assert envelope.version == 1 and isinstance(event, OrderShipped) and event.seller_name is None
    message = render(event)
    assert message.subject == f"Pesanan {ORDER} sudah dikirim (JNE)"
    assert f"Pesanan {ORDER} sudah diserahkan ke kurir pada 17-08-2025 09:30 WITA." in message.text
    assert message.whatsapp.startswith(f"*Beli NTT* - Pesanan {ORDER} sudah dikirim.")
    assert message.sms == f"Beli NTT: pesanan {ORDER} dikirim via JNE, resi JNE0123456789."
    for part in vars(message).values():
        assert "dari" not in part and "None" not in part
