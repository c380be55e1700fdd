"""`make dev`: start Kafka, the database, the Midtrans simulator and the services on the
dev profile ports, seed demo data, and print where everything is."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from infra import stack
from infra.apps import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, start_apps
from infra.profiles import DEV
from infra.programme_seed import OPD_OFFICER, PROGRAMME_OFFICE, seed_programme
from infra.seed import DEV_PASSWORD, FINANCE, OUTLET_STAFF, SELLERS, SHOPPER, _login, seed


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    started = time.monotonic()
    endpoints = stack.ensure_infra(DEV)
    start_apps(DEV, endpoints)
    created = seed(DEV.service_url("catalog"), DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, DEV.service_url("messaging"))
    with httpx.Client(base_url=DEV.service_url("catalog"), timeout=15) as client:
        admin = _login(client, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)
    asn = seed_programme(DEV.service_url("catalog"), DEV.service_url("programme"), admin, DEV_PASSWORD, str(SHOPPER["email"]))
    print(
        f"\nBeli NTT is running ({time.monotonic() - started:.0f} s). Seeded {created} products"
        + (" (already seeded)" if not created else "")
        + "."
    )
    print(f"  web app        {DEV.service_url('web')}   (the marketplace in the browser)")
    print(f"  Kafka          {endpoints.kafka_bootstrap}")
    print(f"  MongoDB        {endpoints.mongodb_url}")
    for name in ("catalog", "orders", "payments", "notifications", "programme"):
        print(f"  {name:<14} {DEV.service_url(name)}   (API docs: {DEV.service_url(name)}/docs)")
    print(f"  midtrans sim.  {DEV.service_url('midtrans')}   (transactions: {DEV.service_url('midtrans')}/simulator/transactions)")
    print(f"  messaging sim. {DEV.service_url('messaging')}   (what was sent: e-mail, WhatsApp, SMS; SMTP on 127.0.0.1:{DEV.smtp_port})")
    print(f"  logs           {DEV.log_dir}")
    print("Sign in on the web app, or with POST /auth/login on the catalog (development accounts):")
    print(f"  admin    {DEV_ADMIN_EMAIL} / {DEV_ADMIN_PASSWORD}")
    print(f"  finance  {FINANCE['email']} / {DEV_PASSWORD}")
    print(f"  shopper  {SHOPPER['email']} / {DEV_PASSWORD}")
    print(f"  programme {PROGRAMME_OFFICE['email']} / {DEV_PASSWORD}  (BKD: roster, compliance, dashboard; {asn} ASN newly seeded)")
    print(f"  opd      {OPD_OFFICER['email']} / {DEV_PASSWORD}  (officer of {OPD_OFFICER['opd_id']})")
    print(f"  outlet   {OUTLET_STAFF['email']} / {DEV_PASSWORD}  (till of {OUTLET_STAFF['outlet_id']}; 22 outlets seeded)")
    print(f"  seller   {SELLERS[0]['seller']['email']} / {DEV_PASSWORD}  (and the other demo sellers)")  # type: ignore[index]
    print("Or mint a token for any role: uv run python infra/tokens.py --role finance")
    print("Stop everything with: make stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
