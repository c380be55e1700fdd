"""Who is calling: JWT access tokens verified locally with the accounts' public key.

Tokens are signed with Ed25519 (EdDSA) by the accounts module, which alone holds the private
key; every service verifies them on its own and never calls another service to do so.
"""

from collections.abc import Callable, Coroutine
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError

ISSUER = "beli-ntt-accounts"
AUDIENCE = "beli-ntt"
ALGORITHM = "EdDSA"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=7)


class Role(StrEnum):
    SHOPPER = "shopper"
    SELLER = "seller"
    FINANCE = "finance"
    ADMIN = "admin"


class Principal(BaseModel):
    """The authenticated caller, as the access token says."""

    account_id: str
    role: Role
    email: str | None = None
    phone: str | None = None
    seller_id: str | None = None

    def is_(self, *roles: Role) -> bool:
        return self.role in roles


class TokenVerifier:
    def __init__(self, public_key_pem: str) -> None:
        self._key = public_key_pem

    def verify(self, token: str, expected_type: str = "access") -> dict[str, Any]:
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "typ"]})
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "the access token has expired; refresh it") from None
        except jwt.PyJWTError as error:
            raise ApiError(401, f"invalid token: {error}") from None
        if claims.get("typ") != expected_type:
            raise ApiError(401, f"a {expected_type} token is required here")
        return claims

    def principal(self, token: str) -> Principal:
        claims = self.verify(token)
        try:
            return Principal(account_id=claims["sub"], role=claims["role"], email=claims.get("email"),
                             phone=claims.get("phone"), seller_id=claims.get("seller_id"))
        except (KeyError, ValueError):
            raise ApiError(401, "the token does not name a known role") from None


class TokenIssuer:
    """Only the accounts module (and the dev mint command) hold the private key."""

    def __init__(self, private_key_pem: str) -> None:
        self._key = private_key_pem

    def issue(self, principal: Principal, token_type: str = "access", ttl: timedelta = ACCESS_TTL, **extra: Any) -> str:
        now = utcnow()
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": principal.account_id, "typ": token_type, "role": principal.role.value,
                  "iat": now, "exp": now + ttl, **extra}
        for optional in ("email", "phone", "seller_id"):
            if getattr(principal, optional):
                claims[optional] = getattr(principal, optional)
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


def read_key(pem: str, path: str, what: str) -> str:
    if pem:
        return pem
    if path:
        return Path(path).read_text()
    raise RuntimeError(f"{what} is not configured: set JWT_{what.upper().replace(' ', '_')} or JWT_{what.upper().replace(' ', '_')}_FILE")


_bearer = HTTPBearer(auto_error=False, description="Access token from POST /auth/login")


def authenticator(verifier: Callable[[], TokenVerifier]) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def current(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        if credentials is None:
            raise ApiError(401, "sign in first: send `Authorization: Bearer <access token>`")
        return verifier().principal(credentials.credentials)

    return current


def requiring(current: Callable[..., Coroutine[Any, Any, Principal]], *roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets only the given roles through (403 for the others)."""

    async def check(principal: Annotated[Principal, Depends(current)]) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, f"this needs the role {' or '.join(r.value for r in roles)}; you are {principal.role.value}")
        return principal

    return check
