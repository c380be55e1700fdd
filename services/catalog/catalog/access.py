"""Who may do what: the seams where the accounts service's checks will plug in.

Today every route is open (there are no accounts yet). Each route that needs a role or
ownership already depends on one of these functions, so adding JWT checks later means filling
them in (e.g. reading `Authorization`, raising ApiError(401/403)) without touching the routes.
"""

from fastapi import Path


async def admin_only() -> None:
    """Operator (admin) routes: verifying sellers, listing pending sign-ups."""


async def seller_self(seller_id: str = Path()) -> None:
    """The seller named in the path (or an admin) may read private data and change the profile."""


async def product_owner(product_id: str = Path()) -> None:
    """Only the seller who owns the product (or an admin) may change it, its stock and photos."""
