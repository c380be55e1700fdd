"""Driving the programme service as its users do: the programme office, an OPD officer, an ASN."""

import random
import uuid
from typing import Any

import httpx

from infra.tokens import mint
from tests.support import Api, eventually


def office() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint('programme', email='bkd@nttprov.example.id')}"}


def officer(opd_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint('opd', email=f'sekretariat@{opd_id}.example.id', opd_id=opd_id)}"}


def new_nip(rng: random.Random, sex: str = "1") -> str:
    birth = f"{rng.randint(1965, 1998)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    appointed = f"{int(birth[:4]) + rng.randint(20, 25)}{rng.randint(1, 12):02d}"
    return f"{birth}{appointed}{sex}{rng.randint(1, 999):03d}"


def csv_file(header: list[str], rows: list[list[str]]) -> dict[str, Any]:
    lines = [",".join(header), *(",".join(row) for row in rows)]
    return {"file": ("data.csv", ("\n".join(lines) + "\n").encode(), "text/csv")}


async def import_opds(api: Api, opds: list[tuple[str, str, str]]) -> dict[str, Any]:
    response = await api.programme.post(
        "/programme/opds/import", headers=office(), files=csv_file(["kode", "nama", "pemerintah"], [list(o) for o in opds])
    )
    assert response.status_code == 200, response.text
    return response.json()


async def import_roster(api: Api, rows: list[list[str]]) -> dict[str, Any]:
    response = await api.programme.post(
        "/programme/roster/import", headers=office(), files=csv_file(["NIP", "Nama", "Kode OPD", "Email", "Telepon"], rows)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def claim(api: Api, customer: dict[str, str], nip: str) -> httpx.Response:
    return await api.programme.post("/programme/me/nip", headers=api.as_shopper(customer), json={"nip": nip})


async def progress(api: Api, customer: dict[str, str], month: str | None = None) -> dict[str, Any]:
    response = await api.programme.get(
        "/programme/me/progress", headers=api.as_shopper(customer), params={"month": month} if month else None
    )
    assert response.status_code == 200, response.text
    return response.json()


async def compliance(api: Api, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await api.programme.get("/programme/compliance/opds", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def dashboard(api: Api) -> dict[str, Any]:
    response = await api.programme.get("/programme/dashboard", headers=office())
    assert response.status_code == 200, response.text
    return response.json()


async def spent_reaches(api: Api, customer: dict[str, str], amount: int) -> dict[str, Any]:
    return await eventually(lambda: progress(api, customer), lambda p: p["spent"] == amount, timeout=60, what=f"spent {amount}")


def tag() -> str:
    return uuid.uuid4().hex[:6]
