"""Stock hoarding (issue 14, item 4; OWASP API6): one shopper cannot take a product off the
market with unpaid orders, and a real buyer still gets units."""

from tests.support import Api


async def test_a_hoarder_cannot_hold_every_unit_and_a_real_buyer_still_buys(api: Api) -> None:
    product = await api.product(await api.seller("Ende"), price=35_000, stock=47, category="kopi", name="Kopi Flores Ende 200 g")
    hoarder, buyer = api.shopper(), api.shopper()

    everything = (await api.place([(product["id"], 47)], customer=hoarder)).json()["id"]
    refused = await api.order_reaches(everything, "REJECTED", "AWAITING_PAYMENT")
    assert refused["status"] == "REJECTED" and "hold_limit" in refused["status_reason"], refused
    assert (await api.stock_of(product["id"]))["stock"] == 47

    # Up to the per-product limit (10 by default) is fine; one more unpaid order beyond it is not.
    first = (await api.place([(product["id"], 10)], customer=hoarder)).json()["id"]
    assert (await api.payable(first))["status"] == "AWAITING_PAYMENT"
    more = (await api.place([(product["id"], 1)], customer=hoarder)).json()["id"]
    assert (await api.order_reaches(more, "REJECTED", "AWAITING_PAYMENT"))["status"] == "REJECTED"

    real = (await api.place([(product["id"], 5)], customer=buyer)).json()["id"]
    assert (await api.payable(real))["status"] == "AWAITING_PAYMENT"
    await api.pay(real)
    await api.order_reaches(real, "PAID")

    # Paid units are the shopper's: once the hoarder pays, the limit counts only unpaid ones again.
    await api.pay(first)
    await api.order_reaches(first, "PAID")
    again = (await api.place([(product["id"], 10)], customer=hoarder)).json()["id"]
    assert (await api.payable(again))["status"] == "AWAITING_PAYMENT"
    stock = await api.stock_of(product["id"])
    assert (stock["stock"], stock["reserved"]) == (47 - 10 - 5 - 10, 10)
    print(f"\n[hoarding] hoarder refused 47 and an 11th unit unpaid; buyer paid 5; stock left {stock['stock']}")
