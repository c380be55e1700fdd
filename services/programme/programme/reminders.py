"""The monthly reminder: from the reminder day (default the 20th, 09:00 WITA) every ASN below the
commitment gets one message. Exactly once per ASN and month, even with several instances or a
run by hand at the same time: the reminder row's key is `month:nip`, inserted in the same
transaction as the event, so a second writer gets a duplicate key and sends nothing."""

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from beli_contracts.programme import CommitmentReminderDue
from beli_runtime.clock import utcnow
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Session
from beli_runtime.service import ServiceRuntime
from programme import domain
from programme.settings import ProgrammeSettings
from programme.store import ProgrammeStore
from programme.tallies import Tallies, asn_key

log = get_logger(__name__)
PAGE = 500


class Reminders:
    def __init__(self, runtime: ServiceRuntime, store: ProgrammeStore, tallies: Tallies, settings: ProgrammeSettings) -> None:
        self.runtime = runtime
        self.store = store
        self.tallies = tallies
        self.settings = settings

    async def scheduled(self) -> bool:
        """The background job: once the month's reminder moment has passed, one pass per month."""
        if self.settings.reminder_day <= 0:
            return False
        now = utcnow()
        month = domain.month_of(now)
        if now < domain.reminder_moment(month, self.settings.reminder_day, self.settings.reminder_hour):
            return False
        if await self.store.db["reminder_runs"].find_one({"_id": month, "done": True}):
            return False
        sent = await self.run(month, now)
        await self.store.db["reminder_runs"].update_one({"_id": month}, {"$set": {"done": True, "sent": sent, "at": utcnow()}}, upsert=True)
        return False

    async def run(self, month: str, now: datetime | None = None) -> int:
        """Remind every ASN of the roster below the month's commitment who has not been reminded."""
        now = now or utcnow()
        commitment = await self.tallies.commitment(month)
        sent = 0
        after = ""
        while True:
            page = await self.store.asn.find({"_id": {"$gt": after}}, {"_id": 1}).sort("_id", 1).limit(PAGE).to_list()
            if not page:
                break
            after = page[-1]["_id"]
            nips = [doc["_id"] for doc in page]
            done = {
                doc["_id"].split(":", 1)[1]
                for doc in await self.store.reminders.find({"_id": {"$in": [f"{month}:{n}" for n in nips]}}, {"_id": 1}).to_list()
            }
            spent = await self._spent_by_nip(month, nips)
            for nip in nips:
                if nip in done or domain.met(spent.get(nip, 0), commitment):
                    continue
                sent += await self._remind(month, nip, spent.get(nip, 0), commitment, now)
        log.info("programme.reminders_sent", month=month, sent=sent)
        return sent

    async def _spent_by_nip(self, month: str, nips: list[str]) -> dict[str, int]:
        rows = await self.store.spending.find({"month": month, "nip": {"$in": nips}}, {"nip": 1, "spent": 1}).to_list()
        return {row["nip"]: row["spent"] for row in rows}

    async def _remind(self, month: str, nip: str, spent: int, commitment: int, now: datetime) -> int:
        async def work(session: Session) -> int:
            contact = await self.tallies.contact(session, nip)
            if contact is None or not (contact.email or contact.phone):
                return 0
            await self.store.reminders.insert_one(
                {"_id": f"{month}:{nip}", "spent": spent, "commitment": commitment, "at": now}, session=session
            )
            event = CommitmentReminderDue(
                month=month,
                asn=contact,
                commitment=commitment,
                spent=spent,
                remaining=max(0, commitment - spent),
                days_left=domain.days_left(month, now),
            )
            await self.runtime.outbox.add(session, event, key=asn_key(nip))
            return 1

        try:
            return await self.runtime.write(work)
        except DuplicateKeyError:
            return 0  # another instance reminded this ASN in the same instant
