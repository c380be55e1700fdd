"""Import an ASN roster of 150,000 rows through `POST /programme/roster/import` and print rows/s,
then import the same file again (idempotent: every row unchanged) and print that too.

    uv run --frozen python bench/programme_import.py [--rows 150000]

Starts (or reuses) the test profile's Kafka and database and runs its own programme process on
them with the database `beli_programme_bench` (dropped first). Target: 150,000 rows < 3 minutes.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from programme_support import cpu_seconds, office, opd_csv, programme_service, roster_csv


def main(rows: int) -> None:
    content = roster_csv(rows)
    pids: dict[str, int] = {}
    with programme_service(fresh=True, pids=pids) as url, httpx.Client(base_url=url, headers=office(), timeout=1800) as client:
        client.post("/programme/opds/import", files={"file": ("opd.csv", opd_csv(), "text/csv")}).raise_for_status()
        for label in ("first import", "re-import"):
            load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
            cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
            started = time.monotonic()
            report = client.post("/programme/roster/import", files={"file": ("asn.csv", content, "text/csv")}).raise_for_status().json()
            seconds = time.monotonic() - started
            used = ", ".join(f"{name} {cpu_seconds(pid) - cpu[name]:.1f} s" for name, pid in pids.items())
            print(
                f"[programme import] {label}: {rows} rows ({len(content) / 1e6:.1f} MB) in {seconds:.1f} s = {rows / seconds:,.0f} rows/s; "
                f"created {report['created']}, updated {report['updated']}, unchanged {report['unchanged']}, rejected {report['rejected_count']}; "
                f"CPU used: {used}; load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=150_000)
    main(parser.parse_args().rows)
