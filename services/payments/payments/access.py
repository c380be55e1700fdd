"""Who may call what, with the access tokens of issue #4 (verified locally by beli_runtime.auth).

Operators (role `admin`) manage levy rules and refunds; the province's finance office (role
`finance`, and admins) reads the ledger; a seller reads only its own statement."""

from typing import Annotated

from fastapi import Depends, Path

from beli_runtime.auth import Principal, Role, current_principal, require_role
from beli_runtime.http import ApiError

operator_only = require_role(Role.ADMIN)
finance_office = require_role(Role.FINANCE, Role.ADMIN)


async def statement_reader(principal: Annotated[Principal, Depends(current_principal)], seller_id: str = Path(max_length=64)) -> Principal:
    """The seller itself (its token carries its seller id), the finance office, or an admin."""
    if principal.role in (Role.FINANCE, Role.ADMIN) or (principal.role is Role.SELLER and principal.seller_id == seller_id):
        return principal
    raise ApiError(403, "a seller can only read its own statement")


def actor(principal: Principal) -> str:
    """Who did it, for the record (rule changes, closings)."""
    return principal.email or principal.account_id
