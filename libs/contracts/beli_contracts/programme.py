"""Events produced by the programme service (topic `programme.events`): the ASN monthly
commitment of Gerakan Beli NTT. Notifications turns them into messages."""

from pydantic import Field

from beli_contracts.envelope import EventPayload
from beli_contracts.topics import PROGRAMME_EVENTS
from beli_contracts.values import Rupiah, Value


class _ProgrammeEvent(EventPayload):
    TOPIC = PROGRAMME_EVENTS


class AsnContact(Value):
    """Who gets the message: the ASN's linked account (or the roster's contact when unlinked).
    `nip_masked` only: the full NIP is personal data."""

    name: str
    email: str | None = None
    phone: str | None = None
    account_id: str | None = None
    nip_masked: str
    opd_name: str


class CommitmentMet(_ProgrammeEvent):
    """The ASN's counted spending of `month` reached the commitment (sent once per ASN and month)."""

    TYPE = "programme.commitment_met"
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="WITA month YYYY-MM")
    asn: AsnContact
    commitment: Rupiah
    spent: Rupiah


class CommitmentReminderDue(_ProgrammeEvent):
    """The reminder day came and the ASN is still below the month's commitment (once per ASN and month)."""

    TYPE = "programme.commitment_reminder_due"
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    asn: AsnContact
    commitment: Rupiah
    spent: Rupiah
    remaining: Rupiah
    days_left: int = Field(ge=0)
