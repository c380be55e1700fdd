"""The orders service's settings (environment variables): order limits, deadlines, sweeps, hoarding limits."""

from beli_runtime.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    # Events in hand at once (the runtime's default is 8): every order brings orders three events
    # over three topics (reserved, link, settled), each a quick change of one order that no other
    # order's event touches, so more in hand makes bigger transactions rather than conflicts. At 8
    # they queued: settled -> PAID took p50 2.8 s, p99 15.9 s in a 2,000-order run; at 32, 0.74 s
    # and 4.7 s, with 7.0 instead of 8.6 operations per paid order in orders (README, issue 11).
    consumer_concurrency: int = 32
    # Published promise: a repeated Idempotency-Key returns the first answer for at least this long.
    idempotency_key_hours: int = 24
    max_lines_per_order: int = 50
    max_quantity_per_line: int = 1000
    # The sweeper cancels orders stuck in the middle of the saga: no reservation answer after
    # this long, or no payment decision this long after the payment deadline.
    pending_timeout_minutes: int = 10
    payment_grace_minutes: int = 15
    sweep_seconds: float = 30.0
    # A sub-order SHIPPED for this long completes by itself (as if the shopper confirmed
    # receipt). A float so that tests can use seconds: 0.00005 days is about 4 s.
    auto_complete_days: float = 7.0
    auto_complete_sweep_seconds: float = 60.0
    # Pick-up at an NTT Mart outlet: the shopper has this long after the seller delivered to
    # collect a parcel (then the outlet may return it and the money goes back), and is reminded
    # this long before that deadline. Floats so that test stacks can use seconds.
    pickup_collect_days: float = 7.0
    pickup_reminder_days: float = 1.0
    pickup_reminder_sweep_seconds: float = 60.0
    # Wrong pick-up codes for one order: this many are free (typos), then the hand-over locks for
    # the base time, doubling with every further wrong code up to the maximum.
    pickup_code_free_failures: int = 5
    pickup_code_lock_seconds: float = 60.0
    pickup_code_lock_max_seconds: float = 3600.0
