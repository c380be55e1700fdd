"""Who may see what. The programme office (role `programme`, and operators) sees everything; an
OPD officer (role `opd`, bound to one OPD by its token) only its own OPD, and asking for another
OPD's data answers 404 (no probing); shoppers only their own progress; NIPs are masked for all
but the programme office."""

from typing import Annotated

from fastapi import Depends

from beli_runtime.auth import Principal, Role, current_principal, require_role
from beli_runtime.http import ApiError

office = require_role(Role.PROGRAMME, Role.ADMIN)
office_or_opd = require_role(Role.PROGRAMME, Role.ADMIN, Role.OPD)
shopper = require_role(Role.SHOPPER)

Office = Annotated[Principal, Depends(office)]
OfficeOrOpd = Annotated[Principal, Depends(office_or_opd)]
Shopper = Annotated[Principal, Depends(shopper)]


def opd_scope(principal: Principal) -> str | None:
    """None for the office (every OPD); the officer's own OPD otherwise."""
    if principal.role is Role.OPD:
        if not principal.opd_id:
            raise ApiError(403, "akun OPD ini belum terhubung dengan sebuah OPD")
        return principal.opd_id
    return None


def check_opd(principal: Principal, opd_id: str) -> None:
    scope = opd_scope(principal)
    if scope is not None and scope != opd_id:
        raise ApiError(404, f"tidak ada OPD {opd_id}")


def sees_full_nip(principal: Principal) -> bool:
    return principal.role is Role.PROGRAMME


def actor(principal: Principal) -> str:
    return principal.email or principal.account_id


__all__ = ["Office", "OfficeOrOpd", "Shopper", "actor", "check_opd", "current_principal", "opd_scope", "sees_full_nip"]
