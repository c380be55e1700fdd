"""Programme service entry point: `uvicorn programme.main:app --port 8007`."""

from beli_runtime.http import create_app
from beli_runtime.service import ServiceRuntime
from programme.api import build_router
from programme.handlers import ProgrammeHandlers
from programme.office_api import build_office_router
from programme.reminders import Reminders
from programme.reports_api import build_reports_router
from programme.roster import Roster
from programme.settings import ProgrammeSettings
from programme.store import ProgrammeStore
from programme.tallies import Tallies

settings = ProgrammeSettings()
runtime = ServiceRuntime(settings)
store = ProgrammeStore(runtime.db)
tallies = Tallies(store, runtime.outbox, settings.default_commitment)
roster = Roster(runtime, store, tallies)
reminders = Reminders(runtime, store, tallies, settings)
runtime.subscribe(ProgrammeHandlers(tallies).subscription())
runtime.add_job("commitment-reminders", reminders.scheduled, interval=settings.reminder_job_seconds)

app = create_app(
    title="Beli NTT — programme",
    description="Gerakan Beli NTT: the ASN roster and NIP claims, the monthly commitment, OPD compliance and the programme dashboard.",
    lifespan=runtime.lifespan(store.ensure_indexes),
    health=runtime.health,
    max_request_bytes=settings.max_request_bytes,
)
app.include_router(build_router(store, roster, tallies))
app.include_router(build_office_router(store, roster, tallies, reminders))
app.include_router(build_reports_router(store, tallies, settings))
