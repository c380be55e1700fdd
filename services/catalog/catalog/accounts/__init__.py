"""Accounts: sign-up, login, sessions and token refresh for shoppers and sellers; staff accounts
by admin. Tokens are signed with the private key only this module holds; every service verifies
them itself (beli_runtime.auth)."""

from catalog.accounts.api import build_router
from catalog.accounts.service import WRONG_CREDENTIALS, Accounts, account_view, principal_of
from catalog.accounts.throttle import Limits

__all__ = ["WRONG_CREDENTIALS", "Accounts", "Limits", "account_view", "build_router", "principal_of"]
