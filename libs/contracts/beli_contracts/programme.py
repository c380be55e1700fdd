"""Events produced by the programme service (topic `programme.events`): the ASN monthly
commitment of Gerakan Beli NTT (notifications turns them into messages), and verified NIP
claims (orders keeps its own copy, to attach an ASN to an outlet sale by NIP)."""

import hashlib
from datetime import datetime

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


def nip_digest(nip: str) -> str:
    """How a NIP travels outside the programme service: the SHA-256 of its 18 digits (spaces
    ignored). A till looks an ASN up by the digest of the NIP typed. The NIP space is small
    enough to enumerate, so this is pseudonymisation, not secrecy: the events stay personal data."""
    digits = "".join(str(nip).split())
    return hashlib.sha256(f"beli-ntt:nip:{digits}".encode()).hexdigest()


class NipLinked(_ProgrammeEvent):
    """A NIP claim was verified: the account holds that NIP (linked at once because the roster's
    e-mail or phone is the account's, or approved by the OPD), once per link. Keyed by the
    account id. The full NIP never leaves the programme service: `nip_digest` (see
    `nip_digest()`) to find it, `nip_masked` to show it."""

    TYPE = "programme.nip_linked"
    account_id: str
    nip_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    nip_masked: str
    name: str = Field(description="The ASN's name on the roster")
    email: str | None = Field(default=None, description="The account's e-mail when it claimed the NIP")
    phone: str | None = Field(default=None, description="The account's phone when it claimed the NIP")
    opd_id: str
    linked_at: datetime
