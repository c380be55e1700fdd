"""The ledger and summaries as tables for the finance office's spreadsheets (rendered to CSV and
XLSX by beli_runtime.exports, which keeps user-given names from running as formulas).

Headers are in Bahasa Indonesia; amounts are integer Rupiah cells (never floats, never text);
times are WITA; each file ends with a TOTAL row equal to the API's totals for the same filter.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from beli_runtime.clock import WITA, as_utc
from beli_runtime.exports import Table

LEDGER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sequence", "Urutan"),
    ("_id", "ID Entri"),
    ("kind", "Jenis"),
    ("recorded_at", "Waktu (WITA)"),
    ("period", "Periode"),
    ("order_id", "Nomor Pesanan"),
    ("product_id", "ID Produk"),
    ("product_name", "Produk"),
    ("seller_id", "ID Penjual"),
    ("seller_name", "Penjual"),
    ("regency", "Kabupaten/Kota"),
    ("category", "Kategori"),
    ("channel", "Kanal Penjualan"),
    ("quantity", "Jumlah"),
    ("unit_price", "Harga Satuan (Rp)"),
    ("gross", "Bruto (Rp)"),
    ("levy", "Kontribusi PAD (Rp)"),
    ("seller_payable", "Hak Penjual (Rp)"),
    ("rule_id", "Aturan"),
    ("rule_version", "Versi Aturan"),
    ("rate_bps", "Tarif (bps)"),
    ("reverses", "Membalik Entri"),
    ("hash", "Hash"),
)
SUMMARY_KEY_LABEL = {
    "day": "Tanggal (WITA)",
    "month": "Periode",
    "regency": "Kabupaten/Kota",
    "seller": "ID Penjual",
    "category": "Kategori",
    "channel": "Kanal Penjualan",
}
SUMMARY_AMOUNTS: tuple[tuple[str, str], ...] = (
    ("entries", "Jumlah Entri"),
    ("gross", "Bruto (Rp)"),
    ("levy", "Kontribusi PAD (Rp)"),
    ("seller_payable", "Hak Penjual (Rp)"),
)
TOTALLED = ("gross", "levy", "seller_payable")
KIND_LABEL = {"levy": "pungutan", "reversal": "pembalikan"}


def wita(moment: datetime) -> str:
    return as_utc(moment).astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S")


def _ledger_row(entry: dict[str, Any]) -> list[Any]:
    row = []
    for key, _ in LEDGER_COLUMNS:
        value = entry.get(key, "online" if key == "channel" else None)
        if value is None:
            row.append("")
        elif key == "recorded_at":
            row.append(wita(value))
        elif key == "kind":
            row.append(KIND_LABEL.get(value, value))
        else:
            row.append(value)
    return row


def ledger_table(entries: Iterable[dict[str, Any]]) -> Table:
    totals = dict.fromkeys(TOTALLED, 0)
    rows = []
    for entry in entries:
        rows.append(_ledger_row(entry))
        for key in TOTALLED:
            totals[key] += entry[key]
    total_row: list[Any] = ["TOTAL", f"{len(rows)} entri"] + [""] * (len(LEDGER_COLUMNS) - 2)
    for index, (key, _) in enumerate(LEDGER_COLUMNS):
        if key in totals:
            total_row[index] = totals[key]
    return Table("Buku Besar PAD", [label for _, label in LEDGER_COLUMNS], rows, total_row)


def summary_table(summary: dict[str, Any]) -> Table:
    seller = summary["group_by"] == "seller"
    header = [SUMMARY_KEY_LABEL[summary["group_by"]]] + (["Penjual"] if seller else []) + [label for _, label in SUMMARY_AMOUNTS]
    rows = [
        [row["key"]] + ([row.get("seller_name", "")] if seller else []) + [row[key] for key, _ in SUMMARY_AMOUNTS]
        for row in summary["rows"]
    ]
    total = ["TOTAL"] + ([""] if seller else []) + [summary["totals"][key] for key, _ in SUMMARY_AMOUNTS]
    return Table(f"Ringkasan {summary['group_by']}", header, rows, total)
