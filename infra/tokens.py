"""Mint access tokens for any role with the development signing key — for scripts and tests.

    uv run python infra/tokens.py --role finance
    uv run python infra/tokens.py --role seller --seller-id slr-1234 --email toko@example.id
    uv run python infra/tokens.py --role shopper --email asn@example.id

Only works where the private key is at hand (the dev key in infra/dev-keys by default, or
JWT_PRIVATE_KEY_FILE); real users get their tokens from `POST /auth/login`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from beli_runtime.auth import Principal, Role, TokenIssuer

DEV_KEYS = Path(__file__).resolve().parent / "dev-keys"
DEV_PRIVATE_KEY = DEV_KEYS / "jwt-ed25519.pem"
DEV_PUBLIC_KEY = DEV_KEYS / "jwt-ed25519.pub.pem"


def mint(
    role: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    seller_id: str | None = None,
    account_id: str | None = None,
    opd_id: str | None = None,
    outlet_id: str | None = None,
    minutes: int = 60,
    verified: bool = True,
) -> str:
    """A token as the accounts module would sign it; `verified`: the account proved its e-mail and
    phone with a code (what real sign-ups do before they get any token)."""
    key = Path(os.environ.get("JWT_PRIVATE_KEY_FILE") or DEV_PRIVATE_KEY).read_text()
    # A stable account id per e-mail, so that the same person minted twice is the same account.
    account_id = (
        account_id or "acc-dev-" + hashlib.sha256(f"{role}:{email or seller_id or opd_id or outlet_id or ''}".encode()).hexdigest()[:12]
    )
    principal = Principal(
        account_id=account_id,
        role=Role(role),
        email=email,
        phone=phone,
        seller_id=seller_id,
        opd_id=opd_id,
        outlet_id=outlet_id,
        email_verified=verified and email is not None,
        phone_verified=verified and phone is not None,
    )
    return TokenIssuer(key).issue(principal, ttl=timedelta(minutes=minutes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--email")
    parser.add_argument("--phone")
    parser.add_argument("--seller-id")
    parser.add_argument("--account-id")
    parser.add_argument("--opd-id")
    parser.add_argument("--outlet-id")
    parser.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()
    print(
        mint(
            args.role,
            email=args.email,
            phone=args.phone,
            seller_id=args.seller_id,
            account_id=args.account_id,
            opd_id=args.opd_id,
            outlet_id=args.outlet_id,
            minutes=args.minutes,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
