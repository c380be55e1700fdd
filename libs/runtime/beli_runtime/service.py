"""A service's process: its database, outbox relay, consumers and background jobs, started and
stopped together with the HTTP app."""

import asyncio
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pymongo
from fastapi import FastAPI

from beli_contracts import event_types
from beli_runtime import tracing
from beli_runtime.admin import dead_letter_router
from beli_runtime.consumer import EventConsumer, Subscription
from beli_runtime.jobs import BackgroundJob, JobStep
from beli_runtime.kafka import kafka_reachable
from beli_runtime.leases import current_lease
from beli_runtime.logs import configure_logging, get_logger
from beli_runtime.loop import measure_lag
from beli_runtime.mongo import IndexConflict, Session, connect, in_transaction
from beli_runtime.outbox import Committed, Outbox, OutboxRelay, counting
from beli_runtime.production import UnsafeSettings
from beli_runtime.settings import ServiceSettings
from beli_runtime.watchdog import where

T = TypeVar("T")
log = get_logger(__name__)
SHUTDOWN_SECONDS = 15.0
INDEX_ATTEMPTS = 60  # about a minute of a database that does not answer


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, embedded_outboxes: Sequence[str] = ()) -> None:
        """`embedded_outboxes`: the collections whose documents may carry their own outbox row
        (outbox.py), which the relay reads too."""
        configure_logging(settings.service_name, settings.log_level)
        # Before the database client is created: PyMongo's command listeners are taken at creation.
        tracing.configure(settings.service_name)
        problems = settings.unsafe()
        if problems:
            log.error("service.unsafe_settings", environment=settings.environment, problems=problems)
            raise UnsafeSettings(settings.service_name, problems)
        self.settings = settings
        self.client = connect(settings.mongodb_url)
        self.db = self.client[settings.database_name]
        self.outbox = Outbox(self.db, source=settings.service_name, embedded=embedded_outboxes)
        self._consumers: list[EventConsumer] = []
        self._jobs: list[BackgroundJob] = []
        self._woken_by: dict[str, frozenset[str]] = {}  # job name -> the consumed event types that wake it
        self._tasks: list[asyncio.Task[None]] = []
        self._lag: asyncio.Task[None] | None = None
        self.indexes_ready = False
        self._relay = OutboxRelay(
            self.db, settings.kafka_bootstrap_servers, client_id=f"{settings.service_name}-relay", embedded=embedded_outboxes
        )
        self._relay_job = self.add_job(
            "outbox-relay", self._relay.step, interval=settings.relay_poll_seconds, gather=settings.relay_gather_seconds
        )

    def add_job(
        self, name: str, step: JobStep, *, interval: float, woken_by: frozenset[str] = frozenset(), gather: float = 0.0
    ) -> BackgroundJob:
        """A background job. `woken_by` names the consumed event types whose handlers create its
        work: a commit of one of those wakes it at once. Any other wake-up would only cost it a
        look at the database that finds nothing (issue 11: every job woken after every event
        was most of payments' finds). Work that time, an API call or another job creates is not
        announced here: the job's interval, or an explicit `wake()` by whoever creates it."""
        unknown = woken_by - {event_type for event_type, _ in event_types()}
        if unknown:
            raise ValueError(f"job {name} is woken by event types nobody defines: {sorted(unknown)}")
        job = BackgroundJob(
            name,
            step,
            interval=interval,
            db=self.db,
            lease_seconds=self.settings.lease_seconds,
            idle_max=self.settings.job_idle_max_seconds,
            gather=gather,
        )
        self._jobs.append(job)
        self._woken_by[name] = woken_by
        return job

    @property
    def consumers(self) -> tuple[EventConsumer, ...]:
        return tuple(self._consumers)

    def subscribe(self, subscription: Subscription) -> EventConsumer:
        consumer = EventConsumer(
            client=self.client,
            db=self.db,
            outbox=self.outbox,
            bootstrap=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.service_name,
            subscription=subscription,
            max_attempts=self.settings.consumer_max_attempts,
            retry_base_seconds=self.settings.consumer_retry_base_seconds,
            after_commit=self.wake_jobs,
            concurrency=self.settings.consumer_concurrency,
            batch_writers=self.settings.consumer_batch_writers,
        )
        self._consumers.append(consumer)
        return consumer

    async def write(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run a state change (and the events it adds to the outbox) atomically, then relay them.
        Inside a background job, the transaction is refused if the job's lease was lost."""
        lease = current_lease()
        if lease is not None:
            fenced = lease

            async def guarded(session: Session) -> T:
                await fenced.fence(session)
                return await work(session)

            with counting() as written:
                async with fenced.writing:
                    result = await in_transaction(self.client, guarded, restart=written.restart)
        else:
            with counting() as written:
                result = await in_transaction(self.client, work, restart=written.restart)
        if written.rows:
            self.events_written(written.rows)
        return result

    def events_written(self, rows: Committed) -> None:
        """A commit added these outbox rows: the relay sends them at its next step, now (None: rows
        the caller does not hold, which the relay looks for)."""
        if rows is None:
            self._relay.look()
        else:
            self._relay.offer(rows)
        self._relay_job.wake()

    def wake_jobs(self, handled: frozenset[str], events: Committed) -> None:
        """A consumer committed the handling of events of these types: wake the jobs those
        create work for, and the relay if the transaction added outbox rows (so a service whose
        handlers rarely write events, such as notifications and programme, costs its relay no look
        after the others)."""
        for job in self._jobs:
            if job is self._relay_job:
                if events is None or events:
                    self.events_written(events)
            elif self._woken_by[job.name] & handled:
                job.wake()

    async def health(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            # PyMongo's own timeout, not asyncio's: cancelling a call during server selection can
            # leave the client's topology lock broken (see leases.holding).
            with pymongo.timeout(2):
                await self.client.admin.command("ping")
            checks["mongodb"] = "ok"
        except Exception as error:  # noqa: BLE001 - any failure means the database is not usable
            checks["mongodb"] = f"unavailable: {type(error).__name__}"
        checks["indexes"] = "ok" if self.indexes_ready else "not created"
        checks["kafka"] = await kafka_reachable(self.settings.kafka_bootstrap_servers)
        return checks

    def lifespan(self, prepare: Callable[[], Awaitable[None]]) -> Callable[[FastAPI], Any]:
        """`prepare` creates the service's indexes; it is retried until the database answers."""

        @asynccontextmanager
        async def run(app: FastAPI) -> AsyncIterator[None]:
            # Every service gets the operator routes through its runtime, not by each main.
            app.include_router(dead_letter_router(self.db, self._consumers))
            await self._start(prepare)
            try:
                yield
            finally:
                await self._stop()

        return run

    async def _start(self, prepare: Callable[[], Awaitable[None]]) -> None:
        await self.create_indexes(prepare)
        self._tasks = [asyncio.create_task(c.run(), name=f"consumer:{c.group_id}") for c in self._consumers]
        self._tasks += [asyncio.create_task(j.run(), name=f"job:{j.name}") for j in self._jobs]
        self._lag = asyncio.create_task(measure_lag(), name="event-loop-lag")
        log.info("service.started", consumers=len(self._consumers), jobs=[j.name for j in self._jobs])

    async def create_indexes(self, prepare: Callable[[], Awaitable[None]], attempts: int = INDEX_ATTEMPTS) -> None:
        """Create every index, retrying while the database is away. A service never runs without
        its indexes (unique ones are what keep ids and claims single): after `attempts` failures,
        or at once on an index whose options conflict with an existing one, start-up fails loudly."""
        for attempt in range(1, attempts + 1):
            try:
                await self.outbox.ensure_indexes()
                for consumer in self._consumers:
                    await consumer.ensure_indexes()
                await prepare()
                self.indexes_ready = True
                return
            except IndexConflict:
                log.error("service.index_conflict", error=traceback.format_exc(limit=1)[-500:])
                raise
            except Exception as error:
                log.warning("service.waiting_for_database", attempt=attempt, error=repr(error)[:300])
                if attempt == attempts:
                    raise RuntimeError(f"indexes not created after {attempts} attempts: {error!r}") from error
                await asyncio.sleep(1)

    async def _stop(self) -> None:
        """Graceful: stop taking events, let in-flight ones finish, flush the outbox, then close."""
        log.info("service.stopping")
        if self._lag is not None:
            self._lag.cancel()
        for consumer in self._consumers:
            await consumer.stop()
        for job in self._jobs:
            await job.stop()
        _, pending = await asyncio.wait(self._tasks, timeout=SHUTDOWN_SECONDS) if self._tasks else (set(), set())
        for task in pending:
            log.warning("service.task_did_not_stop", task=task.get_name(), stack=where(task))
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)  # a swallowed cancellation must not hang the stop
        try:
            async with asyncio.timeout(SHUTDOWN_SECONDS):
                while await self._relay.publish_pending():
                    pass
                await self._relay.delete_sent()
        except Exception as error:  # noqa: BLE001 - shutdown goes on; unsent rows stay in the outbox
            log.warning("service.outbox_flush_incomplete", error=repr(error)[:300])
        await self._relay.close()
        await self.client.close()
        log.info("service.stopped")
