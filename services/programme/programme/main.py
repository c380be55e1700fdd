"""Programme service entry point: `uvicorn programme.main:app --port 8007`. `build_app` and `build_service` are its
composition root (beli_runtime.entrypoint says why `app` is built on first use)."""

from dataclasses import dataclass

from fastapi import FastAPI

from beli_runtime.entrypoint import app_on_first_use, service_app
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


@dataclass
class ProgrammeService:
    settings: ProgrammeSettings
    runtime: ServiceRuntime
    store: ProgrammeStore
    tallies: Tallies
    roster: Roster
    reminders: Reminders

    async def prepare(self) -> None:
        await self.store.ensure_indexes()


def build_service(settings: ProgrammeSettings) -> ProgrammeService:
    runtime = ServiceRuntime(settings)
    store = ProgrammeStore(runtime.db)
    tallies = Tallies(store, runtime.outbox, settings.default_commitment)
    roster = Roster(runtime, store, tallies)
    reminders = Reminders(runtime, store, tallies, settings)
    return ProgrammeService(settings, runtime, store, tallies, roster, reminders)


def build_app(settings: ProgrammeSettings) -> FastAPI:
    service = build_service(settings)
    runtime, store, tallies = service.runtime, service.store, service.tallies
    runtime.subscribe(ProgrammeHandlers(tallies).subscription())
    # Neither job's work comes from a consumed event (the calendar; links made before nip_linked existed).
    runtime.add_job("commitment-reminders", service.reminders.scheduled, interval=settings.reminder_job_seconds)
    runtime.add_job("announce-nip-links", service.roster.announce_earlier_links, interval=300)
    app = service_app(
        service,
        title="Beli NTT — programme",
        description="Gerakan Beli NTT: the ASN roster and NIP claims, the monthly commitment, OPD compliance and the programme dashboard.",
    )
    app.include_router(build_router(store, service.roster, tallies))
    app.include_router(build_office_router(store, service.roster, tallies, service.reminders))
    app.include_router(build_reports_router(store, tallies, settings))
    return app


__getattr__ = app_on_first_use(lambda: build_app(ProgrammeSettings()))
