"""Reading roster/OPD files (CSV or XLSX) and writing exports (CSV or XLSX with a TOTAL row).

Exports go through beli_runtime.exports: every cell is text or a number, never a formula, so
names typed by people (an ASN called "=HYPERLINK(...)") never run in the office's spreadsheet."""

import csv
import io
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from openpyxl import load_workbook

from beli_runtime import exports
from beli_runtime.exports import Table
from beli_runtime.http import ApiError
from programme.domain import header_map

Columns = dict[str, tuple[str, ...]]


class TableFile:
    """A CSV or XLSX file read row by row, never all at once (a roster of 150,000 rows is ~13 MB
    of CSV but several hundred MB as Python dicts). The header is checked when the file is
    opened; `rows()` can be walked more than once (the roster import walks it twice). An XLSX is
    parsed once, on opening, into CSV (spooled to disk past 8 MB): XLSX parses ~50x slower."""

    def __init__(self, source: BinaryIO, filename: str, columns: Columns) -> None:
        source.seek(0)
        head = source.readline()
        self.dialect: type[csv.Dialect] | csv.Dialect
        if filename.lower().endswith(".xlsx") or head[:2] == b"PK":
            self.source, self.dialect = _xlsx_as_csv(source), csv.excel
        else:
            self.source, self.dialect = source, _dialect(head.decode("utf-8-sig", errors="replace"))
        header = next(self._raw_rows(), None)
        if header is None:
            raise ApiError(422, "berkas kosong", field="file")
        self.mapping = header_map(list(header), columns)
        missing = [field for field in columns if field not in self.mapping and field not in ("email", "phone")]
        if missing:
            raise ApiError(422, f"kolom wajib tidak ada: {', '.join(missing)}", field="file")

    def rows(self) -> Iterator[dict[str, str]]:
        """{field: text} for every non-empty row after the header."""
        raw = self._raw_rows()
        next(raw, None)
        items = list(self.mapping.items())
        for row in raw:
            if any(row):
                yield {field: _text(row[index]) if index < len(row) else "" for field, index in items}

    def column(self, field: str) -> Iterator[str]:
        """One field of every row after the header (blank rows give "")."""
        index = self.mapping[field]
        raw = self._raw_rows()
        next(raw, None)
        for row in raw:
            yield _text(row[index]) if index < len(row) else ""

    def _raw_rows(self) -> Iterator[list[str]]:
        self.source.seek(0)
        text = io.TextIOWrapper(self.source, encoding="utf-8-sig", errors="replace", newline="")
        try:
            yield from csv.reader(text, self.dialect)
        finally:
            text.detach()  # the file stays open for the next walk


def read_table(content: bytes, filename: str, columns: Columns) -> list[dict[str, str]]:
    """Rows of the file as {field: text}; the first row is the header. For small files (OPDs)."""
    return list(TableFile(io.BytesIO(content), filename, columns).rows())


def _dialect(header: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma, semicolon (Excel in Indonesian locales) or tab, as the header line shows."""
    try:
        return csv.Sniffer().sniff(header.rstrip("\r\n"), delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_as_csv(source: BinaryIO) -> BinaryIO:
    """The first sheet as CSV text cells (numbers as the office typed them: 8.1e10 -> "81234567890")."""
    source.seek(0)
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the sender's problem: a clear 422
        raise ApiError(422, f"berkas XLSX tidak dapat dibaca: {type(error).__name__}", field="file") from None
    spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned open, closed with the upload
    text = io.TextIOWrapper(spooled, encoding="utf-8", newline="")
    writer = csv.writer(text)
    for cells in workbook.worksheets[0].iter_rows(values_only=True):
        writer.writerow([_text(cell) for cell in cells] if any(cells) else [])
    text.detach()
    workbook.close()
    return cast(BinaryIO, spooled)


# Exports are rendered by the one export helper every service uses (beli_runtime.exports).


def to_csv(header: list[str], rows: list[list[Any]], total: list[Any] | None) -> bytes:
    return exports.to_csv(Table("", header, rows, total))


def to_xlsx(title: str, header: list[str], rows: list[list[Any]], total: list[Any] | None) -> bytes:
    return exports.to_xlsx(Table(title, header, rows, total))


def media_type(file_format: str) -> str:
    return exports.MEDIA_TYPES["xlsx" if file_format == "xlsx" else "csv"]
