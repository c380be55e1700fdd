"""NTT Mart outlets: the 22 seeded at start-up, managed by the operator, each announced with
OutletChanged so that other services keep their own copy (they never read this database)."""

from catalog.outlets.api import build_router
from catalog.outlets.store import OutletStore

__all__ = ["OutletStore", "build_router"]
