"""Accounts: creation, sign-in with throttling, tokens and sessions."""

import uuid
from typing import Any

from pymongo.errors import DuplicateKeyError

from beli_runtime.auth import ACCESS_TTL, REFRESH_TTL, KeySettings, Principal, Role, TokenIssuer
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, ensure_index
from catalog.accounts.models import Account, Tokens
from catalog.accounts.passwords import ensure_strong, hash_password, password_matches
from catalog.accounts.sessions import Sessions
from catalog.accounts.throttle import Limits, LoginThrottle

WRONG_CREDENTIALS = "e-mail atau kata sandi salah"  # the same for unknown e-mail: no account probing


class Accounts:
    def __init__(self, db: Database, limits: Limits | None = None) -> None:
        self.accounts = db["accounts"]
        self.sessions = Sessions(db)
        self.throttle = LoginThrottle(db, limits or Limits())
        self._issuer: TokenIssuer | None = None

    def issuer(self) -> TokenIssuer:
        if self._issuer is None:
            self._issuer = TokenIssuer(KeySettings().private())
        return self._issuer

    async def ensure_indexes(self) -> None:
        await ensure_index(self.accounts, "email", unique=True)
        await self.sessions.ensure_indexes()
        await self.throttle.ensure_indexes()

    async def create(
        self, role: Role, name: str, email: str, phone: str, password: str, *, check_policy: bool = True, opd_id: str | None = None
    ) -> dict[str, Any]:
        if check_policy:
            await ensure_strong(password, name, email, phone)
        account = {
            "_id": f"acc-{uuid.uuid4().hex[:12]}",
            "role": role.value,
            "name": name,
            "email": email.lower(),
            "phone": phone,
            "password_hash": await hash_password(password),
            "seller_id": None,
            "opd_id": opd_id,
            "created_at": utcnow(),
        }
        try:
            await self.accounts.insert_one(account)
        except DuplicateKeyError:
            raise ApiError(409, "e-mail ini sudah terdaftar; silakan masuk", field="email") from None
        return account

    async def authenticate(self, email: str, password: str, address: str) -> dict[str, Any]:
        """The account, if the password is right; 401 if not; 429 while throttled."""
        await self.throttle.begin(email, address)
        account = await self.accounts.find_one({"email": email.lower()})
        if not await password_matches(account["password_hash"] if account else None, password):
            raise ApiError(401, WRONG_CREDENTIALS)
        await self.throttle.succeeded(email, address)
        return account  # type: ignore[return-value]

    async def link_seller(self, account_id: str, seller_id: str) -> None:
        await self.accounts.update_one({"_id": account_id}, {"$set": {"seller_id": seller_id}})

    async def seller_of(self, account_id: str) -> str | None:
        account = await self.accounts.find_one({"_id": account_id}, {"seller_id": 1})
        return account.get("seller_id") if account else None

    async def sign_in(self, account: dict[str, Any]) -> Tokens:
        """A new session (refresh-token family) and its first tokens."""
        return await self.tokens(account, await self.sessions.start(account["_id"]))

    async def refresh(self, refresh_token: str) -> Tokens:
        """Spend the refresh token; the next tokens carry the account's current facts."""
        claims = await self.sessions.spend(refresh_token)
        account = await self.accounts.find_one({"_id": claims["sub"]})
        if account is None:
            raise ApiError(401, "akun ini sudah tidak ada")
        return await self.tokens(account, claims["fam"])

    async def tokens(self, account: dict[str, Any], family: str) -> Tokens:
        principal = principal_of(account)
        issuer = self.issuer()
        token_id = await self.sessions.new_token_id(family, account["_id"])
        return Tokens(
            account=account_view(account),
            access_token=issuer.issue(principal, sid=family),
            refresh_token=issuer.issue(principal, "refresh", REFRESH_TTL, jti=token_id, fam=family),
            expires_in=int(ACCESS_TTL.total_seconds()),
        )


def principal_of(account: dict[str, Any]) -> Principal:
    return Principal(
        account_id=account["_id"],
        role=account["role"],
        email=account["email"],
        phone=account["phone"],
        seller_id=account.get("seller_id"),
        opd_id=account.get("opd_id"),
    )


def account_view(account: dict[str, Any]) -> Account:
    return Account(
        id=account["_id"],
        role=account["role"],
        name=account["name"],
        email=account["email"],
        phone=account["phone"],
        seller_id=account.get("seller_id"),
        opd_id=account.get("opd_id"),
    )
