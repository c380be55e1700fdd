"""Roster files in (CSV with commas or semicolons, XLSX) and exports out (no formulas, TOTAL row)."""

import csv
import io
import tempfile

import pytest
from openpyxl import Workbook, load_workbook

from beli_runtime.http import ApiError
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


def test_a_large_file_is_walked_row_by_row_and_more_than_once() -> None:
    # The roster import walks the upload twice (its NIPs, then its rows) straight from the
    # spooled upload, CRLF lines and blank rows included.
    with tempfile.SpooledTemporaryFile(max_size=16) as source:
        source.write(
            b"\xef\xbb\xbfnip;nama;opd\r\n198503122010012001;Yohana;prov-dinkes\r\n;;\r\n198001012005011002;Markus;prov-dinkes\r\n"
        )
        table = sheets.TableFile(source, "asn.csv", domain.ROSTER_COLUMNS)
        assert list(table.column("nip")) == ["198503122010012001", "", "198001012005011002"]
        assert [row["name"] for row in table.rows()] == ["Yohana", "Markus"]
        assert [row["name"] for row in table.rows()] == ["Yohana", "Markus"]
        assert not source.closed


def test_an_xlsx_column_is_read_alone_and_its_rows_again() -> None:
    book = Workbook()
    book.active.append(["nama", "opd", "nip"])
    book.active.append(["Yohana", "prov-dinkes", "198503122010012001"])
    book.active.append(["Markus", "prov-dinkes", "198001012005011002"])
    buffer = io.BytesIO()
    book.save(buffer)
    table = sheets.TableFile(buffer, "ASN.XLSX", domain.ROSTER_COLUMNS)
    assert list(table.column("nip")) == ["198503122010012001", "198001012005011002"]
    assert [row["nip"] for row in table.rows()] == ["198503122010012001", "198001012005011002"]


def test_a_file_without_the_required_columns_is_refused() -> None:
    with pytest.raises(ApiError) as refused:
        sheets.TableFile(io.BytesIO(b"nama,opd\nYohana,prov-dinkes\n"), "asn.csv", domain.ROSTER_COLUMNS)
    assert refused.value.status == 422 and "nip" in refused.value.message
    with pytest.raises(ApiError):
        sheets.TableFile(io.BytesIO(b""), "asn.csv", domain.ROSTER_COLUMNS)


def test_exports_never_carry_formulas() -> None:
    rows = [['=HYPERLINK("http://x")', "+62", 5], ["@SUM(A1)", "Maria", 7]]
    text = sheets.to_csv(["a", "b", "n"], rows, ["TOTAL", "", 12]).decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[1][0].startswith("'=") and parsed[2][0].startswith("'@") and parsed[-1] == ["TOTAL", "", "12"]
    sheet = load_workbook(io.BytesIO(sheets.to_xlsx("t", ["a", "b", "n"], rows, ["TOTAL", "", 12]))).active
    assert not [c for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    assert [c.value for c in sheet[3]] == ["@SUM(A1)", "Maria", 7]
