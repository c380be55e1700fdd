"""Gerakan Beli NTT through the web pages, against the real stack: an ASN claims a NIP (linked at
once), buys and pays, and sees the progress card move; another's claim waits for the OPD officer,
who approves it in the browser; the programme office's dashboard shows the programme service's
figures; shoppers and officers are refused what is not theirs, with a message."""

from __future__ import annotations

import random
import re
import uuid

import pytest

from tests.programme_support import dashboard, import_opds, import_roster, new_nip
from tests.support import Api, System, eventually

from .browsing import PASSWORD, WebUser

pytestmark = pytest.mark.infra


def figure(html: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">(-?Rp[\d.]+)<', html)
    assert found, html[:3000]
    return int(found.group(1).replace("Rp", "").replace(".", ""))


async def staff(api: Api, web: WebUser, role: str, **fields: str) -> None:
    tag = uuid.uuid4().hex[:6]
    account = {
        "role": role,
        "name": f"Petugas {tag}",
        "email": f"{role}-{tag}@nttprov.example.id",
        "phone": f"0813{int(tag, 16) % 10**8:08d}",
    }
    created = await api.catalog.post("/auth/staff", json=account | fields | {"password": PASSWORD})
    assert created.status_code == 201, created.text
    await web.open("/masuk")
    page = await web.submit("/masuk", {"email": account["email"], "password": PASSWORD})
    assert page.status_code == 200 and "Keluar" in page.text, page.text[:1500]


async def buy_on_the_web(api: Api, shopper: WebUser, account: dict[str, str], product_id: str, quantity: int) -> str:
    await shopper.open(f"/produk/{product_id}")
    added = await shopper.submit("/keranjang/tambah", {"product_id": product_id, "quantity": quantity, "variant_id": ""})
    assert "ditambahkan ke keranjang" in added.text, added.text[:1500]
    checkout = await shopper.open("/checkout")
    key = re.search(r'name="key" value="([0-9a-f]+)"', checkout.text)
    assert key, checkout.text[:2000]
    shopper.http.follow_redirects = False
    placed = await shopper.submit(
        "/checkout", {"key": key.group(1), "name": account["name"], "email": account["email"], "phone": account["phone"]}
    )
    shopper.http.follow_redirects = True
    assert placed.status_code == 303, placed.text[:1000]
    order_id = re.search(r"(BNTT-[0-9A-F]+)", (await shopper.open("/pesanan")).text)
    assert order_id
    await api.payable(order_id.group(1))
    await api.pay(order_id.group(1))
    await api.order_reaches(order_id.group(1), "PAID")
    return order_id.group(1)


async def roster_of_three(api: Api, first: dict[str, str], opd: str) -> dict[str, str]:
    """The first ASN's roster e-mail is its account's (auto-linked); the second's is not."""
    rng = random.Random()
    nips = {"first": new_nip(rng, "2"), "second": new_nip(rng, "1"), "third": new_nip(rng, "1")}
    t = uuid.uuid4().hex[:6]
    report = await import_roster(
        api,
        [
            [nips["first"], "Yohana Lende", opd, first["email"], first["phone"]],
            [nips["second"], "Markus Bria", opd, f"markus-{t}@bkd.example.id", "081100000002"],
            [nips["third"], "Agus Ndun", opd, f"agus-{t}@bkd.example.id", "081100000003"],
        ],
    )
    assert report["created"] == 3, report
    return nips


async def office_sees_the_figures(api: Api, office: WebUser, health: str) -> None:
    """The programme office's dashboard shows what the programme service answers; compliance has the OPD's row."""
    await staff(api, office, "programme")

    async def both() -> tuple[list[int], list[int], str]:
        expected = await dashboard(api)
        page = await office.open("/program")
        numbers = re.search(r'id="angka-program" data-gmv="(\d+)" data-target="(\d+)" data-levy="(\d+)"', page.text)
        assert numbers, page.text[:3000]
        return [int(n) for n in numbers.groups()], [expected["gmv"], expected["gmv_target"], expected["pad_levy"]], page.text

    # The levy arrives from payments a moment after the sale: compare once both have settled.
    _, expected, text = await eventually(both, lambda found: found[0] == found[1] and found[1][2] > 0, timeout=60, what="figures")
    assert expected[0] >= 70_000 and "rect class='chart-bar'" in text and "data-label='Ngada'" in text
    row = re.compile(rf'data-key="{health}" data-asn="3" data-met="\d+" data-spent="70000"')
    await eventually(lambda: office.open("/program/kepatuhan", government="Provinsi NTT"), lambda r: bool(row.search(r.text)), what="row")
    export = await office.open("/program/ekspor/opd", format="csv", government="Provinsi NTT")
    assert export.headers["content-disposition"].startswith("attachment") and "TOTAL" in export.text


async def test_asn_journey_officer_approval_dashboard_and_refusals(system: System, api: Api) -> None:
    web = system.profile.service_url("web")
    asn, other, stranger, officer, office = WebUser(web), WebUser(web), WebUser(web), WebUser(web), WebUser(web)
    t = uuid.uuid4().hex[:6]
    health, roads = f"prov-dinkes-{t}", f"kupang-pupr-{t}"
    try:
        await import_opds(api, [(health, "Dinas Kesehatan Provinsi NTT", "Provinsi NTT"), (roads, "Dinas PUPR Kota Kupang", "Kota Kupang")])
        account = await asn.sign_up()
        await other.sign_up()
        await stranger.sign_up()
        nips = await roster_of_three(api, account, health)

        assert "Hubungkan NIP Anda" in (await asn.open("/asn")).text
        refused = await asn.submit("/asn/klaim", {"nip": "198503122010013001"})
        assert refused.status_code == 422 and "NIP tidak dapat diklaim" in refused.text
        linked = await asn.submit("/asn/klaim", {"nip": nips["first"]})
        assert "terhubung atas nama Yohana Lende" in linked.text and "Dinas Kesehatan Provinsi NTT" in linked.text
        assert nips["first"] not in linked.text  # masked for the ASN too
        commitment = figure(linked.text, "asn-remaining") + figure(linked.text, "asn-spent")

        seller = await api.seller("Ngada", name=f"Kopi Ngada {t}")
        product = await api.listing(seller, name=f"Kopi Bajawa {t}", category="kopi", price=35_000, stock=20)
        order_id = await buy_on_the_web(api, asn, account, product["id"], 2)
        moved = await eventually(lambda: asn.open("/asn"), lambda r: f'data-order="{order_id}"' in r.text, timeout=60, what="progress")
        assert figure(moved.text, "asn-spent") == 70_000 and figure(moved.text, "asn-remaining") == max(0, commitment - 70_000)
        assert 'id="asn-progress"' in (await asn.open("/")).text

        pending = await other.submit("/asn/klaim", {"nip": nips["second"]})
        assert "dikirim ke OPD Anda" in pending.text and "menunggu persetujuan OPD" in pending.text
        await staff(api, officer, "opd", opd_id=health)
        mine = await officer.open("/program/opd")
        assert str(mine.url).endswith(f"/program/opd/{health}") and "1 klaim NIP menunggu" in mine.text
        assert 'data-asn="3"' in mine.text and "Markus Bria" in mine.text  # below the commitment
        claims = await officer.open("/program/klaim")
        claim_id = re.search(r'action="/program/klaim/([^/"]+)/setujui"', claims.text)
        assert claim_id and "Markus Bria" in claims.text and nips["second"] not in claims.text
        assert "Dinas Kesehatan Provinsi NTT" in claims.text, "the claim names its OPD, not its id"
        approved = await officer.submit(f"/program/klaim/{claim_id.group(1)}/setujui")
        assert "Markus Bria disetujui" in approved.text and "Tidak ada klaim NIP yang menunggu" in approved.text
        assert "NIP Anda sudah terhubung" in (await other.open("/asn")).text
        await stranger.submit("/asn/klaim", {"nip": nips["third"]})
        claims = await officer.open("/program/klaim")
        claim_id = re.search(r'action="/program/klaim/([^/"]+)/tolak"', claims.text)
        assert claim_id and "Agus Ndun" in claims.text
        assert "Agus Ndun ditolak" in (await officer.submit(f"/program/klaim/{claim_id.group(1)}/tolak")).text
        assert f"Klaim NIP {'*' * 14}{nips['third'][-4:]} ditolak oleh OPD" in (await stranger.open("/asn")).text

        elsewhere = await officer.open(f"/program/opd/{roads}")
        assert elsewhere.status_code == 404 and "bukan bagian dari OPD Anda" in elsewhere.text
        assert (await officer.open("/program")).status_code == 403
        for path in ("/program", "/program/kepatuhan", f"/program/opd/{health}", "/program/klaim"):
            assert (await asn.open(path)).status_code == 403, path

        await office_sees_the_figures(api, office, health)
    finally:
        for user in (asn, other, stranger, officer, office):
            await user.close()
