"""Accounts HTTP routes under /auth (served by the catalog service)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from beli_runtime.auth import CurrentPrincipal, Principal, Role, require_role, verifier
from beli_runtime.http import ApiError
from catalog.accounts.models import Account, Login, Refresh, SignUp, StaffAccount, Tokens
from catalog.accounts.service import Accounts, account_view

_bearer = HTTPBearer(auto_error=False)
THROTTLED = {429: {"description": "Too many failed attempts: wait `Retry-After` seconds"}}


def client_address(request: Request) -> str:
    """The caller's address. Behind a reverse proxy, uvicorn takes it from X-Forwarded-For only
    when the proxy's own address is in FORWARDED_ALLOW_IPS (default: 127.0.0.1)."""
    return request.client.host if request.client else "unknown"


def build_router(accounts: Accounts) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["accounts"])

    @router.post("/signup", status_code=201, response_model=Tokens)
    async def sign_up(body: SignUp) -> Tokens:
        account = await accounts.create(Role(body.role), body.name, body.email, body.phone, body.password)
        return await accounts.sign_in(account)

    @router.post("/login", response_model=Tokens, responses={401: {"description": "Wrong e-mail or password"}, **THROTTLED})
    async def log_in(body: Login, request: Request) -> Tokens:
        return await accounts.sign_in(await accounts.authenticate(body.email, body.password, client_address(request)))

    @router.post("/refresh", response_model=Tokens, responses={401: {"description": "Invalid, expired, used or revoked refresh token"}})
    async def refresh(body: Refresh) -> Tokens:
        """Spends the refresh token and returns the next pair (with the account's current facts,
        e.g. its seller profile once created). Presenting a spent refresh token again revokes
        the whole session: sign in again."""
        return await accounts.refresh(body.refresh_token)

    @router.post("/logout", status_code=204, response_class=Response, responses={401: {"description": "Not a valid refresh token"}})
    async def log_out(body: Refresh) -> Response:
        """Ends the session the refresh token belongs to: none of its refresh tokens work any more."""
        await accounts.sessions.sign_out(body.refresh_token)
        return Response(status_code=204)

    @router.get("/me", response_model=Account)
    async def me(principal: CurrentPrincipal, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Account:
        session = verifier().verify(credentials.credentials).get("sid") if credentials else None
        if not await accounts.sessions.is_active(session):
            raise ApiError(401, "Sesi ini sudah berakhir; silakan masuk lagi.")
        account = await accounts.accounts.find_one({"_id": principal.account_id})
        if account is None:
            raise ApiError(404, "akun ini sudah tidak ada")
        return account_view(account)

    @router.post("/staff", status_code=201, response_model=Account, tags=["admin"])
    async def create_staff(body: StaffAccount, _: Annotated[Principal, Depends(require_role(Role.ADMIN))]) -> Account:
        """Finance officers, operators, the programme office and OPD officers are created by an admin,
        never by sign-up. An OPD officer is bound to one OPD (`opd_id`, from the programme service)."""
        if (body.role == "opd") != (body.opd_id is not None):
            raise ApiError(422, "opd_id wajib untuk peran opd, dan hanya untuk peran itu", field="opd_id")
        return account_view(await accounts.create(Role(body.role), body.name, body.email, body.phone, body.password, opd_id=body.opd_id))

    return router
