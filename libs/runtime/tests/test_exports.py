"""The export helper on its own: formulas never survive as formulas, numbers stay numbers."""

import csv
import io

from openpyxl import load_workbook

from beli_runtime.exports import Table, file_response, to_csv, to_xlsx

HOSTILE = ["=1+2", "+1", "-1+1", "@SUM(1)", "\tx=1", "\rx=1", "\nx=1", "bel\x07l"]


def table() -> Table:
    return Table("Uji: [ringkasan]/*?", ["Nama", "Jumlah"], [[name, -5] for name in HOSTILE], ["TOTAL", -40])


def test_csv_text_cells_are_neutralised_and_numbers_are_not() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(table()).decode("utf-8-sig"), newline="")))
    assert [row[0] for row in rows[1:-1]] == ["'" + name if name[0] in "=+-@\t\r\n" else name for name in HOSTILE]
    assert all(row[1] == "-5" for row in rows[1:-1]) and rows[-1] == ["TOTAL", "-40"]
    # Text is quoted, numbers are bare.
    assert to_csv(table()).decode("utf-8-sig").splitlines()[1] == '"\'=1+2",-5'


def test_xlsx_has_only_string_and_number_cells() -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx(table()))).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert {cell.data_type for cell in cells} == {"s", "n"}
    # (XML reads a carriage return back as a line feed.)
    expected = [name.replace("\r", "\n") for name in HOSTILE[:-1]] + ["bell"]
    assert [row[0].value for row in sheet.iter_rows(min_row=2, max_row=len(HOSTILE) + 1)] == expected
    assert sheet.title == "Uji   ringkasan"


def test_download_names_cannot_break_the_header() -> None:
    response = file_response(b"x", 'a"; filename="evil.exe', "csv")
    assert response.headers["content-disposition"] == 'attachment; filename="a-filename-evil.exe.csv"'
