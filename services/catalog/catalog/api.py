"""Catalog HTTP routes: sellers and verification, listings, photos and search."""

from fastapi import APIRouter

from catalog import listings, photos, search, sellers
from catalog.listings import Listings


def build_router(service: Listings) -> APIRouter:
    router = APIRouter()
    # Search is included before the listings so that GET /products is the search.
    router.include_router(search.build_router(service.store))
    router.include_router(sellers.build_router(service.store, service.write))
    router.include_router(listings.build_router(service))
    router.include_router(photos.build_router(service.store, service.write))
    return router
