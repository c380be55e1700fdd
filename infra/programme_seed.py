"""Demo data of Gerakan Beli NTT for `make dev`: OPDs of the province and of several regencies,
a roster of a few hundred ASN (deterministic), the programme office and one OPD officer.
Everything goes through the HTTP APIs (staff accounts by the operator, imports by the office)."""

from __future__ import annotations

import csv
import io
import random

import httpx

PROVINCE_OPDS = (
    ("prov-bkd", "Badan Kepegawaian Daerah"),
    ("prov-biro-ekonomi", "Biro Perekonomian dan Administrasi Pembangunan"),
    ("prov-dinkes", "Dinas Kesehatan, Kependudukan dan Pencatatan Sipil"),
    ("prov-dikbud", "Dinas Pendidikan dan Kebudayaan"),
    ("prov-dinkop", "Dinas Koperasi, Tenaga Kerja dan Transmigrasi"),
    ("prov-disperindag", "Dinas Perindustrian dan Perdagangan"),
    ("prov-dispar", "Dinas Pariwisata dan Ekonomi Kreatif"),
    ("prov-bapenda", "Badan Pendapatan dan Aset Daerah"),
    ("prov-pupr", "Dinas Pekerjaan Umum dan Perumahan Rakyat"),
    ("prov-distan", "Dinas Pertanian dan Ketahanan Pangan"),
)
REGENCY_OPDS = {
    "Kota Kupang": "kota-kupang",
    "Belu": "belu",
    "Sumba Timur": "sumba-timur",
    "Ngada": "ngada",
    "Manggarai Barat": "manggarai-barat",
}
REGENCY_OFFICES = (
    ("dinkes", "Dinas Kesehatan"),
    ("dikbud", "Dinas Pendidikan dan Kebudayaan"),
    ("bkpsdm", "Badan Kepegawaian dan Pengembangan SDM"),
    ("koperasi", "Dinas Koperasi dan UKM"),
)
FIRST = ("Yohanes", "Maria", "Agustinus", "Fransiska", "Yosef", "Theresia", "Marthen", "Elisabeth", "Daniel", "Yuliana", "Petrus", "Dewi")
LAST = ("Bria", "Lende", "Ndun", "Manafe", "Tefa", "Nenobais", "Ratu", "Wadu", "Hurek", "Kase", "Fanggidae", "Bani", "Djara", "Nalle")

PROGRAMME_OFFICE = {"role": "programme", "name": "BKD Provinsi NTT", "email": "bkd@nttprov.example.id", "phone": "081237009003"}
OPD_OFFICER = {
    "role": "opd",
    "name": "Sekretariat Dinas Koperasi",
    "email": "sekretariat.dinkop@nttprov.example.id",
    "phone": "081237009004",
    "opd_id": "prov-dinkop",
}


def opd_rows() -> list[list[str]]:
    rows = [[code, name, "Provinsi NTT"] for code, name in PROVINCE_OPDS]
    for regency, prefix in REGENCY_OPDS.items():
        rows += [
            [f"{prefix}-{code}", f"{name} {'Kota' if regency.startswith('Kota') else 'Kabupaten'} {regency.removeprefix('Kota ')}", regency]
            for code, name in REGENCY_OFFICES
        ]
    return rows


def roster_rows(count: int, shopper_email: str, seed: int = 2026) -> list[list[str]]:
    """`count` ASN with valid NIPs; the first is the demo shopper (so her claim links at once)."""
    rng = random.Random(seed)
    codes = [row[0] for row in opd_rows()]
    rows, seen = [], set()
    while len(rows) < count:
        birth = f"{rng.randint(1966, 1999)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        nip = f"{birth}{int(birth[:4]) + rng.randint(20, 26)}{rng.randint(1, 12):02d}{rng.choice('12')}{rng.randint(1, 999):03d}"
        if nip in seen:
            continue
        seen.add(nip)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = shopper_email if not rows else f"{name.lower().replace(' ', '.')}.{len(rows)}@nttprov.example.id"
        opd = "prov-dinkop" if not rows else rng.choice(codes)
        rows.append([nip, name, opd, email, f"0812{rng.randint(10**7, 10**8 - 1)}"])
    return rows


def _csv(rows: list[list[str]], header: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode()


def seed_programme(catalog_url: str, programme_url: str, admin: dict[str, str], password: str, shopper_email: str, count: int = 300) -> int:
    """Staff accounts, OPDs and the roster; safe to run again (imports update, accounts exist)."""
    with httpx.Client(base_url=catalog_url, timeout=30) as catalog:
        for staff in (PROGRAMME_OFFICE, OPD_OFFICER):
            response = catalog.post("/auth/staff", json={**staff, "password": password}, headers=admin)
            if response.status_code != 409:
                response.raise_for_status()
        tokens = catalog.post("/auth/login", json={"email": PROGRAMME_OFFICE["email"], "password": password}).raise_for_status().json()
    office = {"Authorization": f"Bearer {tokens['access_token']}"}
    with httpx.Client(base_url=programme_url, timeout=120, headers=office) as programme:
        files = {"file": ("opd.csv", _csv(opd_rows(), ["kode", "nama", "pemerintah"]), "text/csv")}
        programme.post("/programme/opds/import", files=files).raise_for_status()
        files = {"file": ("asn.csv", _csv(roster_rows(count, shopper_email), ["nip", "nama", "opd", "email", "telepon"]), "text/csv")}
        report = programme.post("/programme/roster/import", files=files).raise_for_status().json()
    return int(report["created"])
