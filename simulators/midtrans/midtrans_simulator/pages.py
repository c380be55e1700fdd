"""The Snap payment page people click through in dev. Text is Bahasa Indonesia, like the real one."""

from __future__ import annotations

from html import escape
from urllib.parse import quote as _quote
from urllib.parse import urlencode

from .domain import CREATED, STATUS_CODES, Transaction, format_rupiah, to_wib

# form value -> (transaction_status, payment_type) passed to the same rules as /simulator/pay
ACTIONS: dict[str, tuple[str, str]] = {
    "qris": ("settlement", "qris"),
    "va": ("settlement", "bank_transfer"),
    "deny": ("deny", "qris"),
    "expire": ("expire", "qris"),
}

STATUS_LABELS: dict[str, str] = {
    CREATED: "Menunggu pilihan metode pembayaran",
    "pending": "Menunggu pembayaran",
    "capture": "Dibayar (menunggu penyelesaian)",
    "settlement": "Lunas",
    "deny": "Ditolak",
    "cancel": "Dibatalkan",
    "expire": "Kedaluwarsa",
    "failure": "Gagal",
    "refund": "Dana dikembalikan",
    "partial_refund": "Dana dikembalikan sebagian",
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#222}
table{width:100%;border-collapse:collapse;margin:1rem 0}td,th{padding:.4rem;border-bottom:1px solid #ddd}
td.n,th.n{text-align:right}.total{font-size:1.4rem;font-weight:bold}
.note{background:#fff6d5;padding:.6rem;border-radius:.4rem}.msg{background:#e6f4ea;padding:.6rem}
form{display:inline-block;margin:.3rem .3rem 0 0}button{padding:.6rem 1rem;font-size:1rem;cursor:pointer}
"""


def quote(text: str) -> str:
    return _quote(text, safe="")


def delivery_message(delivered: bool, http_status: int | None) -> str:
    if delivered:
        return f"Notifikasi terkirim ke toko (HTTP {http_status})."
    shown = f"HTTP {http_status}" if http_status is not None else "tidak tersambung"
    return f"Notifikasi belum diterima toko ({shown}); simulator akan mencoba lagi."


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def not_found() -> str:
    return _page(
        "Transaksi tidak ditemukan",
        "<h1>Transaksi tidak ditemukan</h1><p>Tautan pembayaran ini tidak dikenal.</p>",
    )


def _items_table(tx: Transaction) -> str:
    if not tx.items:
        return ""
    rows = "".join(
        f"<tr><td>{escape(i.name)}</td><td class=n>{i.quantity}</td>"
        f"<td class=n>{format_rupiah(i.price)}</td>"
        f"<td class=n>{format_rupiah(i.price * i.quantity)}</td></tr>"
        for i in tx.items
    )
    return f"<table><tr><th>Barang</th><th class=n>Jumlah</th><th class=n>Harga</th><th class=n>Subtotal</th></tr>{rows}</table>"


def _buttons(tx: Transaction) -> str:
    if tx.status not in (CREATED, "pending"):
        return ""
    labels = {
        "qris": "Bayar dengan QRIS",
        "va": "Bayar dengan Virtual Account",
        "deny": "Tolak pembayaran",
        "expire": "Biarkan kedaluwarsa",
    }
    action = f"/snap/v4/redirection/{escape(tx.token)}/pay"
    return "".join(
        f'<form method="post" action="{action}">'
        f'<input type="hidden" name="action" value="{key}"><button type="submit">{label}</button></form>'
        for key, label in labels.items()
    )


def _finish_link(tx: Transaction) -> str:
    if tx.finish_url is None or tx.status == CREATED:
        return ""
    query = urlencode(
        {
            "order_id": tx.order_id,
            "status_code": STATUS_CODES[tx.status],
            "transaction_status": tx.status,
        }
    )
    separator = "&" if "?" in tx.finish_url else "?"
    return f'<p><a href="{escape(tx.finish_url + separator + query)}">Kembali ke toko</a></p>'


def payment_page(tx: Transaction, message: str | None) -> str:
    title = f"Bayar pesanan {tx.order_id}"
    notice = f'<p class="msg">{escape(message)}</p>' if message else ""
    body = (
        f"<h1>{escape(title)}</h1>{notice}"
        f'<p class="total">Total: {format_rupiah(tx.gross_amount)}</p>'
        f"{_items_table(tx)}"
        f"<p>Status: <strong>{escape(STATUS_LABELS.get(tx.status, tx.status))}</strong></p>"
        f"<p>Bayar sebelum {to_wib(tx.expires_at)} WIB.</p>"
        f"{_buttons(tx)}{_finish_link(tx)}"
        '<p class="note">Ini simulator Midtrans untuk pengembangan: tidak ada uang sungguhan.</p>'
    )
    return _page(title, body)
