"""What the accounts API takes and answers."""

from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from beli_runtime.auth import Role
from beli_runtime.strict import StrictRequest as Strict

PHONE = r"^\+?[0-9]{8,15}$"
PASSWORD_RULE = "At least 10 characters and hard to guess (checked with zxcvbn against common passwords and your own name, e-mail, phone)"


class SignUp(Strict):
    role: Literal["shopper", "seller"] = Field(description="Shoppers buy; sellers create a seller profile next (`POST /sellers`)")
    name: str = Field(min_length=2, max_length=120)
    email: EmailStr
    phone: str = Field(pattern=PHONE)
    password: str = Field(min_length=10, max_length=200, description=PASSWORD_RULE)


class StaffAccount(Strict):
    role: Literal["finance", "admin", "programme", "opd", "outlet"]
    name: str = Field(min_length=2, max_length=120)
    email: EmailStr
    phone: str = Field(pattern=PHONE)
    password: str = Field(min_length=10, max_length=200, description=PASSWORD_RULE)
    opd_id: str | None = Field(
        default=None, pattern=r"^[a-z0-9-]{2,64}$", description="Role `opd` only: the OPD (programme service) the officer sees"
    )
    outlet_id: str | None = Field(
        default=None, pattern=r"^ntt-mart-[a-z0-9-]{2,60}$", description="Role `outlet` only: the open NTT Mart outlet the staff work at"
    )


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
    opd_id: str | None = None
    outlet_id: str | None = None
    email_verified: bool = Field(description="Proven with a code; tokens are only issued once it is")
    phone_verified: bool = Field(description="Proven with an SMS code; WhatsApp/SMS messages go only to a verified phone")


class Accepted(BaseModel):
    message: str


class Verify(Strict):
    email: EmailStr
    code: str = Field(pattern=r"^[0-9]{6}$", description="The 6 digits sent to the e-mail address")
    phone_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="Optional: the 6 digits sent by SMS to the phone")


class Resend(Strict):
    email: EmailStr


class PhoneCode(Strict):
    code: str = Field(pattern=r"^[0-9]{6}$")


class Tokens(BaseModel):
    account: Account
    access_token: str
    refresh_token: str = Field(description="One use: each refresh returns the next one; a reused one ends the session")
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid")
