"""Shopper search: words, filters, sorts, cursor pages and facet counts.

Query plan (indexes in store.ensure_indexes; every query starts with `visible: true`):
- words:            {visible, search_terms: longest word}, then the rest → (visible, search_terms, created_at, _id)
- regency/category: {visible, regency, category}              → (visible, regency, category, created_at, _id)
- category + price: {visible, category, price range}          → (visible, category, price, _id)
- no filter:        newest → (visible, created_at, _id); price sorts → (visible, price, _id)
Relevance is computed by the database ($setIntersection of the query terms with the name terms)
so that sorting and paging by it happen on the whole match, not on one fetched page.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from beli_runtime.http import ApiError
from catalog import cursor, text
from catalog.documents import ProductDocument
from catalog.domain import CATEGORIES, MAX_PRICE, REGENCIES
from catalog.store import CatalogStore
from catalog.views import Product, product_view

MAX_PAGE = 100


class Filters(BaseModel):
    terms: list[str] = []
    regency: str | None = None
    category: str | None = None
    ovop: bool | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False
    seller_id: str | None = None

    def match(self, *, skip: str | None = None) -> dict[str, Any]:
        """The filter as a MongoDB query; `skip` leaves one facet's own filter out (so that the
        regency facet still counts the other regencies while one is selected)."""
        query: dict[str, Any] = {"visible": True}
        if len(self.terms) == 1:
            query["search_terms"] = self.terms[0]  # plain equality: index-bounded on SecantusDB too
        elif self.terms:
            query["search_terms"] = {"$all": self.terms}
        if self.regency and skip != "regency":
            query["regency"] = self.regency
        if self.category and skip != "category":
            query["category"] = self.category
        if self.ovop is not None:
            query["ovop"] = self.ovop
        price: dict[str, int] = {}
        if self.min_price is not None:
            price["$gte"] = self.min_price
        if self.max_price is not None:
            price["$lte"] = self.max_price
        if price:
            query["price"] = price
        if self.in_stock:
            query["stock"] = {"$gt": 0}
        if self.seller_id:
            query["seller_id"] = self.seller_id
        return query


class FacetCount(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    regency: list[FacetCount]
    category: list[FacetCount]


class OvopVillage(BaseModel):
    village: str
    regency: str
    products: int


class SearchPage(BaseModel):
    items: list[Product]
    next_cursor: str | None
    facets: Facets | None = None


async def search(store: CatalogStore, filters: Filters, sort: str, limit: int, after: list[Any] | None) -> list[ProductDocument]:
    """Up to `limit` visible products in `sort` order, strictly after the cursor key `after`."""
    keys = cursor.SORT_KEYS[sort]
    pipeline: list[dict[str, Any]] = [{"$match": stage} for stage in index_first(filters.match(), filters.terms)]
    if sort == "relevance":
        score = {"$add": [len(filters.terms), {"$size": {"$setIntersection": ["$name_terms", filters.terms]}}]}
        pipeline.append({"$addFields": {"score": score}})
    if after is not None:
        pipeline.append({"$match": cursor.after(sort, after)})
    pipeline += [{"$sort": dict(keys)}, {"$limit": limit}, {"$project": {"search_terms": 0, "name_terms": 0}}]
    rows = await (await store.products.aggregate(pipeline)).to_list()
    return [ProductDocument.from_document(row) for row in rows]


def index_first(match: dict[str, Any], terms: list[str]) -> list[dict[str, Any]]:
    """Split a filter into the part one compound index answers and the rest, as two `$match`
    stages. MongoDB merges them back (no cost there); SecantusDB only uses an index when every
    predicate of the stage is in it, so without the split a word search with any other filter
    (or two words, via `$all`) would scan the whole collection. With several words the longest
    one leads: longer words are rarer, so fewer candidates are fetched."""
    if terms:
        lead = {"visible": True, "search_terms": max(terms, key=len)}
    elif "seller_id" in match:
        lead = {"seller_id": match["seller_id"]}  # (seller_id, created_at): one shop's products
    elif "regency" in match:
        lead = {k: match[k] for k in ("visible", "regency", "category") if k in match}
    elif "category" in match:
        lead = {k: match[k] for k in ("visible", "category", "price") if k in match}
    else:
        lead = {k: match[k] for k in ("visible", "price") if k in match}
    rest = {k: v for k, v in match.items() if lead.get(k) != v}
    return [lead, rest] if rest else [lead]


async def facets(store: CatalogStore, filters: Filters) -> Facets:
    """Counts per regency and per category of what the search matches, in one aggregation."""
    common = filters.match(skip="regency")
    common.pop("category", None)
    branches: dict[str, list[dict[str, Any]]] = {}
    for facet, other in (("regency", "category"), ("category", "regency")):
        own = {other: getattr(filters, other)} if getattr(filters, other) else {}
        branches[facet] = [{"$match": own}, {"$group": {"_id": f"${facet}", "count": {"$sum": 1}}}]
    stages = [{"$match": stage} for stage in index_first(common, filters.terms)]
    rows = await (await store.products.aggregate([*stages, {"$facet": branches}])).to_list()
    result = rows[0] if rows else {}

    def counts(name: str) -> list[FacetCount]:
        found = [FacetCount(value=row["_id"], count=row["count"]) for row in result.get(name, [])]
        return sorted(found, key=lambda f: (-f.count, f.value))

    return Facets(regency=counts("regency"), category=counts("category"))


def build_router(store: CatalogStore) -> APIRouter:
    router = APIRouter(tags=["products"])
    _register_search(router, store)
    _register_lists(router, store)
    return router


def _register_search(router: APIRouter, store: CatalogStore) -> None:
    @router.get("/products", response_model=SearchPage, response_model_exclude_none=False)
    async def search_products(
        q: Annotated[str | None, Query(max_length=100, description="Words in the name or description (prefixes work)")] = None,
        regency: Annotated[str | None, Query(description="One of the 22 kabupaten/kota")] = None,
        category: Annotated[str | None, Query(description="One of GET /categories")] = None,
        ovop: Annotated[bool | None, Query(description="Only OVOP products (true) or only others (false)")] = None,
        min_price: Annotated[int | None, Query(ge=0, le=MAX_PRICE)] = None,
        max_price: Annotated[int | None, Query(ge=0, le=MAX_PRICE)] = None,
        in_stock: Annotated[bool, Query(description="Only products that can be bought now")] = False,
        sort: Annotated[
            Literal["relevance", "newest", "price_asc", "price_desc"] | None,
            Query(description="Default: relevance with words, newest without"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
        cursor_: Annotated[str | None, Query(alias="cursor", max_length=400, description="`next_cursor` of the previous page")] = None,
        with_facets: Annotated[bool, Query(alias="facets", description="Counts per regency and category (first page only)")] = True,
        seller_id: Annotated[str | None, Query(max_length=64, description="Only this seller's products (its shop page)")] = None,
    ) -> SearchPage:
        if regency is not None and regency not in REGENCIES:
            raise ApiError(422, f"kabupaten/kota {regency!r} tidak dikenal", field="regency")
        if category is not None and category not in CATEGORIES:
            raise ApiError(422, f"kategori {category!r} tidak dikenal", field="category")
        if min_price is not None and max_price is not None and min_price > max_price:
            raise ApiError(422, "min_price lebih besar dari max_price", field="min_price")
        terms = text.query_terms(q or "")
        if q and q.strip() and not terms:
            raise ApiError(422, f"kata pencarian terlalu pendek: minimal {text.MIN_WORD} huruf", field="q")
        chosen, after = _sort_and_position(terms, sort, cursor_)
        filters = Filters(
            terms=terms,
            regency=regency,
            category=category,
            ovop=ovop,
            min_price=min_price,
            max_price=max_price,
            in_stock=in_stock,
            seller_id=seller_id,
        )
        rows = await search(store, filters, chosen, limit + 1, after)
        page = rows[:limit]
        next_cursor = cursor.encode(chosen, page[-1].to_document()) if len(rows) > limit else None
        counted = await facets(store, filters) if with_facets and after is None else None
        return SearchPage(items=[product_view(row) for row in page], next_cursor=next_cursor, facets=counted)


def _sort_and_position(terms: list[str], sort: str | None, cursor_: str | None) -> tuple[str, list[Any] | None]:
    """The sort to use and the key the page starts after (None: the first page)."""
    chosen = sort or ("relevance" if terms else "newest")
    if chosen == "relevance" and not terms:
        chosen = "newest"  # nothing to be relevant to
    after = None
    if cursor_:
        try:
            after = cursor.decode(cursor_, chosen)
        except cursor.BadCursor as error:
            raise ApiError(422, str(error), field="cursor") from error
    return chosen, after


def _register_lists(router: APIRouter, store: CatalogStore) -> None:
    """The fixed lists a shopper filters by: categories, regencies and OVOP villages."""

    @router.get("/categories")
    async def list_categories() -> dict[str, str]:
        return CATEGORIES

    @router.get("/regencies", tags=["sellers"])
    async def list_regencies() -> list[str]:
        return list(REGENCIES)

    @router.get("/ovop-villages", response_model=list[OvopVillage])
    async def list_ovop_villages() -> list[OvopVillage]:
        """OVOP (One Village One Product) villages with products on sale, most products first."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"visible": True}},
            {"$match": {"ovop_village": {"$type": "string"}}},
            {"$group": {"_id": {"village": "$ovop_village", "regency": "$regency"}, "products": {"$sum": 1}}},
        ]
        rows = await (await store.products.aggregate(pipeline)).to_list()
        found = [OvopVillage(village=row["_id"]["village"], regency=row["_id"]["regency"], products=row["products"]) for row in rows]
        return sorted(found, key=lambda v: (-v.products, v.village))[:100]
