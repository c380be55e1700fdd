"""NTT Mart outlets: one per regency, owned by the catalog service (topic `catalog.events`).

An outlet's id is computed, never looked up: `outlet_id_for("Belu") == "ntt-mart-belu"`, so
every service names the 22 seeded outlets the same way without asking the catalog.
"""

from pydantic import Field

from beli_contracts.envelope import EventPayload
from beli_contracts.reference import REGENCIES
from beli_contracts.topics import CATALOG_EVENTS

OUTLET_PREFIX = "ntt-mart-"
OUTLET_CHANNEL_PREFIX = "outlet:"
ONLINE_CHANNEL = "online"


def regency_slug(regency: str) -> str:
    """Lower case, runs of spaces as one '-': "Kota Kupang" -> "kota-kupang"."""
    return "-".join(regency.lower().split())


def outlet_id_for(regency: str) -> str:
    return OUTLET_PREFIX + regency_slug(regency)


def outlet_name_for(regency: str) -> str:
    return f"NTT Mart {regency}"


def outlet_channel(outlet_id: str) -> str:
    """The sales channel of an in-store sale: `outlet:<outlet id>` (online orders: `online`)."""
    return OUTLET_CHANNEL_PREFIX + outlet_id


def outlet_of_channel(channel: str) -> str | None:
    """The outlet id of an `outlet:<id>` channel; None for `online`."""
    return channel.removeprefix(OUTLET_CHANNEL_PREFIX) if channel.startswith(OUTLET_CHANNEL_PREFIX) else None


# The seeded outlets: one per regency/city, in the order of REGENCIES.
SEEDED_OUTLETS: dict[str, str] = {outlet_id_for(regency): regency for regency in REGENCIES}


class OutletChanged(EventPayload):
    """An outlet was created or changed (seeded ones too, once). Carries the whole outlet, so a
    consumer keeps a read model by replacing its copy; `revision` grows with every change, so an
    older copy arriving late is recognised and ignored."""

    TOPIC = CATALOG_EVENTS
    TYPE = "catalog.outlet_changed"
    outlet_id: str
    name: str
    regency: str
    address: str
    opening_hours: str = Field(description='Free text shown to shoppers, e.g. "Senin–Sabtu 08.00–20.00"')
    phone: str
    active: bool
    revision: int = Field(ge=1)
