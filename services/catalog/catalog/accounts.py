"""Accounts: sign-up, login and token refresh for shoppers and sellers; staff accounts by admin.

Passwords are hashed with argon2. Tokens are short-lived (15 min access, 7 day refresh) and
signed with the private key only this module holds; every service verifies them itself.
"""

import uuid
from typing import Annotated, Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from pymongo.errors import DuplicateKeyError

from beli_runtime.auth import REFRESH_TTL, CurrentPrincipal, KeySettings, Principal, Role, TokenIssuer, require_role, verifier
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, ensure_index

_hasher = PasswordHasher()
WRONG_CREDENTIALS = "e-mail atau kata sandi salah"  # the same for unknown e-mail: no account probing


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SignUp(Strict):
    role: Literal["shopper", "seller"] = Field(description="Shoppers buy; sellers create a seller profile next (`POST /sellers`)")
    name: str = Field(min_length=2, max_length=120)
    email: EmailStr
    phone: str = Field(pattern=r"^\+?[0-9]{8,15}$")
    password: str = Field(min_length=10, max_length=200, description="At least 10 characters")


class StaffAccount(Strict):
    role: Literal["finance", "admin"]
    name: str = Field(min_length=2, max_length=120)
    email: EmailStr
    phone: str = Field(pattern=r"^\+?[0-9]{8,15}$")
    password: str = Field(min_length=10, max_length=200)


class Login(Strict):
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class Refresh(Strict):
    refresh_token: str = Field(min_length=10, max_length=4000)


class Account(BaseModel):
    id: str
    role: Role
    name: str
    email: str
    phone: str
    seller_id: str | None


class Tokens(BaseModel):
    account: Account
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid")


class Accounts:
    def __init__(self, db: Database) -> None:
        self.accounts = db["accounts"]
        self._issuer: TokenIssuer | None = None

    def issuer(self) -> TokenIssuer:
        if self._issuer is None:
            self._issuer = TokenIssuer(KeySettings().private())
        return self._issuer

    async def ensure_indexes(self) -> None:
        await ensure_index(self.accounts, "email", unique=True)

    async def create(self, role: Role, name: str, email: str, phone: str, password: str) -> dict[str, Any]:
        account = {
            "_id": f"acc-{uuid.uuid4().hex[:12]}",
            "role": role.value,
            "name": name,
            "email": email.lower(),
            "phone": phone,
            "password_hash": _hasher.hash(password),
            "seller_id": None,
            "created_at": utcnow(),
        }
        try:
            await self.accounts.insert_one(account)
        except DuplicateKeyError:
            raise ApiError(409, "e-mail ini sudah terdaftar; silakan masuk", field="email") from None
        return account

    async def authenticate(self, email: str, password: str) -> dict[str, Any]:
        account = await self.accounts.find_one({"email": email.lower()})
        if account is None:
            _hasher.hash(password)  # same work either way, so timing does not tell who exists
            raise ApiError(401, WRONG_CREDENTIALS)
        try:
            _hasher.verify(account["password_hash"], password)
        except (VerifyMismatchError, InvalidHashError):
            raise ApiError(401, WRONG_CREDENTIALS) from None
        return account

    async def link_seller(self, account_id: str, seller_id: str) -> None:
        await self.accounts.update_one({"_id": account_id}, {"$set": {"seller_id": seller_id}})

    async def seller_of(self, account_id: str) -> str | None:
        account = await self.accounts.find_one({"_id": account_id}, {"seller_id": 1})
        return account.get("seller_id") if account else None

    def tokens(self, account: dict[str, Any]) -> Tokens:
        principal = principal_of(account)
        issuer = self.issuer()
        return Tokens(
            account=account_view(account),
            access_token=issuer.issue(principal),
            refresh_token=issuer.issue(principal, "refresh", REFRESH_TTL),
            expires_in=15 * 60,
        )


def principal_of(account: dict[str, Any]) -> Principal:
    return Principal(
        account_id=account["_id"], role=account["role"], email=account["email"], phone=account["phone"], seller_id=account.get("seller_id")
    )


def account_view(account: dict[str, Any]) -> Account:
    return Account(
        id=account["_id"],
        role=account["role"],
        name=account["name"],
        email=account["email"],
        phone=account["phone"],
        seller_id=account.get("seller_id"),
    )


def build_router(accounts: Accounts) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["accounts"])

    @router.post("/signup", status_code=201, response_model=Tokens)
    async def sign_up(body: SignUp) -> Tokens:
        account = await accounts.create(Role(body.role), body.name, body.email, body.phone, body.password)
        return accounts.tokens(account)

    @router.post("/login", response_model=Tokens, responses={401: {"description": "Wrong e-mail or password"}})
    async def log_in(body: Login) -> Tokens:
        return accounts.tokens(await accounts.authenticate(body.email, body.password))

    @router.post("/refresh", response_model=Tokens, responses={401: {"description": "Invalid or expired refresh token"}})
    async def refresh(body: Refresh) -> Tokens:
        """New tokens with the account's current facts (e.g. its seller profile, once created)."""
        claims = verifier().verify(body.refresh_token, expected_type="refresh")
        account = await accounts.accounts.find_one({"_id": claims["sub"]})
        if account is None:
            raise ApiError(401, "the account no longer exists")
        return accounts.tokens(account)

    @router.get("/me", response_model=Account)
    async def me(principal: CurrentPrincipal) -> Account:
        account = await accounts.accounts.find_one({"_id": principal.account_id})
        if account is None:
            raise ApiError(404, "the account no longer exists")
        return account_view(account)

    @router.post("/staff", status_code=201, response_model=Account, tags=["admin"])
    async def create_staff(body: StaffAccount, _: Annotated[Principal, Depends(require_role(Role.ADMIN))]) -> Account:
        """Finance officers and operators are created by an admin, never by sign-up."""
        return account_view(await accounts.create(Role(body.role), body.name, body.email, body.phone, body.password))

    return router
