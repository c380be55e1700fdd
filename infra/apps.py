"""Start the Midtrans simulator and the four services of a profile as local processes."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from infra.processes import ManagedProcess, load_process, start_process, wait_http
from infra.profiles import Profile
from infra.stack import Endpoints
from infra.tokens import DEV_KEYS, DEV_PRIVATE_KEY, DEV_PUBLIC_KEY

# Development-only operator login (documented in the README); production sets its own.
DEV_ADMIN_EMAIL = "admin@beli-ntt.id"
DEV_ADMIN_PASSWORD = "admin-beli-ntt-dev"

# Service name -> the Python package whose `main:app` it runs.
APPS: dict[str, str] = {
    "midtrans": "midtrans_simulator",
    "messaging": "messaging_simulator",
    "catalog": "catalog",
    "orders": "orders",
    "payments": "payments",
    "notifications": "notifications",
    "programme": "programme",
    # Last: the web app calls the others (it starts without them, but its pages need them).
    "web": "web",
}

MESSAGING_TOKEN = "dev-messaging-token"
# The Midtrans sandbox-style key shared by payments and the simulator in local stacks (public).
DEV_MIDTRANS_SERVER_KEY = "SB-Mid-server-beli-ntt-dev"
# Signs the ledger's month-closing statements in development (public, like the JWT dev keys).
DEV_LEDGER_KEY = DEV_KEYS / "ledger-ed25519.pem"


def app_env(profile: Profile, endpoints: Endpoints, name: str) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap,
        "MONGODB_URL": endpoints.mongodb_url,
        "PYTHONUNBUFFERED": "1",
        "JWT_PUBLIC_KEY_FILE": str(DEV_PUBLIC_KEY),
    }
    if name == "catalog":
        # Accounts live in the catalog: it alone signs tokens. The first admin is created at start.
        env |= {
            "JWT_PRIVATE_KEY_FILE": str(DEV_PRIVATE_KEY),
            "BOOTSTRAP_ADMIN_EMAIL": DEV_ADMIN_EMAIL,
            "BOOTSTRAP_ADMIN_PASSWORD": DEV_ADMIN_PASSWORD,
        }
    simulator = profile.service_url("midtrans")
    if name == "payments":
        # Local stacks retry a refund Midtrans did not answer after 2 s instead of 30 s.
        env |= {
            "MIDTRANS_SNAP_BASE_URL": f"{simulator}/snap/v1",
            "MIDTRANS_CORE_BASE_URL": simulator,
            "MIDTRANS_SERVER_KEY": DEV_MIDTRANS_SERVER_KEY,
            "MIDTRANS_CLIENT_KEY": "SB-Mid-client-beli-ntt-dev",
            "REFUND_RETRY_SECONDS": "2",
            "SNAP_FINISH_URL": profile.service_url("web") + "/pesanan/{order_id}",
        }
        env["LEDGER_SIGNING_KEY_FILE"] = str(DEV_LEDGER_KEY)
    if name == "midtrans":
        env |= {
            "MIDTRANS_NOTIFICATION_URL": f"{profile.service_url('payments')}/midtrans/notification",
            "SIMULATOR_PUBLIC_URL": simulator,
            "MIDTRANS_SERVER_KEY": DEV_MIDTRANS_SERVER_KEY,
        }
    if name == "messaging":
        env |= {"MESSAGING_SMTP_PORT": str(profile.smtp_port), "MESSAGING_API_TOKEN": MESSAGING_TOKEN}
    if name == "programme" and profile.name != "dev":
        # Test stacks run reminders only when a test asks (POST /programme/reminders/run), so that
        # the calendar date of the run decides nothing.
        env |= {"REMINDER_DAY": "0"}
    if name == "orders" and profile.name != "dev":
        # Test stacks give a shopper 15 seconds to collect a pick-up parcel (reminded after 5),
        # so that a test sees an uncollected parcel returned without waiting days.
        env |= {
            "PICKUP_COLLECT_DAYS": str(15 / 86_400),
            "PICKUP_REMINDER_DAYS": str(10 / 86_400),
            "PICKUP_REMINDER_SWEEP_SECONDS": "2",
        }
    return env | _messaging_env(profile, name)


def _messaging_env(profile: Profile, name: str) -> dict[str, str]:
    """How notifications and the web app reach the rest of a local stack."""
    env: dict[str, str] = {}
    if name == "notifications":
        # Local stacks send through the messaging simulator (SMTP mailbox + WhatsApp/SMS provider)
        # and retry quickly, so that a failure shows up in seconds rather than minutes.
        env |= {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(profile.smtp_port),
            "MESSAGING_PROVIDER_URL": profile.service_url("messaging"),
            "MESSAGING_PROVIDER_TOKEN": MESSAGING_TOKEN,
            "FINANCE_EMAILS": "bapenda@nttprov.example.id,keuangan@nttprov.example.id",
            "SEND_RETRY_BASE_SECONDS": "0.3",
            "SEND_MAX_ATTEMPTS": "4",
            "MESSAGING_TIMEOUT_SECONDS": "3",
        }
    if name == "web":
        # The web app calls the services' public HTTP APIs and owns no data: no Kafka, no database.
        env |= {
            f"{service.upper()}_URL": profile.service_url(service)
            for service in ("catalog", "orders", "payments", "notifications", "programme")
        }
        env["WEB_PUBLIC_URL"] = profile.service_url("web")
    return env


def start_app(
    profile: Profile,
    endpoints: Endpoints,
    name: str,
    *,
    instance: int = 0,
    port: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> ManagedProcess:
    """Start one instance and wait until its /healthz answers. Instance 0 uses the profile's port."""
    port = port or profile.service_ports[name]
    process_name = name if instance == 0 else f"{name}-{instance}"
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        f"{APPS[name]}.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "20",
        "--timeout-keep-alive",
        "75",
    ]
    process = start_process(
        process_name,
        argv,
        app_env(profile, endpoints, name) | dict(extra_env or {}),
        profile.log_dir / f"{process_name}.log",
        profile.pid_dir,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout, process)
    return process


def start_apps(profile: Profile, endpoints: Endpoints, extra_env: Mapping[str, str] | None = None) -> dict[str, ManagedProcess]:
    """Start every app that is not already running for the profile."""
    running: dict[str, ManagedProcess] = {}
    for name in APPS:
        existing = load_process(profile.pid_dir / f"{name}.pid")
        running[name] = existing if existing is not None else start_app(profile, endpoints, name, extra_env=extra_env)
    return running
