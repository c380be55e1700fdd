"""Product photos: uploaded as multipart, stored in MongoDB GridFS (bucket `photos`), served
with the content type found in the bytes themselves.

GridFS cannot take part in a multi-document transaction (PyMongo refuses), so an upload is
stored first and then attached to the product in a transaction; if attaching fails, the stored
file is deleted again. A crash between the two leaves an unattached file, never a product that
names a missing photo.
"""

from typing import Annotated

from bson import ObjectId
from bson.errors import InvalidId
from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.responses import Response
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from beli_runtime.auth import OptionalPrincipal, Principal
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Session
from catalog import access
from catalog.documents import ProductDocument
from catalog.listings import Write
from catalog.store import CatalogStore
from catalog.views import Product, product_view

MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_PHOTOS = 8
# Multipart framing around the file: the body limit must let a full-size photo through.
MULTIPART_OVERHEAD = 64 * 1024
PRODUCT_OWNER = [Depends(access.product_owner)]


def sniff_image(data: bytes) -> str | None:
    """The image type by its magic bytes (never trust the client's Content-Type header)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def build_router(store: CatalogStore, write: Write) -> APIRouter:
    router = APIRouter(tags=["photos"])
    bucket = AsyncGridFSBucket(store.db, bucket_name="photos")
    _register_upload(router, store, write, bucket)
    _register_download(router, store, bucket)
    _register_removal(router, store, write, bucket)
    return router


def _register_upload(router: APIRouter, store: CatalogStore, write: Write, bucket: AsyncGridFSBucket) -> None:
    @router.post("/products/{product_id}/photos", status_code=201, response_model=Product, dependencies=PRODUCT_OWNER)
    async def upload_photo(product_id: str, photo: Annotated[UploadFile, File(description="JPEG, PNG or WebP, at most 2 MB")]) -> Product:
        data = await photo.read(MAX_PHOTO_BYTES + 1)
        if len(data) > MAX_PHOTO_BYTES:
            raise ApiError(413, "foto lebih besar dari 2 MB", field="photo")
        if not data:
            raise ApiError(422, "foto kosong", field="photo")
        content_type = sniff_image(data)
        if content_type is None:
            raise ApiError(415, "foto harus berupa JPEG, PNG atau WebP", field="photo")
        product = await store.product(product_id)
        if product is None:
            raise ApiError(404, f"produk {product_id} tidak ditemukan")
        if len(product.photos) >= MAX_PHOTOS:
            raise ApiError(409, f"paling banyak {MAX_PHOTOS} foto per produk", field="photo")
        file_id = await bucket.upload_from_stream(
            photo.filename or "photo", data, metadata={"product_id": product_id, "content_type": content_type}
        )
        entry = {"id": str(file_id), "content_type": content_type, "size": len(data), "uploaded_at": utcnow()}

        async def attach(session: Session) -> ProductDocument | None:
            # The count condition makes concurrent uploads respect the limit too.
            updated = await store.products.update_one(
                {"_id": product_id, f"photos.{MAX_PHOTOS - 1}": {"$exists": False}},
                {"$push": {"photos": entry}, "$set": {"updated_at": utcnow()}},
                session=session,
            )
            return await store.product(product_id, session) if updated.modified_count == 1 else None

        try:
            attached = await write(attach)
        except BaseException:
            await bucket.delete(file_id)
            raise
        if attached is None:
            await bucket.delete(file_id)
            raise ApiError(409, f"paling banyak {MAX_PHOTOS} foto per produk", field="photo")
        return product_view(attached)


def _register_download(router: APIRouter, store: CatalogStore, bucket: AsyncGridFSBucket) -> None:
    @router.get(
        "/products/{product_id}/photos/{photo_id}",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
    )
    async def get_photo(product_id: str, photo_id: str, principal: OptionalPrincipal) -> Response:
        """Photos of products shoppers can see; the seller's own account and operators also see
        those of hidden products (pending seller, inactive listing). Everyone else: 404."""
        product = await store.products.find_one({"_id": product_id, "photos.id": photo_id}, {"photos": 1, "visible": 1, "seller_id": 1})
        if product is None or not (product.get("visible") or await _may_see_hidden(principal, product["seller_id"])):
            raise ApiError(404, f"foto {photo_id} tidak ada pada produk {product_id}")
        entry = next(p for p in product["photos"] if p["id"] == photo_id)
        try:
            stream = await bucket.open_download_stream(ObjectId(photo_id))
            data = await stream.read()
        except (NoFile, InvalidId):
            raise ApiError(404, f"foto {photo_id} tidak ditemukan") from None
        # A photo id is never reused for other bytes, so caches may keep a public one for good;
        # a hidden product's photo is for its seller's eyes only and never kept by shared caches.
        caching = "public, max-age=31536000, immutable" if product.get("visible") else "private, no-store"
        return Response(data, media_type=entry["content_type"], headers={"Cache-Control": caching, "X-Content-Type-Options": "nosniff"})

    async def _may_see_hidden(principal: Principal | None, seller_id: str) -> bool:
        seller = await store.seller(seller_id) if principal is not None else None
        return seller is not None and access.sees_private(principal, seller)


def _register_removal(router: APIRouter, store: CatalogStore, write: Write, bucket: AsyncGridFSBucket) -> None:
    @router.delete("/products/{product_id}/photos/{photo_id}", response_model=Product, dependencies=PRODUCT_OWNER)
    async def delete_photo(product_id: str, photo_id: str) -> Product:
        async def detach(session: Session) -> ProductDocument | None:
            updated = await store.products.update_one(
                {"_id": product_id, "photos.id": photo_id},
                {"$pull": {"photos": {"id": photo_id}}, "$set": {"updated_at": utcnow()}},
                session=session,
            )
            return await store.product(product_id, session) if updated.modified_count == 1 else None

        product = await write(detach)
        if product is None:
            raise ApiError(404, f"foto {photo_id} tidak ada pada produk {product_id}")
        try:
            await bucket.delete(ObjectId(photo_id))
        except NoFile:
            pass  # already gone: the product no longer names it, which is what matters
        return product_view(product)
