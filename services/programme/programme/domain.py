"""Pure rules of the programme: NIP structure, months in WITA, the commitment in force, shares.

No I/O here, so that every rule is unit-tested on its own."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from beli_contracts.reference import REGENCIES
from beli_runtime.clock import WITA, as_utc

PROVINCE = "Provinsi NTT"
GOVERNMENTS: tuple[str, ...] = (PROVINCE, *REGENCIES)
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
OPD_ID_PATTERN = r"^[a-z0-9-]{2,64}$"
_DIGITS = re.compile(r"^\d{18}$")


class InvalidNip(ValueError):
    """The NIP does not have the structure of a civil servant's number (the message says why)."""


@dataclass(frozen=True)
class Nip:
    """NIP: birth date YYYYMMDD, appointment YYYYMM, sex (1 male, 2 female), 3-digit sequence."""

    value: str
    birth_date: date
    appointed: tuple[int, int]
    sex: str
    sequence: int


def parse_nip(raw: str) -> Nip:
    value = "".join(str(raw).split())
    if not _DIGITS.match(value):
        raise InvalidNip("NIP harus 18 digit angka")
    try:
        birth = date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise InvalidNip("tanggal lahir pada NIP (digit 1-8) tidak valid") from None
    year, month = int(value[8:12]), int(value[12:14])
    if not 1 <= month <= 12:
        raise InvalidNip("bulan pengangkatan pada NIP (digit 13-14) tidak valid")
    if birth.year < 1940:
        raise InvalidNip("tahun lahir pada NIP terlalu lama")
    # Civil servants are appointed as adults: an appointment before 17 is a typo.
    if year - birth.year < 17 or year > 2100:
        raise InvalidNip("tahun pengangkatan pada NIP tidak sesuai tanggal lahir")
    if value[14] not in "12":
        raise InvalidNip("digit jenis kelamin pada NIP (digit 15) harus 1 atau 2")
    sequence = int(value[15:18])
    if sequence == 0:
        raise InvalidNip("nomor urut pada NIP (digit 16-18) tidak boleh 000")
    return Nip(value, birth, (year, month), value[14], sequence)


def mask_nip(nip: str) -> str:
    """Personal data: everyone but the programme office sees only the last four digits."""
    return "*" * (len(nip) - 4) + nip[-4:]


def month_of(moment: datetime) -> str:
    """The WITA month (YYYY-MM) a moment falls in: NTT's calendar, not UTC's."""
    return as_utc(moment).astimezone(WITA).strftime("%Y-%m")


def month_start(month: str) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, 1, tzinfo=WITA)


def next_month(month: str) -> str:
    start = month_start(month)
    return (start + timedelta(days=32)).strftime("%Y-%m")


def days_in(month: str) -> int:
    year, number = (int(part) for part in month.split("-"))
    return calendar.monthrange(year, number)[1]


def reminder_moment(month: str, day: int, hour: int) -> datetime:
    """The reminder day of the month at `hour` WITA; a day past the month's end is its last day."""
    start = month_start(month)
    return start.replace(day=min(day, days_in(month)), hour=hour)


def days_left(month: str, now: datetime) -> int:
    end = month_start(next_month(month))
    return max(0, (end - as_utc(now).astimezone(WITA)).days)


@dataclass(frozen=True)
class CommitmentVersion:
    """The monthly commitment from `effective_month` on, until a later version."""

    effective_month: str
    amount: int
    reason: str
    created_by: str
    created_at: datetime


def commitment_for(versions: Iterable[CommitmentVersion], month: str, default: int) -> int:
    """The amount in force for `month`: the version with the latest effective month not after it."""
    best: CommitmentVersion | None = None
    for version in versions:
        if version.effective_month <= month and (best is None or version.effective_month > best.effective_month):
            best = version
    return best.amount if best is not None else default


def met(spent: int, commitment: int) -> bool:
    return spent >= commitment


def share_bps(part: int, whole: int) -> int:
    """part/whole in basis points, rounded half-up (integers only: no float drift in reports)."""
    if whole <= 0:
        return 0
    return (part * 20_000 + whole) // (2 * whole)


def percent_text(bps: int) -> str:
    whole, rest = divmod(bps, 100)
    return f"{whole},{rest:02d}%"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def normal_phone(phone: str | None) -> str:
    """Digits only, national form (08…): +62812… and 0812… are the same number."""
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("62"):
        digits = "0" + digits[2:]
    elif digits.startswith("8"):  # a spreadsheet number cell lost the leading zero
        digits = "0" + digits
    return digits


def normal_email(email: str | None) -> str:
    return (email or "").strip().lower()


# --- roster and OPD files ------------------------------------------------------------------

ROSTER_COLUMNS = {
    "nip": ("nip",),
    "name": ("nama", "name", "nama_lengkap"),
    "opd_id": ("opd", "kode_opd", "opd_id", "id_opd"),
    "email": ("email", "e-mail", "surel"),
    "phone": ("telepon", "phone", "hp", "no_hp", "nomor_hp"),
}
OPD_COLUMNS = {
    "id": ("kode", "kode_opd", "id", "opd_id"),
    "name": ("nama", "name", "nama_opd"),
    "government": ("pemerintah", "government", "pemda", "kabupaten_kota"),
}


@dataclass(frozen=True)
class Rejected:
    row: int  # the row number in the file (the header is row 1)
    value: str
    reason: str


def header_map(header: list[str], columns: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Which column holds which field, whatever the case, spacing or alias used."""
    found: dict[str, int] = {}
    for index, title in enumerate(header):
        key = str(title or "").strip().lower().replace(" ", "_")
        for field, aliases in columns.items():
            if key in aliases and field not in found:
                found[field] = index
    return found


def roster_nip(row: dict[str, str]) -> str:
    return "".join(row.get("nip", "").split())


def repeated_nips(nips: Iterable[str]) -> set[str]:
    """The NIPs found more than once in a file (a first walk over it, before any row is judged)."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for text in nips:
        value = "".join(text.split())
        if value in seen:
            repeated.add(value)
        seen.add(value)
    return repeated


def check_roster_row(number: int, row: dict[str, str], repeated: set[str], known_opds: set[str]) -> dict[str, str] | Rejected:
    """One row as {nip, name, opd_id, email, phone}, or why it is refused. A NIP twice in one file
    is refused in every row it appears: which of the two is right is for the office to say."""
    value = roster_nip(row)
    try:
        parse_nip(value)
    except InvalidNip as invalid:
        return Rejected(number, value, str(invalid))
    opd_id = row.get("opd_id", "").strip()
    if value in repeated:
        return Rejected(number, value, "NIP muncul lebih dari sekali dalam berkas")
    if opd_id not in known_opds:
        return Rejected(number, value, f"OPD tidak dikenal: {opd_id or '(kosong)'}")
    if len(row.get("name", "").strip()) < 2:
        return Rejected(number, value, "nama kosong")
    return {
        "nip": value,
        "name": row["name"].strip()[:120],
        "opd_id": opd_id,
        "email": normal_email(row.get("email")),
        "phone": normal_phone(row.get("phone")),
    }


def validate_roster(rows: list[dict[str, str]], known_opds: set[str]) -> tuple[list[dict[str, str]], list[Rejected]]:
    """Every row of a file judged (row numbers from 2): the good ones and the refused ones."""
    repeated = repeated_nips(row.get("nip", "") for row in rows)
    good: list[dict[str, str]] = []
    rejected: list[Rejected] = []
    for number, row in enumerate(rows, start=2):
        checked = check_roster_row(number, row, repeated, known_opds)
        if isinstance(checked, Rejected):
            rejected.append(checked)
        else:
            good.append(checked)
    return good, rejected
