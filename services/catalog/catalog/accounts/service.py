"""Accounts: sign-up with a verification code, sign-in with throttling, tokens and sessions.

Sign-up never tells whether an e-mail already has an account: the answer is the same, and the
address's owner gets either a code (new or never verified) or a note that someone tried again.
An account gets tokens only once its e-mail is verified, so every token's e-mail is proven.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo.errors import DuplicateKeyError

from beli_contracts.accounts import AccountVerified, VerificationCodeIssued
from beli_runtime.auth import ACCESS_TTL, REFRESH_TTL, KeySettings, Principal, Role, TokenIssuer
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, Session, ensure_index
from beli_runtime.outbox import Outbox
from catalog.accounts.codes import Codes, What
from catalog.accounts.models import Account, SignUp, Tokens
from catalog.accounts.passwords import ensure_strong, hash_password, password_matches
from catalog.accounts.sessions import Sessions
from catalog.accounts.throttle import Limits, LoginThrottle
from catalog.documents import AccountDocument

T = TypeVar("T")
Write = Callable[[Callable[[Session], Awaitable[T]]], Awaitable[T]]
WRONG_CREDENTIALS = "e-mail atau kata sandi salah"  # the same for unknown e-mail: no account probing
WRONG_CODE = "Kode verifikasi salah atau sudah kedaluwarsa. Minta kode baru bila perlu."
NOT_VERIFIED = "E-mail Anda belum diverifikasi. Kami mengirim kode ke e-mail Anda; masukkan kode itu untuk melanjutkan."


class Accounts:
    def __init__(
        self, db: Database, write: Write[Any], outbox: Outbox, limits: Limits | None = None, reuse_leeway_seconds: float = 2.0
    ) -> None:
        self.accounts = db["accounts"]
        self.outlets = db["outlets"]  # the catalog's own outlets: staff accounts are bound to one
        self.write = write
        self.outbox = outbox
        self.codes = Codes(db)
        self.sessions = Sessions(db, reuse_leeway_seconds)
        self.throttle = LoginThrottle(db, limits or Limits())
        self.code_throttle = LoginThrottle(db, limits or Limits(), scope="code")
        self._issuer: TokenIssuer | None = None

    def issuer(self) -> TokenIssuer:
        if self._issuer is None:
            self._issuer = TokenIssuer(KeySettings().private())
        return self._issuer

    async def ensure_indexes(self) -> None:
        await ensure_index(self.accounts, "email", unique=True)
        await self.sessions.ensure_indexes()
        await self.throttle.ensure_indexes()

    # --- creation and verification ------------------------------------------------------------

    async def sign_up(self, body: SignUp) -> None:
        """Creates (or, while nobody has proven the address, replaces) a pending account and
        sends the codes; for a verified address only its owner is told. Same answer either way."""
        await ensure_strong(body.password, body.name, body.email, body.phone)
        email = body.email.lower()
        fields = {"role": body.role, "name": body.name, "phone": body.phone, "password_hash": await hash_password(body.password)}

        async def work(session: Session) -> None:
            account = AccountDocument.maybe(await self.accounts.find_one({"email": email}, session=session))
            if account is not None and account.email_verified_at:
                await self._tell_already_registered(session, account)
                return
            if account is None:
                account = new_account(email, fields)
                await self.accounts.insert_one(account.to_document(), session=session)
            else:  # a pending sign-up nobody proved: the newest one counts (no squatting on an address)
                await self.accounts.update_one({"_id": account.id}, {"$set": fields}, session=session)
                account = account.model_copy(update=fields)
            await self._send_code(session, account, "email")
            await self._send_code(session, account, "phone")

        try:
            await self.write(work)
        except DuplicateKeyError:
            pass  # the same address signing up twice at once: the other request sent the code

    async def create_staff(
        self,
        role: Role,
        name: str,
        email: str,
        phone: str,
        password: str,
        *,
        check_policy: bool = True,
        opd_id: str | None = None,
        outlet_id: str | None = None,
    ) -> AccountDocument:
        """Staff (finance, admin, programme, opd, outlet): the creating admin vouches for the e-mail address."""
        if check_policy:
            await ensure_strong(password, name, email, phone)
        staff = {
            "role": role.value,
            "name": name,
            "phone": phone,
            "password_hash": await hash_password(password),
            "email_verified_at": utcnow(),
            "opd_id": opd_id,
            "outlet_id": outlet_id,
        }
        account = new_account(email.lower(), staff)

        async def work(session: Session) -> None:
            await self.accounts.insert_one(account.to_document(), session=session)
            await self._announce(session, account)

        try:
            await self.write(work)
        except DuplicateKeyError:
            raise ApiError(409, "e-mail ini sudah terdaftar", field="email") from None
        return account

    async def resend(self, email: str) -> None:
        account = AccountDocument.maybe(await self.accounts.find_one({"email": email.lower()}))
        if account is not None and not account.email_verified_at:

            async def work(session: Session) -> None:
                await self._send_code(session, account, "email")
                await self._send_code(session, account, "phone")

            await self.write(work)

    async def verify_email(self, email: str, code: str, phone_code: str | None, address: str) -> AccountDocument:
        """The account, its e-mail (and, with the right phone code, its phone) now verified."""
        await self.code_throttle.begin(email, address)
        account = AccountDocument.maybe(await self.accounts.find_one({"email": email.lower()}))
        if account is None or account.email_verified_at or not await self.codes.accept(account.id, "email", code):
            raise ApiError(400, WRONG_CODE, field="code")
        await self.code_throttle.succeeded(email, address)
        changes = {"email_verified_at": utcnow()}
        if phone_code and await self.codes.accept(account.id, "phone", phone_code):
            changes["phone_verified_at"] = utcnow()
        return await self._mark(account, changes)

    async def send_phone_code(self, account_id: str) -> None:
        account = await self.account(account_id)
        if not account.phone_verified_at:
            await self.write(lambda session: self._send_code(session, account, "phone"))

    async def verify_phone(self, account_id: str, code: str, address: str) -> AccountDocument:
        account = await self.account(account_id)
        await self.code_throttle.begin(account.email + "#phone", address)
        if not account.phone_verified_at and not await self.codes.accept(account_id, "phone", code):
            raise ApiError(400, WRONG_CODE, field="code")
        await self.code_throttle.succeeded(account.email + "#phone", address)
        return await self._mark(account, {"phone_verified_at": account.phone_verified_at or utcnow()})

    async def _mark(self, account: AccountDocument, changes: dict[str, Any]) -> AccountDocument:
        account = account.model_copy(update=changes)

        async def work(session: Session) -> None:
            await self.accounts.update_one({"_id": account.id}, {"$set": changes}, session=session)
            await self._announce(session, account)

        await self.write(work)
        return account

    async def _send_code(self, session: Session, account: AccountDocument, what: What) -> None:
        issued = await self.codes.issue(session, account.id, what)
        if issued is None:
            return
        code, expires_at = issued
        channel, address = ("email", account.email) if what == "email" else ("sms", account.phone)
        purpose = "sign_up" if what == "email" else "phone"
        event = VerificationCodeIssued(
            account_id=account.id,
            name=account.name,
            channel=channel,
            address=address,
            purpose=purpose,
            code=code,
            expires_at=expires_at,
        )
        await self.outbox.add(session, event, key=account.id)

    async def _tell_already_registered(self, session: Session, account: AccountDocument) -> None:
        if await self.codes.issue(session, account.id, "email") is None:
            return  # told recently enough
        event = VerificationCodeIssued(
            account_id=account.id, name=account.name, channel="email", address=account.email, purpose="already_registered"
        )
        await self.outbox.add(session, event, key=account.id)

    async def _announce(self, session: Session, account: AccountDocument) -> None:
        event = AccountVerified(
            account_id=account.id,
            role=account.role,
            email=account.email,
            email_verified=bool(account.email_verified_at),
            phone=account.phone,
            phone_verified=bool(account.phone_verified_at),
            name=account.name,
        )
        await self.outbox.add(session, event, key=account.id)

    async def account(self, account_id: str) -> AccountDocument:
        account = AccountDocument.maybe(await self.accounts.find_one({"_id": account_id}))
        if account is None:
            raise ApiError(404, "akun ini sudah tidak ada")
        return account

    # --- sign-in and sessions -----------------------------------------------------------------

    async def authenticate(self, email: str, password: str, address: str) -> AccountDocument:
        """The account, if the password is right; 401 if not; 429 while throttled; 403 until the
        e-mail is verified (a new code is sent)."""
        await self.throttle.begin(email, address)
        account = AccountDocument.maybe(await self.accounts.find_one({"email": email.lower()}))
        if not await password_matches(account.password_hash if account else None, password) or account is None:
            raise ApiError(401, WRONG_CREDENTIALS)
        await self.throttle.succeeded(email, address)
        if not account.email_verified_at:
            await self.resend(email)
            raise ApiError(403, NOT_VERIFIED, verification_required=True)
        return account

    async def link_seller(self, account_id: str, seller_id: str) -> None:
        await self.accounts.update_one({"_id": account_id}, {"$set": {"seller_id": seller_id}})

    async def seller_of(self, account_id: str) -> str | None:
        account = await self.accounts.find_one({"_id": account_id}, {"seller_id": 1})
        return account.get("seller_id") if account else None

    async def sign_in(self, account: AccountDocument) -> Tokens:
        """A new session (refresh-token family) and its first tokens."""
        return await self.tokens(account, await self.sessions.start(account.id))

    async def refresh(self, refresh_token: str) -> Tokens:
        """Spend the refresh token; the next tokens carry the account's current facts."""
        claims = await self.sessions.spend(refresh_token)
        account = AccountDocument.maybe(await self.accounts.find_one({"_id": claims["sub"]}))
        if account is None:
            raise ApiError(401, "akun ini sudah tidak ada")
        return await self.tokens(account, claims["fam"])

    async def tokens(self, account: AccountDocument, family: str) -> Tokens:
        principal = principal_of(account)
        issuer = self.issuer()
        token_id = await self.sessions.new_token_id(family, account.id)
        return Tokens(
            account=account_view(account),
            access_token=issuer.issue(principal, sid=family),
            refresh_token=issuer.issue(principal, "refresh", REFRESH_TTL, jti=token_id, fam=family),
            expires_in=int(ACCESS_TTL.total_seconds()),
        )


def new_account(email: str, fields: dict[str, Any]) -> AccountDocument:
    """A new account with the given role, name, phone, password hash (and, for staff, more)."""
    return AccountDocument.model_validate(
        {
            "_id": f"acc-{uuid.uuid4().hex[:12]}",
            "email": email,
            "seller_id": None,
            "created_at": utcnow(),
            "email_verified_at": None,
            "phone_verified_at": None,
        }
        | fields
    )


def _identity(account: AccountDocument) -> dict[str, Any]:
    """What both the token's principal and the account view say about an account."""
    return {
        "role": account.role,
        "email": account.email,
        "phone": account.phone,
        "seller_id": account.seller_id,
        "opd_id": account.opd_id,
        "outlet_id": account.outlet_id,
        "email_verified": bool(account.email_verified_at),
        "phone_verified": bool(account.phone_verified_at),
    }


def principal_of(account: AccountDocument) -> Principal:
    return Principal(account_id=account.id, **_identity(account))


def account_view(account: AccountDocument) -> Account:
    return Account(id=account.id, name=account.name, **_identity(account))
