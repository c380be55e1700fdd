"""Outlet ids are computed the same way by every service."""

from beli_contracts.outlets import SEEDED_OUTLETS, outlet_channel, outlet_id_for, outlet_of_channel
from beli_contracts.reference import REGENCIES


def test_outlet_ids_are_the_regency_slugs() -> None:
    assert outlet_id_for("Belu") == "ntt-mart-belu"
    assert outlet_id_for("Kota Kupang") == "ntt-mart-kota-kupang"
    assert outlet_id_for("Timor Tengah Selatan") == "ntt-mart-timor-tengah-selatan"
    assert len(SEEDED_OUTLETS) == len(REGENCIES) == 22


def test_channels_name_their_outlet() -> None:
    assert outlet_channel("ntt-mart-sikka") == "outlet:ntt-mart-sikka"
    assert outlet_of_channel("outlet:ntt-mart-sikka") == "ntt-mart-sikka"
    assert outlet_of_channel("online") is None
