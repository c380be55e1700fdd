"""Gerakan Beli NTT end to end: roster import, NIP claims, paid/refunded/cancelled orders moving
the ASN's progress and the OPD's compliance exactly, commitment versions, the "met" message,
who may see what, and exports with a TOTAL row."""

import asyncio
import csv
import io
import random
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.programme_support import (
    claim,
    compliance,
    dashboard,
    import_opds,
    import_roster,
    new_nip,
    office,
    officer,
    progress,
    spent_reaches,
    tag,
)
from tests.support import Api, eventually

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
async def world(api: Api) -> dict[str, Any]:
    """Two OPDs, a roster of four ASN (plus bad rows), two shoppers who claim their NIPs."""
    rng = random.Random()
    t = tag()
    health, roads = f"prov-dinkes-{t}", f"kupang-pupr-{t}"
    opds = await import_opds(
        api,
        [
            (health, "Dinas Kesehatan Provinsi NTT", "Provinsi NTT"),
            (roads, "Dinas PUPR Kota Kupang", "Kota Kupang"),
            (f"bad-{t}", "Dinas Entah", "Kabupaten Atlantis"),
        ],
    )
    assert (opds["created"], [r["reason"] for r in opds["rejected"]]) == (2, ["pemerintah tidak dikenal: Kabupaten Atlantis"])
    yohana, markus = api.shopper(), api.shopper()
    nips = {name: new_nip(rng, sex) for name, sex in (("yohana", "2"), ("markus", "1"), ("agus", "1"), ("dewi", "2"))}
    # Dewi's NIP with another serial number: equal to hers (1 time in 999 with a fixed serial), it
    # would make her own row a twin too, and every test of this module would fail.
    twin = nips["dewi"][:-3] + f"{int(nips['dewi'][-3:]) % 999 + 1:03d}"
    rows = [
        [nips["yohana"], "Yohana Lende", health, yohana["email"].upper(), "081100000001"],
        [nips["markus"], "Markus Bria", health, f"markus-{t}@nttprov.example.id", "081100000002"],
        [nips["agus"], "Agus Ndun", health, f"agus-{t}@nttprov.example.id", "081100000003"],
        [nips["dewi"], "Dewi Manafe", roads, f"dewi-{t}@nttprov.example.id", "081100000004"],
        ["19850312201001200", "NIP Pendek", health, "", ""],
        [new_nip(rng), "OPD Salah", f"tidak-ada-{t}", "", ""],
        [twin, "Kembar Satu", roads, "", ""],
        [twin, "Kembar Dua", roads, "", ""],
    ]
    first = await import_roster(api, rows)
    return {"t": t, "health": health, "roads": roads, "nips": nips, "yohana": yohana, "markus": markus, "rows": rows, "first": first}


async def test_roster_import_reports_bad_rows_and_re_import_never_duplicates(api: Api, world: dict[str, Any]) -> None:
    first = world["first"]
    assert (first["rows"], first["created"], first["rejected_count"]) == (8, 4, 4)
    reasons = {r["row"]: r["reason"] for r in first["rejected"]}
    assert reasons[6] == "NIP harus 18 digit angka"
    assert reasons[7].startswith("OPD tidak dikenal")
    assert reasons[8] == reasons[9] == "NIP muncul lebih dari sekali dalam berkas"
    again = await import_roster(api, world["rows"][:4])
    assert (again["created"], again["updated"], again["unchanged"], again["rejected_count"]) == (0, 0, 4, 0)
    renamed = [list(world["rows"][2])]
    renamed[0][1] = "Agustinus Ndun"
    assert (await import_roster(api, renamed))["updated"] == 1
    roster = (await api.programme.get("/programme/roster", headers=office(), params={"opd_id": world["health"]})).json()
    assert sorted(a["name"] for a in roster) == ["Agustinus Ndun", "Markus Bria", "Yohana Lende"]
    assert {a["nip"] for a in roster} == {world["nips"][n] for n in ("yohana", "markus", "agus")}  # the office sees full NIPs
    masked = (await api.programme.get("/programme/roster", headers=officer(world["health"]))).json()
    assert {a["nip"] for a in masked} == {"*" * 14 + world["nips"][n][-4:] for n in ("yohana", "markus", "agus")}
    opds = (await api.programme.get("/programme/opds", headers=officer(world["health"]))).json()
    assert [(o["id"], o["asn_count"]) for o in opds] == [(world["health"], 3)]


async def test_claims_link_at_once_on_a_roster_match_else_after_the_officer_approves(api: Api, world: dict[str, Any]) -> None:
    yohana, markus, nips = world["yohana"], world["markus"], world["nips"]
    linked = await claim(api, yohana, nips["yohana"])
    assert linked.status_code == 201, linked.text
    assert (linked.json()["status"], linked.json()["nip"]) == ("linked", "*" * 14 + nips["yohana"][-4:])
    assert (await claim(api, markus, nips["yohana"])).status_code == 409  # one account per NIP
    pending = await claim(api, markus, nips["markus"])
    assert pending.status_code == 201 and pending.json()["status"] == "pending"
    claim_id = pending.json()["id"]
    # Another OPD's officer neither sees nor decides it.
    assert (await api.programme.get("/programme/claims", headers=officer(world["roads"]))).json() == []
    assert (await api.programme.post(f"/programme/claims/{claim_id}/approve", headers=officer(world["roads"]))).status_code == 404
    queue = (await api.programme.get("/programme/claims", headers=officer(world["health"]))).json()
    assert [c["id"] for c in queue] == [claim_id]
    approved = await api.programme.post(f"/programme/claims/{claim_id}/approve", headers=officer(world["health"]))
    assert approved.status_code == 200 and approved.json()["status"] == "linked", approved.text
    assert (await claim(api, markus, nips["agus"])).status_code == 409  # one NIP per account
    me = (await api.programme.get("/programme/me", headers=api.as_shopper(markus))).json()
    assert (me["status"], me["name"], me["opd_id"]) == ("linked", "Markus Bria", world["health"])
    bad = await claim(api, api.shopper(), "198503122010013001")
    assert bad.status_code == 422 and "jenis kelamin" in bad.json()["message"]


async def test_paid_refunded_and_cancelled_orders_move_the_figures_exactly(api: Api, world: dict[str, Any]) -> None:
    yohana, markus = world["yohana"], world["markus"]
    before = await dashboard(api)
    seller = await api.seller("Belu")
    honey = await api.product(seller, price=30_000, stock=50, category="madu", name="Madu hutan Timor")
    cloth = await api.listing(seller, name="Tenun ikat Jenilu", category="tenun", price=25_000, stock=20, ovop_village="Desa Jenilu")

    async def buy(customer: dict[str, str], items: list[tuple[dict[str, Any], int]]) -> str:
        placed = await api.place([(p["id"], q) for p, q in items], customer=customer)
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        await api.payable(order_id)
        await api.pay(order_id)
        await api.order_reaches(order_id, "PAID")
        return order_id

    first = await buy(yohana, [(honey, 2)])  # 60.000
    second = await buy(yohana, [(cloth, 2)])  # 50.000, of which 25.000 refunded
    refund = await api.payments.post(
        f"/payments/{second}/refunds",
        json={"refund_key": f"{second}-r1", "lines": [{"product_id": cloth["id"], "quantity": 1}], "reason": "rusak"},
    )
    assert refund.status_code == 201, refund.text
    third = await buy(markus, [(honey, 4)])  # 120.000: met
    cancelled = (await api.place([(honey["id"], 1)], customer=markus)).json()["id"]
    await api.payable(cancelled)
    assert (await api.orders.post(f"/orders/{cancelled}/cancel", headers=api.as_shopper(markus))).status_code == 200
    await api.order_reaches(cancelled, "CANCELLED")

    mine = await spent_reaches(api, yohana, 85_000)
    assert (mine["commitment"], mine["remaining"], mine["met"]) == (100_000, 15_000, False)
    assert sorted((o["order_id"], o["kind"], o["amount"]) for o in mine["orders"]) == sorted(
        [(first, "paid", 60_000), (second, "paid", 50_000), (second, "refund", -25_000)]
    )
    his = await spent_reaches(api, markus, 120_000)
    assert his["met"] and his["remaining"] == 0 and [o["order_id"] for o in his["orders"]] == [third]

    report = await eventually(
        lambda: compliance(api, office(), government="Provinsi NTT"),
        lambda r: any(row["key"] == world["health"] and row["spent"] == 205_000 for row in r["rows"]),
        timeout=30,
        what="the OPD's figures",
    )
    row = next(r for r in report["rows"] if r["key"] == world["health"])
    assert (row["asn_count"], row["met"], row["share_bps"], row["share"], row["spent"]) == (3, 1, 3333, "33,33%", 205_000)

    levy = sum([(await api.levy_entries(o))["total_levy"] for o in (first, second, third)])
    after = await eventually(lambda: dashboard(api), lambda d: d["gmv"] - before["gmv"] == 205_000, timeout=30, what="dashboard GMV")
    belu = {r["regency"]: r["gross"] for r in after["spending_by_seller_regency"]}.get("Belu", 0)
    belu_before = {r["regency"]: r["gross"] for r in before["spending_by_seller_regency"]}.get("Belu", 0)
    assert after["pad_levy"] - before["pad_levy"] == levy
    assert belu - belu_before == 205_000
    assert after["ovop_gross"] - before["ovop_gross"] == 25_000
    assert (after["active_buyers"] - before["active_buyers"], after["active_sellers"] - before["active_sellers"]) == (2, 1)
    assert after["gmv_target"] == 150_000_000_000

    inbox = await eventually(
        lambda: api.inbox(markus["email"]), lambda m: any(x["kind"] == "asn_commitment_met" for x in m), timeout=60, what="the met message"
    )
    met = next(x for x in inbox if x["kind"] == "asn_commitment_met")
    assert "Rp120.000" in met["text"] and "Rp100.000" in met["text"]
    world["orders"] = [first, second, third, cancelled]


async def test_the_commitment_changes_from_one_month_to_the_next(api: Api, world: dict[str, Any]) -> None:
    this_month = (await progress(api, world["yohana"]))["month"]
    year, month = (int(x) for x in this_month.split("-"))
    following = f"{year + month // 12}-{month % 12 + 1:02d}"
    past = f"{year - 1}-{month:02d}"
    refused = await api.programme.post(
        "/programme/commitments", headers=office(), json={"amount": 50_000, "effective_month": past, "reason": "uji"}
    )
    assert refused.status_code == 422
    created = await api.programme.post(
        "/programme/commitments", headers=office(), json={"amount": 150_000, "effective_month": following, "reason": "Pergub perubahan"}
    )
    assert created.status_code in (201, 409), created.text  # 409: a rerun on the same stack
    versions = (await api.programme.get("/programme/commitments", headers=office())).json()
    assert (following, 150_000) in [(v["effective_month"], v["amount"]) for v in versions]
    assert (await progress(api, world["yohana"]))["commitment"] == 100_000
    later = await progress(api, world["yohana"], following)
    assert (later["commitment"], later["spent"], later["remaining"]) == (150_000, 0, 150_000)
    assert (
        await api.programme.post(
            "/programme/commitments", headers=officer(world["health"]), json={"amount": 1, "effective_month": following, "reason": "x"}
        )
    ).status_code == 403


async def test_an_opd_officer_sees_only_its_opd_and_a_shopper_sees_no_compliance(api: Api, world: dict[str, Any]) -> None:
    health, roads = world["health"], world["roads"]
    own = await compliance(api, officer(roads))
    assert [r["key"] for r in own["rows"]] == [roads]
    assert (await api.programme.get(f"/programme/compliance/opds/{health}/below", headers=officer(roads))).status_code == 404
    assert (await api.programme.get("/programme/compliance/governments", headers=officer(roads))).status_code == 403
    assert (await api.programme.get("/programme/dashboard", headers=officer(roads))).status_code == 403
    assert (await api.programme.get("/programme/roster/export", headers=officer(roads))).status_code == 403
    shopper = api.as_shopper(world["yohana"])
    for path in (
        "/programme/compliance/opds",
        "/programme/compliance/governments",
        f"/programme/compliance/opds/{health}/below",
        "/programme/dashboard",
    ):
        assert (await api.programme.get(path, headers=shopper)).status_code == 403, path
    assert (await api.programme.get("/programme/compliance/opds", headers={"Authorization": ""})).status_code == 401
    below = (await api.programme.get(f"/programme/compliance/opds/{health}/below", headers=officer(health))).json()
    assert [(b["name"], b["spent"], b["remaining"]) for b in below["items"]] == [
        ("Agustinus Ndun", 0, 100_000),
        ("Yohana Lende", 85_000, 15_000),
    ]
    assert all(b["nip"].startswith("*" * 14) for b in below["items"])


async def test_exports_end_with_a_total_row_and_carry_no_formulas(api: Api, world: dict[str, Any]) -> None:
    response = await api.programme.get(
        "/programme/compliance/exports/opds", headers=office(), params={"format": "csv", "government": "Provinsi NTT"}
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Kode", "Nama", "Pemerintah", "Jumlah ASN"] and rows[-1][0] == "TOTAL"
    assert int(rows[-1][6]) == sum(int(r[6]) for r in rows[1:-1])
    xlsx = await api.programme.get(
        f"/programme/compliance/opds/{world['health']}/below/export", headers=officer(world["health"]), params={"format": "xlsx"}
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[-1][:2] == ["TOTAL", "2 ASN"] and values[-1][3:] == [85_000, 115_000]
    assert not [c for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    exported = await api.programme.get("/programme/roster/export", headers=office(), params={"opd_id": world["roads"]})
    assert world["nips"]["dewi"] in exported.text
    audit = (await api.programme.get("/programme/roster/exports", headers=office())).json()
    assert audit[0]["who"] == "bkd@nttprov.example.id" and audit[0]["filters"]["opd_id"] == world["roads"] and audit[0]["rows"] == 1


async def test_reminders_from_two_instances_reach_each_asn_below_the_commitment_once(api: Api, world: dict[str, Any], system: Any) -> None:
    from infra.apps import start_app

    second = start_app(system.profile, system.endpoints, "programme", instance=1, port=system.profile.programme + 50)
    try:
        import httpx

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.profile.programme + 50}", timeout=120) as other:
            runs = await asyncio.gather(
                api.programme.post("/programme/reminders/run", headers=office(), timeout=120),
                other.post("/programme/reminders/run", headers=office()),
                api.programme.post("/programme/reminders/run", headers=office(), timeout=120),
            )
    finally:
        second.stop()
    assert all(r.status_code == 200 for r in runs), [r.text for r in runs]
    t = world["t"]
    below = {world["yohana"]["email"], f"agus-{t}@nttprov.example.id", f"dewi-{t}@nttprov.example.id"}
    for email in below:
        inbox = await eventually(
            lambda e=email: api.inbox(e),
            lambda m: any(x["kind"] == "asn_commitment_reminder" for x in m),
            timeout=60,
            what=f"reminder to {email}",
        )
        assert len([x for x in inbox if x["kind"] == "asn_commitment_reminder"]) == 1, email
    reminder = next(x for x in await api.inbox(world["yohana"]["email"]) if x["kind"] == "asn_commitment_reminder")
    assert "Rp15.000" in reminder["subject"] and "Rp85.000" in reminder["text"]
    assert not [x for x in await api.inbox(world["markus"]["email"]) if x["kind"] == "asn_commitment_reminder"]
    again = await api.programme.post("/programme/reminders/run", headers=office())
    assert again.json()["sent"] == 0
