"""The programme service's settings (environment variables): commitment default, target, reminder day and time."""

from beli_runtime.settings import ServiceSettings


class ProgrammeSettings(ServiceSettings):
    service_name: str = "programme"
    # Roster files of 150,000 rows are a few MB; other bodies stay small (checked per model).
    max_request_bytes: int = 32 * 1024 * 1024
    # The commitment per ASN and month when no version has been set by the programme office.
    default_commitment: int = 100_000
    # The programme's monthly transaction target (Rp150 billion).
    gmv_target: int = 150_000_000_000
    # Reminders go out from this day of each month at this hour (WITA); day 0 turns the automatic
    # run off (the programme office can still run it by hand). A day past the month's end means its last day.
    reminder_day: int = 20
    reminder_hour: int = 9
    reminder_job_seconds: float = 60.0
    # One transaction at a time (the runtime's default is 2), holding the events in hand (up to 8,
    # from different partitions) one after another: every sale writes its month's dashboard
    # document, and most write their OPD's and government's month, so concurrent transactions
    # would only conflict there and retry whole (issue 11: 3.4 attempts per settlement at 8).
    consumer_batch_writers: int = 1
