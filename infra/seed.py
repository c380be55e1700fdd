"""Demo data for `make dev`: UMKM sellers from several NTT regencies and their typical products,
created through the catalog's HTTP API (so the data is exactly what a seller could enter)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from beli_contracts.outlets import outlet_id_for
from infra.codes import mail_query, newest_code, sms_query

SELLERS: list[dict[str, object]] = [
    {
        "seller": {
            "name": "Tenun Ikat Ina Ndao",
            "regency": "Rote Ndao",
            "village": "Desa Oelunggu",
            "email": "ina.ndao@umkm.beli-ntt.id",
            "phone": "081237001001",
        },
        "products": [
            {
                "name": "Kain tenun ikat Rote motif bunga",
                "category": "tenun",
                "price": 850_000,
                "stock": 12,
                "ovop_village": "Desa Oelunggu",
            },
            {"name": "Selendang tenun Rote", "category": "tenun", "price": 275_000, "stock": 30},
        ],
    },
    {
        "seller": {
            "name": "Kopi Arabika Flores Bajawa",
            "regency": "Ngada",
            "village": "Desa Beiwali",
            "email": "kopi.bajawa@umkm.beli-ntt.id",
            "phone": "081237001002",
        },
        "products": [
            {
                "name": "Kopi Arabika Bajawa sangrai 250 g",
                "category": "kopi",
                "price": 85_000,
                "stock": 200,
                "ovop_village": "Desa Beiwali",
            },
            {"name": "Kopi Arabika Bajawa green bean 1 kg", "category": "kopi", "price": 190_000, "stock": 60},
        ],
    },
    {
        "seller": {
            "name": "Madu Hutan Mutis",
            "regency": "Timor Tengah Selatan",
            "village": "Desa Fatumnasi",
            "email": "madu.mutis@umkm.beli-ntt.id",
            "phone": "081237001003",
        },
        "products": [{"name": "Madu hutan Timor 500 ml", "category": "madu", "price": 120_000, "stock": 80}],
    },
    {
        "seller": {
            "name": "Garam Kupang Bolok",
            "regency": "Kupang",
            "village": "Desa Bolok",
            "email": "garam.bolok@umkm.beli-ntt.id",
            "phone": "081237001004",
        },
        "products": [{"name": "Garam beryodium Kupang 1 kg", "category": "garam", "price": 15_000, "stock": 500}],
    },
    {
        "seller": {
            "name": "Sei Sapi Baun",
            "regency": "Kota Kupang",
            "village": "Kelurahan Oebobo",
            "email": "sei.baun@umkm.beli-ntt.id",
            "phone": "081237001005",
        },
        "products": [{"name": "Sei sapi asap 500 g", "category": "daging_olahan", "price": 135_000, "stock": 40}],
    },
    {
        "seller": {
            "name": "Kelor Jenilu",
            "regency": "Belu",
            "village": "Desa Jenilu",
            "email": "kelor.jenilu@umkm.beli-ntt.id",
            "phone": "081237001006",
        },
        "products": [{"name": "Teh daun kelor Jenilu", "category": "kelor", "price": 35_000, "stock": 150, "ovop_village": "Desa Jenilu"}],
    },
    {
        "seller": {
            "name": "Mete Sikka Maumere",
            "regency": "Sikka",
            "village": "Desa Nita",
            "email": "mete.sikka@umkm.beli-ntt.id",
            "phone": "081237001007",
        },
        "products": [
            {"name": "Jambu mete Flores goreng 250 g", "category": "mete", "price": 65_000, "stock": 120},
            {"name": "Minyak kelapa murni (VCO) 250 ml", "category": "minyak_kelapa", "price": 55_000, "stock": 70},
        ],
    },
    {
        "seller": {
            "name": "Tenun Sumba Prailiu",
            "regency": "Sumba Timur",
            "village": "Kelurahan Prailiu",
            "email": "tenun.prailiu@umkm.beli-ntt.id",
            "phone": "081237001008",
        },
        "products": [
            {
                "name": "Hinggi Sumba Timur pewarna alami",
                "category": "tenun",
                "price": 2_500_000,
                "stock": 5,
                "ovop_village": "Kelurahan Prailiu",
            }
        ],
    },
    {
        "seller": {
            "name": "Jagung Bose Mama Lia",
            "regency": "Timor Tengah Utara",
            "village": "Desa Maubesi",
            "email": "bose.lia@umkm.beli-ntt.id",
            "phone": "081237001009",
        },
        "products": [{"name": "Jagung bose instan 1 kg", "category": "pangan", "price": 25_000, "stock": 300}],
    },
    {
        "seller": {
            "name": "Kopi Manggarai Colol",
            "regency": "Manggarai Timur",
            "village": "Desa Colol",
            "email": "kopi.colol@umkm.beli-ntt.id",
            "phone": "081237001010",
        },
        "products": [{"name": "Kopi Robusta Colol 500 g", "category": "kopi", "price": 95_000, "stock": 90, "ovop_village": "Desa Colol"}],
    },
]


DEV_PASSWORD = "beli-ntt-dev-2026"
FINANCE = {
    "role": "finance",
    "name": "Bapenda Provinsi NTT",
    "email": "keuangan@nttprov.example.id",
    "phone": "081237009001",
    "password": DEV_PASSWORD,
}
# Staff of the NTT Mart outlet in Kota Kupang (role `outlet`); every demo seller consigns its first
# product to that outlet and to its own regency's outlet.
OUTLET_STAFF = {
    "role": "outlet",
    "name": "Kasir NTT Mart Kota Kupang",
    "email": "kasir.kupang@ntt-mart.example.id",
    "phone": "081237009003",
    "password": DEV_PASSWORD,
    "outlet_id": outlet_id_for("Kota Kupang"),
}
SHELF_UNITS = 10
SHOPPER = {
    "role": "shopper",
    "name": "Yohana Bria (ASN)",
    "email": "yohana@nttprov.example.id",
    "phone": "081237009002",
    "password": DEV_PASSWORD,
}


def seed(catalog_url: str, admin_email: str, admin_password: str, messaging_url: str) -> int:
    """Create the demo accounts, sellers and products unless the catalog already has products.
    Every seller signs up with the password DEV_PASSWORD, like the finance officer and shopper,
    and verifies its e-mail and phone with the codes the messaging simulator received."""
    with httpx.Client(base_url=catalog_url, timeout=15) as client, httpx.Client(base_url=messaging_url, timeout=15) as mailbox:
        if client.get("/products", params={"limit": 1}).json()["items"]:
            return 0
        admin = _login(client, admin_email, admin_password)
        client.post("/auth/staff", json=FINANCE, headers=admin).raise_for_status()
        client.post("/auth/staff", json=OUTLET_STAFF, headers=admin).raise_for_status()
        _sign_up(client, mailbox, SHOPPER)
        created = 0
        for entry in SELLERS:
            profile = entry["seller"]
            account = {
                "role": "seller",
                "name": profile["name"],
                "email": profile["email"],
                "phone": profile["phone"],
                "password": DEV_PASSWORD,
            }  # type: ignore[index]
            tokens = _sign_up(client, mailbox, account)
            seller_auth = {"Authorization": f"Bearer {tokens['access_token']}"}
            seller = client.post("/sellers", json=profile, headers=seller_auth).raise_for_status().json()
            # Sellers sign up as `pending`; the operator's verification makes their products visible.
            client.post(f"/admin/sellers/{seller['id']}/verify", headers=admin).raise_for_status()
            for index, product in enumerate(entry["products"]):  # type: ignore[arg-type]
                listed = client.post("/products", json={"seller_id": seller["id"], **product}, headers=seller_auth).raise_for_status()
                created += 1
                if index == 0:
                    for outlet_id in {outlet_id_for("Kota Kupang"), outlet_id_for(str(profile["regency"]))}:  # type: ignore[index]
                        shelf = f"/outlets/{outlet_id}/stock/{listed.json()['id']}"
                        client.put(shelf, json={"stock": SHELF_UNITS}, headers=seller_auth).raise_for_status()
        return created


def _sign_up(client: httpx.Client, mailbox: httpx.Client, account: dict[str, Any]) -> dict[str, Any]:
    since = datetime.now(UTC)
    client.post("/auth/signup", json=account).raise_for_status()
    code = _code(mailbox, *mail_query(account["email"]), since)
    phone_code = _code(mailbox, *sms_query(account["phone"]), since)
    verified = client.post("/auth/verify", json={"email": account["email"], "code": code, "phone_code": phone_code})
    return verified.raise_for_status().json()


def _code(mailbox: httpx.Client, path: str, params: dict[str, str], since: datetime, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = newest_code(mailbox.get(path, params=params).raise_for_status().json(), since)
        if code:
            return code
        time.sleep(0.3)
    raise RuntimeError(f"no verification code arrived at {params} within {timeout:.0f} s: is the notifications service running?")


def _login(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    tokens = client.post("/auth/login", json={"email": email, "password": password}).raise_for_status().json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}
