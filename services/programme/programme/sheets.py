"""Reading roster/OPD files (CSV or XLSX) and writing exports (CSV or XLSX with a TOTAL row).

Exports go through beli_runtime.exports: every cell is text or a number, never a formula, so
names typed by people (an ASN called "=HYPERLINK(...)") never run in the office's spreadsheet."""

import csv
import io
from typing import Any

from openpyxl import load_workbook

from beli_runtime import exports
from beli_runtime.exports import Table
from beli_runtime.http import ApiError
from programme.domain import header_map


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


# Exports are rendered by the one export helper every service uses (beli_runtime.exports).


def to_csv(header: list[str], rows: list[list[Any]], total: list[Any] | None) -> bytes:
    return exports.to_csv(Table("", header, rows, total))


def to_xlsx(title: str, header: list[str], rows: list[list[Any]], total: list[Any] | None) -> bytes:
    return exports.to_xlsx(Table(title, header, rows, total))


def media_type(file_format: str) -> str:
    return exports.MEDIA_TYPES["xlsx" if file_format == "xlsx" else "csv"]
