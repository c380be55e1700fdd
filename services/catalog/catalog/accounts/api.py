"""Accounts HTTP routes under /auth (served by the catalog service)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from beli_runtime.auth import CurrentPrincipal, Principal, Role, require_role, verifier
from beli_runtime.http import ApiError
from catalog.accounts.models import Accepted, Account, Login, PhoneCode, Refresh, Resend, SignUp, StaffAccount, Tokens, Verify
from catalog.accounts.service import Accounts, account_view

_bearer = HTTPBearer(auto_error=False)
THROTTLED: dict[int | str, dict[str, Any]] = {429: {"description": "Too many failed attempts: wait `Retry-After` seconds"}}
CODE_SENT = (
    "Terima kasih. Jika alamat ini dapat didaftarkan, kode verifikasi 6 angka sudah kami kirim ke e-mail tersebut "
    "(dan lewat SMS ke nomor telepon Anda). Masukkan kode itu untuk mengaktifkan akun; kode berlaku 15 menit."
)


def client_address(request: Request) -> str:
    """The caller's address. Behind a reverse proxy, uvicorn takes it from X-Forwarded-For only
    when the proxy's own address is in FORWARDED_ALLOW_IPS (default: 127.0.0.1)."""
    return request.client.host if request.client else "unknown"


def build_router(accounts: Accounts) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["accounts"])
    _register_sign_up(router, accounts)
    _register_sessions(router, accounts)
    _register_phone(router, accounts)
    _register_staff(router, accounts)
    return router


def _register_sign_up(router: APIRouter, accounts: Accounts) -> None:
    @router.post("/signup", status_code=202, response_model=Accepted, responses={422: {"description": "Invalid fields or a weak password"}})
    async def sign_up(body: SignUp) -> Accepted:
        """Always the same answer, whether the e-mail is new or not (no probing of who has an
        account). Codes go to the e-mail (and by SMS to the phone); `POST /auth/verify` with the
        e-mail code activates the account and signs in."""
        await accounts.sign_up(body)
        return Accepted(message=CODE_SENT)

    @router.post("/verify", response_model=Tokens, responses={400: {"description": "Wrong or expired code"}, **THROTTLED})
    async def verify(body: Verify, request: Request) -> Tokens:
        """The e-mail code from sign-up (and optionally the SMS code): the account is active and signed in."""
        account = await accounts.verify_email(body.email, body.code, body.phone_code, client_address(request))
        return await accounts.sign_in(account)

    @router.post("/verify/resend", status_code=202, response_model=Accepted)
    async def resend(body: Resend) -> Accepted:
        """A new code for a sign-up not yet verified (at most one a minute). Same answer for any e-mail."""
        await accounts.resend(body.email)
        return Accepted(message=CODE_SENT)


def _register_sessions(router: APIRouter, accounts: Accounts) -> None:
    @router.post(
        "/login",
        response_model=Tokens,
        responses={
            401: {"description": "Wrong e-mail or password"},
            403: {"description": "E-mail not verified yet: a code was sent"},
            **THROTTLED,
        },
    )
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
        return account_view(await accounts.account(principal.account_id))


def _register_phone(router: APIRouter, accounts: Accounts) -> None:
    @router.post("/phone/code", status_code=202, response_model=Accepted)
    async def phone_code(principal: CurrentPrincipal) -> Accepted:
        """Sends an SMS code to the account's phone (at most one a minute)."""
        await accounts.send_phone_code(principal.account_id)
        return Accepted(message="Kode verifikasi sudah dikirim lewat SMS ke nomor telepon akun Anda.")

    @router.post("/phone/verify", response_model=Account, responses={400: {"description": "Wrong or expired code"}, **THROTTLED})
    async def phone_verify(body: PhoneCode, principal: CurrentPrincipal, request: Request) -> Account:
        """The phone is verified; refresh the token to carry it (WhatsApp/SMS messages need it)."""
        return account_view(await accounts.verify_phone(principal.account_id, body.code, client_address(request)))


def _register_staff(router: APIRouter, accounts: Accounts) -> None:
    @router.post("/staff", status_code=201, response_model=Account, tags=["admin"])
    async def create_staff(body: StaffAccount, _: Annotated[Principal, Depends(require_role(Role.ADMIN))]) -> Account:
        """Finance officers, operators, the programme office and OPD officers are created by an admin,
        never by sign-up; the admin vouches for the e-mail address (finance mail goes only to such
        accounts). An OPD officer is bound to one OPD (`opd_id`, from the programme service)."""
        if (body.role == "opd") != (body.opd_id is not None):
            raise ApiError(422, "opd_id wajib untuk peran opd, dan hanya untuk peran itu", field="opd_id")
        if (body.role == "outlet") != (body.outlet_id is not None):
            raise ApiError(422, "outlet_id wajib untuk peran outlet, dan hanya untuk peran itu", field="outlet_id")
        if body.outlet_id is not None and not await accounts.outlets.find_one({"_id": body.outlet_id, "active": True}, {"_id": 1}):
            raise ApiError(422, f"outlet {body.outlet_id} tidak ada atau sudah ditutup", field="outlet_id")
        account = await accounts.create_staff(
            Role(body.role), body.name, body.email, body.phone, body.password, opd_id=body.opd_id, outlet_id=body.outlet_id
        )
        return account_view(account)
