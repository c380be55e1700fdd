"""Events about accounts. Accounts live in the catalog service today, so they travel on its topic
(`catalog.events`), keyed by the account id."""

from datetime import datetime
from typing import Literal

from beli_contracts.envelope import EventPayload
from beli_contracts.topics import CATALOG_EVENTS


class _AccountsEvent(EventPayload):
    TOPIC = CATALOG_EVENTS


class VerificationCodeIssued(_AccountsEvent):
    """A one-time code to prove that a person receives mail (or texts) at `address`. The
    notifications service sends it there and nowhere else; it never enters an inbox.
    `purpose` `already_registered` carries no code: someone tried to sign up again with an
    address that already has an account, and its owner is told so."""

    TYPE = "catalog.verification_code_issued"
    account_id: str
    name: str
    channel: Literal["email", "sms", "whatsapp"]
    address: str
    purpose: Literal["sign_up", "phone", "already_registered"]
    code: str | None = None
    expires_at: datetime | None = None


class AccountVerified(_AccountsEvent):
    """What an account has proven (or, for staff, what an admin vouched for): the addresses that
    messages may go to. Notifications ties finance mail (FINANCE_EMAILS) to staff accounts only."""

    TYPE = "catalog.account_verified"
    account_id: str
    role: Literal["shopper", "seller", "finance", "admin", "programme", "opd", "outlet"]
    email: str
    email_verified: bool
    phone: str
    phone_verified: bool
    name: str | None = None  # added later: the name an outlet's till shows for a buyer's account
