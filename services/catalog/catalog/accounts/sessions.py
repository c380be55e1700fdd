"""Sign-in sessions: refresh tokens rotated on every use, with reuse detection.

Each login starts a family; every refresh spends its token (one use) and gets the next one of
the same family. A refresh token presented a second time (more than a short leeway after its
first use, which covers one client refreshing from two requests at once) means two parties hold it (a stolen
copy): the whole family is revoked, so both the thief and the owner must sign in again. Logout
revokes the family too. Access tokens carry the family as `sid` and stay short-lived (15 min):
services verify them offline, so a revoked session's access token lives out its minutes.
"""

import uuid
from datetime import timedelta
from typing import Any

from beli_runtime.auth import REFRESH_TTL, verifier
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, ensure_index

REUSED = "Token penyegaran ini sudah pernah dipakai. Demi keamanan, semua sesi dari login tersebut dicabut; silakan masuk lagi."
SIGNED_OUT = "Sesi ini sudah berakhir (keluar atau dicabut); silakan masuk lagi."


class Sessions:
    def __init__(self, db: Database, reuse_leeway_seconds: float = 2.0) -> None:
        self.leeway = timedelta(seconds=reuse_leeway_seconds)
        self.tokens = db["refresh_tokens"]
        self.families = db["sessions"]

    async def ensure_indexes(self) -> None:
        await ensure_index(self.tokens, "family")
        await ensure_index(self.tokens, "expires_at", expireAfterSeconds=0)
        await ensure_index(self.families, "account_id")

    async def start(self, account_id: str) -> str:
        family = f"ses-{uuid.uuid4().hex}"
        await self.families.insert_one({"_id": family, "account_id": account_id, "created_at": utcnow(), "revoked_at": None})
        return family

    async def new_token_id(self, family: str, account_id: str) -> str:
        token_id = uuid.uuid4().hex
        now = utcnow()
        await self.tokens.insert_one(
            {
                "_id": token_id,
                "family": family,
                "account_id": account_id,
                "issued_at": now,
                "expires_at": now + REFRESH_TTL,
                "used_at": None,
            }
        )
        return token_id

    async def spend(self, refresh_token: str) -> dict[str, Any]:
        """The claims of a refresh token that may be used now, marking it used; 401 otherwise."""
        claims = verifier().verify(refresh_token, expected_type="refresh")
        token_id, family = claims.get("jti"), claims.get("fam")
        if not token_id or not family:
            raise ApiError(401, "Token penyegaran versi lama tidak berlaku lagi; silakan masuk lagi.")
        session = await self.families.find_one({"_id": family})
        if session is None or session["revoked_at"] is not None:
            raise ApiError(401, SIGNED_OUT)
        now = utcnow()
        spent = await self.tokens.find_one_and_update({"_id": token_id, "used_at": None}, {"$set": {"used_at": now}})
        if spent is None:
            earlier = await self.tokens.find_one({"_id": token_id}, {"used_at": 1})
            if earlier is None:
                raise ApiError(401, SIGNED_OUT)
            if earlier["used_at"] > now - self.leeway:
                return claims  # the same client refreshing twice at once (two tabs, parallel requests)
            await self.revoke(family, "refresh_token_reused")
            raise ApiError(401, REUSED)
        return claims

    async def revoke(self, family: str, reason: str) -> None:
        await self.families.update_one({"_id": family, "revoked_at": None}, {"$set": {"revoked_at": utcnow(), "reason": reason}})

    async def is_active(self, family: str | None) -> bool:
        if family is None:  # tokens minted for scripts and tests have no session
            return True
        session = await self.families.find_one({"_id": family}, {"revoked_at": 1})
        return session is not None and session["revoked_at"] is None

    async def sign_out(self, refresh_token: str) -> None:
        claims = verifier().verify(refresh_token, expected_type="refresh")
        if claims.get("fam"):
            await self.revoke(claims["fam"], "signed_out")
