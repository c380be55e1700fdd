"""Shared by the programme benchmarks: a programme service process on the test profile's Kafka and
database (BELI_TEST_SLOT picks the slot), with its own database `beli_programme_bench`."""

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymongo import MongoClient

from infra import stack
from infra.apps import start_app
from infra.mongo_server import mongo_process
from infra.profiles import TEST
from infra.programme_seed import _csv, opd_rows
from infra.tokens import mint

DATABASE = "beli_programme_bench"
PORT = TEST.programme + 60  # beside the test profile's own programme instance, never on it


@contextmanager
def programme_service(fresh: bool = False, pids: dict[str, int] | None = None) -> Iterator[str]:
    """The service's URL; `pids` (when given) gets the pids of the service and of the database."""
    endpoints = stack.ensure_infra(TEST, timeout=600)  # a busy machine starts Kafka slowly
    if fresh:
        MongoClient(endpoints.mongodb_url).drop_database(DATABASE)
    process = start_app(TEST, endpoints, "programme", instance=9, port=PORT, extra_env={"MONGODB_DATABASE": DATABASE, "REMINDER_DAY": "0"})
    database = mongo_process(TEST)  # None when MONGODB_URL names a server started elsewhere
    if pids is not None:
        pids.update({"service": process.pid} | ({"database": database.pid} if database else {}))
    try:
        yield f"http://127.0.0.1:{PORT}"
    finally:
        process.stop()


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system): on a shared machine, unlike wall time, it
    does not depend on how busy the other engineers keep the cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def office() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint('programme', email='bench@nttprov.example.id', minutes=600)}"}


def roster_csv(count: int, seed: int = 150) -> bytes:
    """`count` ASN with valid, distinct NIPs spread over the seeded OPDs."""
    rng = random.Random(seed)
    codes = [row[0] for row in opd_rows()]
    lines, seen = ["nip,nama,opd,email,telepon"], set()
    while len(lines) <= count:
        year = rng.randint(1966, 1999)
        nip = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{year + rng.randint(20, 26)}{rng.randint(1, 12):02d}{rng.choice('12')}{rng.randint(1, 999):03d}"
        if nip in seen:
            continue
        seen.add(nip)
        n = len(lines)
        lines.append(f"{nip},ASN {n},{rng.choice(codes)},asn{n}@nttprov.example.id,0812{n:08d}")
    return ("\n".join(lines) + "\n").encode()


def opd_csv() -> bytes:
    return _csv(opd_rows(), ["kode", "nama", "pemerintah"])
