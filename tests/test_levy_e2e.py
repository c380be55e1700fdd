"""Operators' levy rules end to end: validation, history, a rule change between sales, and the
finance office's summaries and exports checked against figures computed by hand."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import load_workbook

from tests.support import Api
from tests.test_levy_ledger import finance, paid_order, today_wita


async def rule(api: Api, **body: Any) -> Any:
    return await api.payments.post("/admin/levy-rules", json={"reason": "Pergub PAD 2025", **body})


async def test_invalid_rules_are_refused_with_the_field_named(api: Api) -> None:
    for body, field, status in (
        ({"rate_bps": -5}, "rate_bps", 422),
        ({"rate_bps": 10_001}, "rate_bps", 422),
        ({"rate_bps": 100, "regency": "Jakarta Selatan"}, "regency", 422),
        ({"rate_bps": 100, "category": "tenun", "effective_from": "2020-01-01T00:00:00Z"}, "effective_from", 422),
        ({"rate_bps": "banyak"}, "rate_bps", 422),
    ):
        answer = await rule(api, **body)
        assert answer.status_code == status, answer.text
        assert answer.json()["errors"][0]["field"] == field, answer.text
    starts = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    first = await rule(api, rate_bps=120, category="kelor", regency="Lembata", effective_from=starts)
    assert first.status_code == 201, first.text
    clash = await rule(api, rate_bps=130, category="kelor", regency="Lembata", effective_from=starts)
    assert clash.status_code == 409 and clash.json()["errors"][0]["field"] == "effective_from"


async def rote_ndao_today(api: Api) -> dict[str, int]:
    """Today's row of Rote Ndao's summary by day (zeros before its first sale)."""
    rows = (await finance(api, "summary", group_by="day", regency="Rote Ndao", **{"from": today_wita()}))["rows"]
    today = next((row for row in rows if row["key"] == today_wita()), {})
    return {k: today.get(k, 0) for k in ("entries", "gross", "levy", "seller_payable")}


async def test_orders_across_regencies_and_categories_with_a_rule_change_in_between(api: Api) -> None:
    sabu, rote = await api.seller("Sabu Raijua"), await api.seller("Rote Ndao")
    sei = await api.product(rote, price=85_000, stock=50, category="daging_olahan", name="Sei babi Rote")
    oil = await api.product(sabu, price=61_250, stock=50, category="minyak_kelapa", name="VCO Sabu")
    sabu_sei = await api.product(sabu, price=79_999, stock=50, category="daging_olahan", name="Sei sapi Sabu")

    # Other tests sell in Rote Ndao too (the web journeys, late payments): its figures are compared
    # with what the ledger held for it before these orders.
    rote_before = await rote_ndao_today(api)

    # daging_olahan everywhere 250 bps, but in Rote Ndao 300; anything from Sabu Raijua 175.
    for body in (
        {"rate_bps": 250, "category": "daging_olahan"},
        {"rate_bps": 300, "category": "daging_olahan", "regency": "Rote Ndao"},
        {"rate_bps": 175, "regency": "Sabu Raijua"},
    ):
        assert (await rule(api, **body)).status_code == 201
    first = await paid_order(api, [(sei, 2), (oil, 3), (sabu_sei, 1)])

    changed = await rule(api, rate_bps=500, category="daging_olahan", regency="Rote Ndao", reason="Tarif baru")
    assert changed.status_code == 201 and changed.json()["version"] == 2
    second = await paid_order(api, [(sei, 1), (oil, 1)])

    history = (await api.payments.get("/admin/levy-rules/pad:daging_olahan:rote-ndao")).json()["versions"]
    assert [(v["version"], v["rate_bps"]) for v in history] == [(1, 300), (2, 500)]
    assert "pad:daging_olahan:rote-ndao" in {r["rule_id"] for r in (await api.payments.get("/admin/levy-rules")).json()["items"]}

    # By hand: 170000*3% = 5100; 183750*1.75% = 3215.625 -> 3216; 79999*2.5% = 1999.975 -> 2000;
    # after the change 85000*5% = 4250; 61250*1.75% = 1071.875 -> 1072.
    expected = {
        (first, sei["id"]): (170_000, 5_100, "pad:daging_olahan:rote-ndao", 1),
        (first, oil["id"]): (183_750, 3_216, "pad:*:sabu-raijua", 1),
        (first, sabu_sei["id"]): (79_999, 2_000, "pad:daging_olahan:*", 1),
        (second, sei["id"]): (85_000, 4_250, "pad:daging_olahan:rote-ndao", 2),
        (second, oil["id"]): (61_250, 1_072, "pad:*:sabu-raijua", 1),
    }
    for order_id in (first, second):
        for e in (await finance(api, "ledger", order_id=order_id))["items"]:
            assert (e["gross"], e["levy"], e["rule_id"], e["rule_version"]) == expected[(order_id, e["product_id"])]

    by_regency = {row["key"]: row for row in (await finance(api, "summary", group_by="regency", **{"from": today_wita()}))["rows"]}
    rote_now = await rote_ndao_today(api)
    assert {k: rote_now[k] - rote_before[k] for k in rote_now} == {"entries": 2, "gross": 255_000, "levy": 9_350, "seller_payable": 245_650}
    assert (by_regency["Rote Ndao"]["gross"], by_regency["Rote Ndao"]["levy"]) == (rote_now["gross"], rote_now["levy"])
    assert (by_regency["Sabu Raijua"]["gross"], by_regency["Sabu Raijua"]["levy"]) == (324_999, 6_288)
    sabu_by_category = await finance(api, "summary", group_by="category", regency="Sabu Raijua")
    assert {r["key"]: (r["gross"], r["levy"], r["seller_payable"]) for r in sabu_by_category["rows"]} == {
        "daging_olahan": (79_999, 2_000, 77_999),
        "minyak_kelapa": (245_000, 4_288, 240_712),
    }
    listed = (await finance(api, "ledger", regency="Sabu Raijua", limit=1000))["items"]
    assert sabu_by_category["totals"]["levy"] == sum(e["levy"] for e in listed) == 6_288
    for order_id in (first, second):  # other tests leave differences of their own on purpose
        assert (await finance(api, "checks/gross-identity", order_id=order_id))["ok"] is True

    # Exports: opened as a spreadsheet program would, their TOTAL rows equal the API's totals.
    summary = await finance(api, "summary", group_by="seller", regency="Sabu Raijua")
    csv_file = await api.payments.get("/finance/exports/summary", params={"group_by": "seller", "regency": "Sabu Raijua", "format": "csv"})
    assert csv_file.status_code == 200 and csv_file.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert rows[0] == ["ID Penjual", "Penjual", "Jumlah Entri", "Bruto (Rp)", "Kontribusi PAD (Rp)", "Hak Penjual (Rp)"]
    assert rows[-1] == ["TOTAL", "", "3", "324999", "6288", "318711"]
    assert [int(x) for x in rows[-1][3:]] == [summary["totals"][k] for k in ("gross", "levy", "seller_payable")]

    xlsx = await api.payments.get("/finance/exports/ledger", params={"regency": "Sabu Raijua", "format": "xlsx"})
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    header, body, total = table[0], table[1:-1], table[-1]
    gross_col, levy_col, when_col = header.index("Bruto (Rp)"), header.index("Kontribusi PAD (Rp)"), header.index("Waktu (WITA)")
    assert len(body) == 3 and all(type(row[gross_col]) is int and type(row[levy_col]) is int for row in body)
    assert (total[0], total[gross_col], total[levy_col]) == ("TOTAL", 324_999, 6_288)
    assert total[levy_col] == sum(e["levy"] for e in listed)
    assert body[0][when_col].startswith(today_wita())

    # Other tests sell in Rote Ndao too: the export's TOTAL is compared with the API's figure for
    # the same filter (today), which already holds this test's two entries.
    ledger_csv = await api.payments.get("/finance/exports/ledger", params={"regency": "Rote Ndao", "from": today_wita(), "format": "csv"})
    csv_rows = list(csv.reader(io.StringIO(ledger_csv.content.decode("utf-8-sig"))))
    assert csv_rows[-1][0] == "TOTAL" and int(csv_rows[-1][csv_rows[0].index("Kontribusi PAD (Rp)")]) == rote_now["levy"]


async def test_bad_finance_queries_name_the_field(api: Api) -> None:
    bad_day = await api.payments.get("/finance/ledger", params={"from": "31-01-2025"})
    assert bad_day.status_code == 422 and bad_day.json()["errors"][0]["field"] == "query.from"
    backwards = await api.payments.get("/finance/summary", params={"from": "2025-02-01", "to": "2025-01-01"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "from"
    bad_group = await api.payments.get("/finance/summary", params={"group_by": "planet"})
    assert bad_group.status_code == 422 and bad_group.json()["errors"][0]["field"] == "query.group_by"
    bad_format = await api.payments.get("/finance/exports/ledger", params={"format": "pdf"})
    assert bad_format.status_code == 422
