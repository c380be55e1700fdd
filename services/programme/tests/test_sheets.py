"""Roster files in (CSV with commas or semicolons, XLSX) and exports out (no formulas, TOTAL row)."""

import csv
import io

from openpyxl import Workbook, load_workbook

from programme import domain, sheets


def test_csv_with_semicolons_and_quoted_commas_is_read() -> None:
    content = b'NIP;Nama;Kode OPD\n198503122010012001;"Lende, Yohana";prov-dinkes\n'
    assert sheets.read_table(content, "asn.csv", domain.ROSTER_COLUMNS) == [
        {"nip": "198503122010012001", "name": "Lende, Yohana", "opd_id": "prov-dinkes"}
    ]


def test_xlsx_text_nips_and_numeric_phones_come_back_as_digits() -> None:
    # Offices keep NIPs as text (18 digits do not fit a spreadsheet number); phones are often numbers.
    book = Workbook()
    book.active.append(["nip", "nama", "opd", "telepon"])
    book.active.append(["198503122010012001", "Yohana", "prov-dinkes", 81234567890])
    buffer = io.BytesIO()
    book.save(buffer)
    rows = sheets.read_table(buffer.getvalue(), "asn.xlsx", domain.ROSTER_COLUMNS)
    assert (rows[0]["nip"], rows[0]["phone"]) == ("198503122010012001", "81234567890")


def test_exports_never_carry_formulas() -> None:
    rows = [['=HYPERLINK("http://x")', "+62", 5], ["@SUM(A1)", "Maria", 7]]
    text = sheets.to_csv(["a", "b", "n"], rows, ["TOTAL", "", 12]).decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[1][0].startswith("'=") and parsed[2][0].startswith("'@") and parsed[-1] == ["TOTAL", "", "12"]
    sheet = load_workbook(io.BytesIO(sheets.to_xlsx("t", ["a", "b", "n"], rows, ["TOTAL", "", 12]))).active
    assert not [c for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    assert [c.value for c in sheet[3]] == ["@SUM(A1)", "Maria", 7]
