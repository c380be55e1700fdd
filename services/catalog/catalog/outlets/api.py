"""Outlet routes: anyone lists the open outlets (shoppers choose one for pick-up); the operator
(admin) creates, changes and closes them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from beli_contracts.outlets import outlet_id_for, outlet_name_for
from beli_runtime.auth import OptionalPrincipal, Role
from beli_runtime.http import ApiError
from catalog import access
from catalog.outlets.models import NewOutlet, Outlet, OutletChanges
from catalog.outlets.store import OutletStore, outlet_view


def build_router(store: OutletStore) -> APIRouter:
    router = APIRouter(tags=["outlets"])
    admin = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(access.admin_only)])
    _register_public(router, store)
    _register_admin(admin, store)
    router.include_router(admin)
    return router


def _register_public(router: APIRouter, store: OutletStore) -> None:
    @router.get("/outlets", response_model=list[Outlet])
    async def open_outlets() -> list[Outlet]:
        """The NTT Mart outlets that are open, by id (`ntt-mart-<kabupaten/kota>`)."""
        return [outlet_view(doc) for doc in await store.all(active_only=True)]

    @router.get("/outlets/{outlet_id}", response_model=Outlet, responses={404: {"description": "No such outlet"}})
    async def one_outlet(outlet_id: str, principal: OptionalPrincipal) -> Outlet:
        """An open outlet; a closed one only for the operator."""
        outlet = await store.get(outlet_id)
        if outlet is None or not (outlet.active or (principal is not None and principal.role is Role.ADMIN)):
            raise ApiError(404, f"outlet {outlet_id} tidak ditemukan")
        return outlet_view(outlet)


def _register_admin(admin: APIRouter, store: OutletStore) -> None:
    @admin.get("/outlets", response_model=list[Outlet])
    async def every_outlet(
        active: Annotated[bool | None, Query(description="Only open (true) or closed (false) ones")] = None,
    ) -> list[Outlet]:
        outlets = await store.all(active_only=False)
        return [outlet_view(doc) for doc in outlets if active is None or doc.active is active]

    @admin.post("/outlets", status_code=201, response_model=Outlet, responses={409: {"description": "The outlet id is taken"}})
    async def create_outlet(body: NewOutlet) -> Outlet:
        fields = body.model_dump(exclude={"outlet_id"})
        fields["_id"] = body.outlet_id or outlet_id_for(body.regency)
        fields["name"] = body.name or outlet_name_for(body.regency)
        outlet = await store.create(fields)
        if outlet is None:
            raise ApiError(409, f"outlet {fields['_id']} sudah ada", field="outlet_id")
        return outlet_view(outlet)

    @admin.patch("/outlets/{outlet_id}", response_model=Outlet, responses={404: {"description": "No such outlet"}})
    async def change_outlet(outlet_id: str, body: OutletChanges) -> Outlet:
        """Changes the details; `active: false` closes the outlet (its staff can no longer sell)."""
        changes = body.model_dump(exclude_unset=True)
        for name, value in changes.items():
            if value is None:
                raise ApiError(422, f"{name} tidak boleh kosong", field=name)
        outlet = await store.update(outlet_id, changes) if changes else await store.get(outlet_id)
        if outlet is None:
            raise ApiError(404, f"outlet {outlet_id} tidak ditemukan")
        return outlet_view(outlet)
