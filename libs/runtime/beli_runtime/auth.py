"""Who is calling: JWT access tokens verified locally with the accounts' public key.

Tokens are signed with Ed25519 (EdDSA) by the accounts module, which alone holds the private
key; every service verifies them on its own and never calls another service to do so.
"""

from collections.abc import Callable, Coroutine
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    PROGRAMME = "programme"  # the programme office (BKD / Biro Ekonomi): ASN roster, compliance, targets
    OPD = "opd"  # an OPD's own officer: only that OPD's ASN (the token carries its opd_id)
    OUTLET = "outlet"  # staff of one NTT Mart outlet: only that outlet's stock and sales (the token carries its outlet_id)


class Principal(BaseModel):
    """The authenticated caller, as the access token says."""

    account_id: str
    role: Role
    email: str | None = None
    phone: str | None = None
    seller_id: str | None = None
    opd_id: str | None = None
    outlet_id: str | None = None
    # What the account proved with a code: messages go only to verified addresses.
    email_verified: bool = False
    phone_verified: bool = False

    def is_(self, *roles: Role) -> bool:
        return self.role in roles


class TokenVerifier:
    def __init__(self, public_key_pem: str) -> None:
        self._key = public_key_pem

    def verify(self, token: str, expected_type: str = "access") -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "typ"]},
            )
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
            return Principal(
                account_id=claims["sub"],
                role=claims["role"],
                email=claims.get("email"),
                phone=claims.get("phone"),
                seller_id=claims.get("seller_id"),
                opd_id=claims.get("opd_id"),
                outlet_id=claims.get("outlet_id"),
                email_verified=claims.get("email_verified") is True,
                phone_verified=claims.get("phone_verified") is True,
            )
        except (KeyError, ValueError):
            raise ApiError(401, "the token does not name a known role") from None


class TokenIssuer:
    """Only the accounts module (and the dev mint command) hold the private key."""

    def __init__(self, private_key_pem: str) -> None:
        self._key = private_key_pem

    def issue(self, principal: Principal, token_type: str = "access", ttl: timedelta = ACCESS_TTL, **extra: Any) -> str:
        now = utcnow()
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.account_id,
            "typ": token_type,
            "role": principal.role.value,
            "iat": now,
            "exp": now + ttl,
            **extra,
        }
        for optional in ("email", "phone", "seller_id", "opd_id", "outlet_id", "email_verified", "phone_verified"):
            if getattr(principal, optional):
                claims[optional] = getattr(principal, optional)
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class KeySettings(BaseSettings):
    """JWT_PUBLIC_KEY(_FILE) in every service; JWT_PRIVATE_KEY(_FILE) only where tokens are issued."""

    model_config = SettingsConfigDict(env_prefix="JWT_", extra="ignore")

    public_key: str = ""
    public_key_file: str = ""
    private_key: str = ""
    private_key_file: str = ""

    def public(self) -> str:
        return _pem(self.public_key, self.public_key_file, "JWT_PUBLIC_KEY")

    def private(self) -> str:
        return _pem(self.private_key, self.private_key_file, "JWT_PRIVATE_KEY")


def _pem(inline: str, path: str, name: str) -> str:
    if inline:
        return inline
    if path:
        return Path(path).read_text()
    raise RuntimeError(f"{name} is not configured: set {name} (PEM) or {name}_FILE (a path)")


@lru_cache(maxsize=1)
def verifier() -> TokenVerifier:
    return TokenVerifier(KeySettings().public())


_bearer = HTTPBearer(auto_error=False, description="Access token from `POST /auth/login` (catalog service)")


async def current_principal(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if credentials is None:
        raise ApiError(401, "sign in first: send `Authorization: Bearer <access token>`")
    return verifier().principal(credentials.credentials)


async def optional_principal(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal | None:
    """For routes open to everyone that show more to some callers: None when anonymous; a token
    that is sent must still be valid (401 otherwise), so a bad token never falls back silently."""
    return None if credentials is None else verifier().principal(credentials.credentials)


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets only the given roles through (403 for every other role)."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, f"this needs the role {' or '.join(r.value for r in roles)}; you are signed in as {principal.role.value}")
        return principal

    return check


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
