"""The till's cart, kept in the page itself (query string and hidden fields), never on the server:
the web app owns no data, and a till page that is reloaded, sent back or opened twice shows
exactly the cart in its address. Pure: no I/O, so every rule is tested without a stack.

A cart line is written `<product id>:<quantity>` or `<product id>/<variant id>:<quantity>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

LINE = re.compile(r"^([A-Za-z0-9_-]{1,64})(?:/([A-Za-z0-9_-]{1,64}))?:([0-9]{1,6})$")
MAX_LINES = 50  # the orders service's limit per sale
MAX_QUANTITY = 1000
NIP_DIGITS = 18
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
PHONE = re.compile(r"^\+?[0-9]{8,15}$")


def key_of(product_id: str, variant_id: str | None) -> str:
    return f"{product_id}/{variant_id}" if variant_id else product_id


@dataclass
class Cart:
    lines: dict[str, int] = field(default_factory=dict)  # key -> quantity, in the order added
    problems: list[str] = field(default_factory=list)

    def query(self, **extra: str) -> str:
        """The page's address for this cart (and e.g. the search text)."""
        pairs = [("b", f"{key}:{quantity}") for key, quantity in self.lines.items()]
        pairs += [(name, value) for name, value in extra.items() if value]
        return urlencode(pairs)

    def items(self) -> list[dict[str, Any]]:
        """The lines as the orders service takes them."""
        found = []
        for key, quantity in self.lines.items():
            product_id, _, variant_id = key.partition("/")
            found.append({"product_id": product_id, **({"variant_id": variant_id} if variant_id else {}), "quantity": quantity})
        return found


def parse_cart(values: list[str]) -> Cart:
    """The cart written in a page; anything malformed is dropped and said."""
    cart = Cart()
    for value in values[: MAX_LINES * 2]:
        match = LINE.match(value.strip())
        if not match or not 0 < int(match[3]) <= MAX_QUANTITY:
            cart.problems.append("Satu baris keranjang tidak terbaca dan dihapus.")
            continue
        key = key_of(match[1], match[2])
        cart.lines[key] = min(MAX_QUANTITY, cart.lines.get(key, 0) + int(match[3]))
    if len(cart.lines) > MAX_LINES:
        cart.lines = dict(list(cart.lines.items())[:MAX_LINES])
        cart.problems.append(f"Satu penjualan paling banyak {MAX_LINES} baris.")
    return cart


def quantity_of(text: str) -> int | None:
    """A typed quantity: a whole number 0–1000 (0 removes the line), else None."""
    text = text.strip()
    if not text.isdigit() or len(text) > 4:
        return None
    number = int(text)
    return number if number <= MAX_QUANTITY else None


def shelf_index(shelf: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key_of(line["product_id"], line.get("variant_id")): line for line in shelf}


def add(cart: Cart, shelf: dict[str, dict[str, Any]], key: str, quantity: int) -> str | None:
    """Add units of one shelf line; the reason it cannot be done, else None."""
    line = shelf.get(key)
    if line is None:
        return "Produk ini tidak ada di rak outlet ini."
    if line.get("unit_price") is None:
        return f"{label(line)} sedang tidak dijual."
    wanted = cart.lines.get(key, 0) + quantity
    if wanted > line["stock"]:
        return f"Stok rak {label(line)} tinggal {line['stock']}."
    if key not in cart.lines and len(cart.lines) >= MAX_LINES:
        return f"Satu penjualan paling banyak {MAX_LINES} baris."
    cart.lines[key] = wanted
    return None


def scanned(shelf: dict[str, dict[str, Any]], code: str) -> tuple[str | None, str | None]:
    """The shelf line a typed or scanned id names: (key, None), or (None, why not)."""
    code = code.strip()
    if code in shelf:
        return code, None
    by_variant = [key for key, line in shelf.items() if line.get("variant_id") == code]
    if by_variant:
        return by_variant[0], None
    variants = [key for key, line in shelf.items() if line["product_id"] == code]
    if len(variants) == 1:
        return variants[0], None
    if variants:
        return None, "Produk ini punya beberapa varian: pilih variannya di daftar."
    return None, "Kode ini tidak ada di rak outlet ini."


def search(shelf: list[dict[str, Any]], text: str, limit: int = 30) -> list[dict[str, Any]]:
    """Shelf lines whose name (product or variant) holds every word typed, or whose id is it."""
    words = text.lower().split()
    if not words:
        return []
    found = []
    for line in shelf:
        name = f"{line['product_name']} {line.get('variant_name') or ''}".lower()
        ids = {line["product_id"].lower(), (line.get("variant_id") or "").lower()}
        if all(word in name for word in words) or text.strip().lower() in ids:
            found.append(line)
    return found[:limit]


def label(line: dict[str, Any]) -> str:
    return f"{line['product_name']} ({line['variant_name']})" if line.get("variant_name") else line["product_name"]


def priced(cart: Cart, shelf: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The cart's lines with name, price and subtotal (the catalog prices the sale itself)."""
    rows: list[dict[str, Any]] = []
    total = 0
    for key, quantity in cart.lines.items():
        line = shelf.get(key) or {"product_name": key, "unit_price": None, "stock": 0}
        price = line.get("unit_price")
        subtotal = (price or 0) * quantity
        rows.append({"key": key, "name": label(line), "quantity": quantity, "unit_price": price, "subtotal": subtotal})
        total += subtotal
    return rows, total


def buyer_of(text: str) -> tuple[dict[str, str] | None, str | None]:
    """Who the staff typed as the buyer: an e-mail, a phone number or an ASN's NIP (18 digits;
    spaces ignored). (None, None) for an anonymous sale; (None, why) when it is none of them."""
    text = text.strip()
    if not text:
        return None, None
    if "@" in text:
        return ({"email": text.lower()}, None) if EMAIL.match(text) else (None, "Alamat e-mail pembeli tidak valid.")
    compact = re.sub(r"[\s.-]", "", text)
    if compact.isdigit() and len(compact) == NIP_DIGITS:
        return {"nip": compact}, None
    if PHONE.match(compact):
        return {"phone": compact}, None
    return None, "Isi e-mail, nomor HP (8–15 angka) atau NIP (18 angka) pembeli, atau kosongkan."
