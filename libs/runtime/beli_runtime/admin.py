"""Operator routes every service has: dead letters listed and replayed after a fix."""

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel

from beli_runtime.auth import Role, require_role
from beli_runtime.consumer import EventConsumer
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database


class DeadLetterOut(BaseModel):
    id: str
    group: str
    topic: str
    partition: int
    offset: int
    type: str
    error: str
    attempts: int
    status: str
    failed_at: datetime
    event: str


class ReplayResult(BaseModel):
    id: str
    replayed: bool
    status: str
    error: str | None


def dead_letter_router(db: Database, consumers: list[EventConsumer]) -> APIRouter:
    router = APIRouter(prefix="/admin/dead-letters", tags=["admin"], dependencies=[Depends(require_role(Role.ADMIN))])

    def consumer_of(letter: dict[str, Any]) -> EventConsumer:
        for consumer in consumers:
            if consumer.group_id == letter["group"]:
                return consumer
        raise ApiError(409, f"no consumer of group {letter['group']} runs in this service")

    async def replay(letter_id: str, value: bytes | None) -> ReplayResult:
        letter = await db["dead_letters"].find_one({"_id": letter_id})
        if letter is None:
            raise ApiError(404, f"dead letter {letter_id} not found")
        replayed = await consumer_of(letter).replay(letter_id, value)
        after = await db["dead_letters"].find_one({"_id": letter_id})
        if after is None:
            raise ApiError(404, f"dead letter {letter_id} not found")
        return ReplayResult(id=letter_id, replayed=replayed, status=after["status"], error=None if replayed else after["error"])

    @router.get("", response_model=list[DeadLetterOut])
    async def list_dead_letters(
        status: Annotated[str, Query(pattern="^(dead|replayed)$")] = "dead", limit: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> list[DeadLetterOut]:
        rows = await db["dead_letters"].find({"status": status}).sort("failed_at", 1).limit(limit).to_list()
        return [
            DeadLetterOut(
                id=row["_id"],
                event=bytes(row["value"]).decode("utf-8", "replace"),
                **{k: row[k] for k in ("group", "topic", "partition", "offset", "type", "error", "attempts", "status", "failed_at")},
            )
            for row in rows
        ]

    @router.post("/{letter_id}/replay", response_model=ReplayResult)
    async def replay_one(
        letter_id: str,
        event: Annotated[
            dict[str, Any] | None, Body(description="Optional corrected event envelope to process instead of the stored one")
        ] = None,
    ) -> ReplayResult:
        return await replay(letter_id, json.dumps(event).encode() if event is not None else None)

    @router.post("/replay-all", response_model=list[ReplayResult])
    async def replay_all() -> list[ReplayResult]:
        rows = await db["dead_letters"].find({"status": "dead"}, {"_id": 1}).sort("failed_at", 1).limit(500).to_list()
        return [await replay(row["_id"], None) for row in rows]

    return router
