"""Reading roster/OPD files (CSV or XLSX) and writing exports (CSV or XLSX with a TOTAL row).

Every exported cell is written as text or an integer, never as a formula: names typed by people
(an ASN called "=HYPERLINK(...)") must not run in the office's spreadsheet (OWASP CSV injection)."""

import csv
import io
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from beli_runtime.http import ApiError
from programme.domain import header_map

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def read_table(content: bytes, filename: str, columns: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    """Rows of the file as {field: text}; the first row is the header."""
    if filename.lower().endswith(".xlsx") or content[:2] == b"PK":
        rows = _xlsx_rows(content)
    else:
        text = content.decode("utf-8-sig", errors="replace")
        rows = list(csv.reader(io.StringIO(text), _dialect(text)))
    if not rows:
        raise ApiError(422, "berkas kosong", field="file")
    mapping = header_map(rows[0], columns)
    missing = [field for field in columns if field not in mapping and field not in ("email", "phone")]
    if missing:
        raise ApiError(422, f"kolom wajib tidak ada: {', '.join(missing)}", field="file")
    return [{field: _text(row[index]) if index < len(row) else "" for field, index in mapping.items()} for row in rows[1:] if any(row)]


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma, semicolon (Excel in Indonesian locales) or tab, as the header line shows."""
    header = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the sender's problem: a clear 422
        raise ApiError(422, f"berkas XLSX tidak dapat dibaca: {type(error).__name__}", field="file") from None
    sheet = workbook.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def safe_text(value: Any) -> Any:
    """Integers stay numbers; text that a spreadsheet would read as a formula gets a quote."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: list[str], rows: list[list[Any]], total: list[Any] | None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for row in [header, *rows, *([total] if total else [])]:
        writer.writerow([safe_text(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly


def to_xlsx(title: str, header: list[str], rows: list[list[Any]], total: list[Any] | None) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    bold = Font(bold=True)

    def cells(values: list[Any], strong: bool = False) -> list[WriteOnlyCell]:
        out = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value if isinstance(value, int) and not isinstance(value, bool) else str(value or ""))
            if not isinstance(cell.value, int):
                cell.data_type = "s"  # text, never a formula, whatever it starts with
            if strong:
                cell.font = bold
            out.append(cell)
        return out

    sheet.append(cells(header, strong=True))
    for row in rows:
        sheet.append(cells(row))
    if total:
        sheet.append(cells(total, strong=True))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def media_type(file_format: str) -> str:
    if file_format == "xlsx":
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return "text/csv; charset=utf-8"
