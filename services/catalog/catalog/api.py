"""Catalog HTTP routes: sellers and verification, listings, photos, search and NTT Mart outlets."""

from fastapi import APIRouter

from catalog import accounts, listings, outlets, photos, search, sellers
from catalog.accounts import Accounts
from catalog.listings import Listings
from catalog.outlets import stock_api


def build_router(service: Listings, account_service: Accounts, outlet_store: outlets.OutletStore) -> APIRouter:
    router = APIRouter()
    router.include_router(accounts.build_router(account_service))
    # Search is included before the listings so that GET /products is the search.
    router.include_router(search.build_router(service.store))
    router.include_router(sellers.build_router(service.store, service.write, account_service))
    router.include_router(listings.build_router(service))
    router.include_router(photos.build_router(service.store, service.write))
    router.include_router(outlets.build_router(outlet_store))
    router.include_router(stock_api.build_router(outlet_store, service.store, service.write))
    return router
