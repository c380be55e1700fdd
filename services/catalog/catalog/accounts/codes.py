"""One-time codes that prove a person receives mail or texts at an address.

Only a hash of each code is stored. A code lives `CODE_MINUTES`, allows `MAX_TRIES` wrong
guesses and is then void; at most one new code per address every `RESEND_SECONDS`, so nobody
can flood someone's inbox or phone through the sign-up form.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Literal

from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session

CODE_MINUTES = 15
MAX_TRIES = 5
RESEND_SECONDS = 60
What = Literal["email", "phone"]


def _digest(account_id: str, what: What, code: str) -> str:
    return hashlib.sha256(f"{account_id}:{what}:{code}".encode()).hexdigest()


class Codes:
    def __init__(self, db: Database) -> None:
        self.codes = db["verification_codes"]

    async def issue(self, session: Session, account_id: str, what: What) -> tuple[str, datetime] | None:
        """A new code (replacing any earlier one), or None if one was sent too recently."""
        now = utcnow()
        key = f"{account_id}:{what}"
        earlier = await self.codes.find_one({"_id": key}, session=session)
        if earlier is not None and earlier["sent_at"] > now - timedelta(seconds=RESEND_SECONDS):
            return None
        code = f"{secrets.randbelow(10**6):06d}"
        expires_at = now + timedelta(minutes=CODE_MINUTES)
        await self.codes.replace_one(
            {"_id": key},
            {"_id": key, "digest": _digest(account_id, what, code), "sent_at": now, "expires_at": expires_at, "tries": 0},
            upsert=True,
            session=session,
        )
        return code, expires_at

    async def accept(self, account_id: str, what: What, code: str) -> bool:
        """True (and the code is spent) if `code` is the live one; a wrong guess uses up a try."""
        key = f"{account_id}:{what}"
        doc = await self.codes.find_one_and_update(
            {"_id": key, "expires_at": {"$gt": utcnow()}, "tries": {"$lt": MAX_TRIES}}, {"$inc": {"tries": 1}}
        )
        if doc is None or not hmac.compare_digest(doc["digest"], _digest(account_id, what, code.strip())):
            return False
        spent = await self.codes.delete_one({"_id": key, "digest": doc["digest"]})
        return spent.deleted_count == 1
