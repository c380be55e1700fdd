"""Reading the seller, finance and operator forms into the services' request bodies, and the
small rules those pages show (masking, stock-low). Pure functions: tested without a stack.

A form field the user left empty is omitted from the body (the service's default applies) rather
than sent as "" (which the services' strict models refuse with a less helpful message).
"""

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

WITA = timezone(timedelta(hours=8))
SELLER_FIELDS = ("name", "owner_name", "nik", "nib", "regency", "village", "email", "phone")
BANK_FIELDS = ("bank", "account_number", "account_holder")
COURIERS = ("JNE", "J&T", "POS Indonesia", "SiCepat", "TIKI", "AnterAja", "Kurir toko")


class FormProblem(ValueError):
    """A field the web form itself can tell is wrong, before asking a service."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


Form = Mapping[str, Any]


def text(form: Form, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def whole_number(form: Form, name: str, *, required: bool = False, label: str = "angka") -> int | None:
    """`150.000`, `150000` or `Rp 150.000` → 150000. Rupiah has no decimals: a comma is refused."""
    raw = text(form, name)
    if not raw:
        if required:
            raise FormProblem(name, f"{label} wajib diisi")
        return None
    cleaned = re.sub(r"^rp\s*", "", raw.lower()).replace(".", "").replace(" ", "")
    if not cleaned.isdigit():
        raise FormProblem(name, f"{label} harus bilangan bulat, misalnya 150000")
    return int(cleaned)


def checked(form: Form, name: str) -> bool:
    return text(form, name) in ("on", "true", "1", "ya")


def mask(value: str | None, keep: int = 4) -> str | None:
    """NIK/NIB and account numbers on an operator's screen: only the last digits."""
    if not value:
        return value
    visible = value[-keep:]
    return "•" * max(len(value) - keep, 0) + visible


def seller_body(form: Form) -> dict[str, Any]:
    """`POST /sellers` from the registration form."""
    body: dict[str, Any] = {name: text(form, name) for name in SELLER_FIELDS if text(form, name)}
    body["ovop"] = checked(form, "ovop")
    bank = {name: text(form, name) for name in BANK_FIELDS}
    if any(bank.values()):
        for name, value in bank.items():
            if not value:
                raise FormProblem(name, "lengkapi data rekening: bank, nomor rekening dan nama pemilik")
        bank["account_number"] = bank["account_number"].replace(" ", "").replace("-", "")
        body["bank_account"] = bank
    return body


def product_body(form: Form, seller_id: str | None = None) -> dict[str, Any]:
    """`POST /products` (with `seller_id`) or `PATCH /products/{id}` (without) from the product form."""
    body: dict[str, Any] = {"name": text(form, "name"), "description": text(form, "description"), "category": text(form, "category")}
    for name, label in (("price", "Harga"), ("weight_grams", "Berat"), ("low_stock_threshold", "Batas stok menipis")):
        value = whole_number(form, name, label=label)
        if value is not None:
            body[name] = value
    village = text(form, "ovop_village")
    if village or seller_id is None:
        body["ovop_village"] = village or None
    if seller_id is not None:
        body["seller_id"] = seller_id
        body["stock"] = whole_number(form, "stock", label="Stok") or 0
        variant = variant_body(form, prefix="variant_", optional=True)
        if variant:
            body["variants"] = [variant]
            body.pop("price", None)  # sold in variants: each variant has its own price
    return body


def variant_body(form: Form, prefix: str = "", optional: bool = False) -> dict[str, Any] | None:
    name = text(form, f"{prefix}name")
    if optional and not name and not text(form, f"{prefix}price"):
        return None
    if not name:
        raise FormProblem(f"{prefix}name", "nama varian wajib diisi")
    return {
        "name": name,
        "price": whole_number(form, f"{prefix}price", required=True, label="Harga varian"),
        "stock": whole_number(form, f"{prefix}stock", label="Stok varian") or 0,
    }


def low_stock(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Units pools strictly below their product's threshold (the catalog's own rule): each
    variant on its own, or the product when it has no variants. Inactive products are skipped."""
    warnings = []
    for product in products:
        threshold = product.get("low_stock_threshold")
        if not threshold or not product.get("active", True):
            continue
        pools = [v for v in product.get("variants", []) if v.get("active", True)] or [None]
        for variant in pools:
            stock = product["stock"] if variant is None else variant["stock"]
            if stock < threshold:
                warnings.append(
                    {
                        "product_id": product["id"],
                        "name": product["name"] if variant is None else f"{product['name']} — {variant['name']}",
                        "stock": stock,
                        "threshold": threshold,
                    }
                )
    return warnings


def effective_from(form: Form) -> str | None:
    """A `datetime-local` typed in WITA → ISO time with its offset; empty = now (the service's default)."""
    raw = text(form, "effective_from")
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise FormProblem("effective_from", "tanggal berlaku tidak dikenali (gunakan tanggal dan jam)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=WITA)).isoformat()


def rate_bps(form: Form) -> int:
    """The operator types a percentage (`2,5` or `2.5`); the service stores basis points (250)."""
    raw = text(form, "rate_percent").replace(",", ".").rstrip("%").strip()
    if not raw:
        raise FormProblem("rate_percent", "tarif wajib diisi")
    try:
        basis_points = round(float(raw) * 100, 6)
    except ValueError:
        raise FormProblem("rate_percent", "tarif harus angka persen, misalnya 1 atau 2,5") from None
    if basis_points != int(basis_points):
        raise FormProblem("rate_percent", "tarif paling teliti 0,01%")
    return int(basis_points)


def percent(bps: int) -> str:
    """250 → `2,5%`."""
    return f"{bps / 100:.2f}".rstrip("0").rstrip(".").replace(".", ",") + "%"
