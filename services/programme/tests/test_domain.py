"""The programme's pure rules: NIP structure, WITA months, commitment versions, shares, roster rows."""

from datetime import UTC, datetime

import pytest

from programme import domain

GOOD = "198503122010012001"  # born 12-03-1985, appointed 01-2010, female, sequence 001


def test_a_well_formed_nip_is_read_into_its_parts() -> None:
    nip = domain.parse_nip("19850312 201001 2 001")
    assert nip.value == GOOD
    assert (nip.birth_date.isoformat(), nip.appointed, nip.sex, nip.sequence) == ("1985-03-12", (2010, 1), "2", 1)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("19850312201001200", "18 digit"),
        ("1985031220100120011", "18 digit"),
        ("19850312201001200A", "18 digit"),
        ("198502302010012001", "tanggal lahir"),  # 30 February
        ("198503122010132001", "bulan pengangkatan"),
        ("198503121995012001", "tahun pengangkatan"),  # appointed at 9
        ("198503122010013001", "jenis kelamin"),
        ("198503122010012000", "nomor urut"),
        ("193003122010012001", "terlalu lama"),
    ],
)
def test_malformed_nips_are_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(domain.InvalidNip, match=reason):
        domain.parse_nip(raw)


def test_nips_are_masked_to_their_last_four_digits() -> None:
    assert domain.mask_nip(GOOD) == "**************2001"


def test_months_are_wita_months() -> None:
    # 31 October 16:30 UTC is already 1 November 00:30 in Kupang.
    assert domain.month_of(datetime(2026, 10, 31, 16, 30, tzinfo=UTC)) == "2026-11"
    assert domain.month_of(datetime(2026, 10, 31, 15, 59, tzinfo=UTC)) == "2026-10"
    assert domain.next_month("2026-12") == "2027-01"


def test_the_reminder_moment_is_the_day_at_the_hour_wita_or_the_last_day() -> None:
    assert domain.reminder_moment("2026-11", 20, 9) == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    assert domain.reminder_moment("2026-02", 31, 9).day == 28
    assert domain.days_left("2026-11", datetime(2026, 11, 20, 1, 0, tzinfo=UTC)) == 10


def test_a_month_is_judged_by_the_version_in_force_for_it() -> None:
    versions = [
        domain.CommitmentVersion(month, amount, "Surat Edaran Gubernur", "bkd@nttprov.example.id", datetime(2026, 11, 1, tzinfo=UTC))
        for month, amount in (("2026-12", 150_000), ("2027-03", 200_000))
    ]
    assert domain.commitment_for(versions, "2026-11", 100_000) == 100_000
    assert domain.commitment_for(versions, "2026-12", 100_000) == 150_000
    assert domain.commitment_for(versions, "2027-02", 100_000) == 150_000
    assert domain.commitment_for(versions, "2027-03", 100_000) == 200_000


def test_met_and_shares_are_integers() -> None:
    assert domain.met(100_000, 100_000) and not domain.met(99_999, 100_000)
    assert domain.share_bps(1, 3) == 3333 and domain.share_bps(2, 3) == 6667 and domain.share_bps(5, 0) == 0
    assert domain.percent_text(6667) == "66,67%"


def test_phones_and_emails_compare_in_one_form() -> None:
    assert (
        domain.normal_phone("+62 812-3456-7890")
        == domain.normal_phone("081234567890")
        == domain.normal_phone("81234567890")
        == "081234567890"
    )
    assert domain.normal_email(" Yohana@NTTprov.example.ID ") == "yohana@nttprov.example.id"


def test_roster_rows_are_kept_or_refused_with_the_reason() -> None:
    rows = [
        {"nip": GOOD, "name": "Yohana", "opd_id": "prov-dinkes", "email": "Y@x.id", "phone": "+6281234567890"},
        {"nip": "123", "name": "Salah", "opd_id": "prov-dinkes"},
        {"nip": "198001012005011002", "name": "Tanpa OPD", "opd_id": "tidak-ada"},
        {"nip": "199001012015021003", "name": "Dua Kali", "opd_id": "prov-dinkes"},
        {"nip": "199001012015021003", "name": "Dua Kali Lagi", "opd_id": "prov-dinkes"},
    ]
    good, rejected = domain.validate_roster(rows, {"prov-dinkes"})
    assert good == [{"nip": GOOD, "name": "Yohana", "opd_id": "prov-dinkes", "email": "y@x.id", "phone": "081234567890"}]
    assert [(r.row, r.reason.split(":")[0]) for r in rejected] == [
        (3, "NIP harus 18 digit angka"),
        (4, "OPD tidak dikenal"),
        (5, "NIP muncul lebih dari sekali dalam berkas"),
        (6, "NIP muncul lebih dari sekali dalam berkas"),
    ]


def test_headers_are_found_whatever_their_case_or_alias() -> None:
    assert domain.header_map(["NIP", "Nama Lengkap", "Kode OPD", "E-mail", "No HP"], domain.ROSTER_COLUMNS) == {
        "nip": 0,
        "name": 1,
        "opd_id": 2,
        "email": 3,
        "phone": 4,
    }
