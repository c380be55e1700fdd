"""Catalog search through HTTP on the real stack: words (Indonesian, prefixes), filters, sorts,
cursor pages and facet counts. Each test tags its products with a unique word so that it only
sees its own products in the shared database."""

import uuid

from tests.support import Api


def tag() -> str:
    return "zq" + uuid.uuid4().hex[:6]  # letters and digits: one search term


async def test_words_prefixes_filters_and_relevance(api: Api) -> None:
    t = tag()
    sumba = await api.seller("Sumba Timur")
    ngada = await api.seller("Ngada")
    kain = await api.listing(
        sumba,
        name=f"Kain tenun ikat {t}",
        description="Motif kuda, pewarna alami",
        category="tenun",
        price=750_000,
        stock=3,
        ovop_village="Kelurahan Prailiu",
    )
    selendang = await api.listing(
        sumba, name=f"Selendang {t}", description="Dari kain tenun ikat Sumba", category="tenun", price=250_000, stock=0
    )
    kopi = await api.listing(ngada, name=f"Kopi Arabika Bajawa {t}", description="Kopinya harum", category="kopi", price=85_000, stock=10)

    found = await api.search(q=f"tenun {t}")
    assert [p["id"] for p in found["items"]] == [kain["id"], selendang["id"]]  # name hit ranks above description hit
    assert [p["id"] for p in (await api.search(q=f"TÉNUN, {t}!"))["items"]] == [kain["id"], selendang["id"]]
    assert [p["id"] for p in (await api.search(q=f"{t} baja"))["items"]] == [kopi["id"]]  # type-ahead prefix
    assert [p["id"] for p in (await api.search(q=f"{t} kopinya"))["items"]] == [kopi["id"]]  # -nya stripped
    assert [p["id"] for p in (await api.search(q=f"{t} ngada"))["items"]] == [kopi["id"]]  # regency is searchable
    assert (await api.search(q=f"{t} madu"))["items"] == []

    assert [p["id"] for p in (await api.search(q=t, in_stock="true", sort="price_asc"))["items"]] == [kopi["id"], kain["id"]]
    assert [p["id"] for p in (await api.search(q=t, ovop="true"))["items"]] == [kain["id"]]
    assert [p["id"] for p in (await api.search(q=t, min_price=100_000, max_price=500_000))["items"]] == [selendang["id"]]
    assert [p["id"] for p in (await api.search(q=t, regency="Ngada"))["items"]] == [kopi["id"]]
    assert [p["id"] for p in (await api.search(q=t, sort="price_desc"))["items"]] == [kain["id"], selendang["id"], kopi["id"]]
    assert [p["id"] for p in (await api.search(q=t, sort="newest"))["items"]] == [kopi["id"], selendang["id"], kain["id"]]


async def test_facets_count_each_dimension_without_its_own_filter(api: Api) -> None:
    t = tag()
    alor, ende = await api.seller("Alor"), await api.seller("Ende")
    for seller, category, n in ((alor, "kerajinan", 2), (alor, "madu", 1), (ende, "pangan", 3)):
        for i in range(n):
            await api.listing(seller, name=f"Produk {t} {i}", category=category, price=10_000 + i, stock=1)
    everything = await api.search(q=t)
    assert everything["facets"] == {
        "regency": [{"value": "Alor", "count": 3}, {"value": "Ende", "count": 3}],
        "category": [{"value": "pangan", "count": 3}, {"value": "kerajinan", "count": 2}, {"value": "madu", "count": 1}],
    }
    in_alor = await api.search(q=t, regency="Alor")
    assert len(in_alor["items"]) == 3
    # Regency counts ignore the regency filter (so the shopper sees the alternatives); category
    # counts respect it.
    assert in_alor["facets"]["regency"] == everything["facets"]["regency"]
    assert in_alor["facets"]["category"] == [{"value": "kerajinan", "count": 2}, {"value": "madu", "count": 1}]


async def test_cursor_pages_are_stable_for_every_sort(api: Api) -> None:
    t = tag()
    seller = await api.seller("Lembata")
    prices = [30_000, 10_000, 20_000, 10_000, 30_000, 10_000, 40_000]  # ties on purpose
    ids = [
        (
            await api.listing(
                seller, name=f"Kain {t} nomor {i}", description=f"tenun {t}" if i % 2 else "", category="tenun", price=price, stock=1
            )
        )["id"]
        for i, price in enumerate(prices)
    ]
    for sort in ("relevance", "newest", "price_asc", "price_desc"):
        whole = (await api.search(q=t, sort=sort, limit=50))["items"]
        seen, cursor = [], None
        while True:
            params = {"q": t, "sort": sort, "limit": 3} | ({"cursor": cursor} if cursor else {})
            page = await api.search(**params)
            assert (page["facets"] is None) == (cursor is not None)  # facets come with the first page only
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [p["id"] for p in seen] == [p["id"] for p in whole], sort
        assert sorted(p["id"] for p in seen) == sorted(ids)
    by_price = [p["price"] for p in (await api.search(q=t, sort="price_asc", limit=50))["items"]]
    assert by_price == sorted(prices)


async def test_bad_search_input_names_the_field(api: Api) -> None:
    for params, field in (
        ({"regency": "Jakarta"}, "regency"),
        ({"category": "mobil"}, "category"),
        ({"cursor": "bukan-cursor"}, "cursor"),
        ({"min_price": 10, "max_price": 5}, "min_price"),
        ({"sort": "cheapest"}, "sort"),
        ({"q": "a"}, "q"),
    ):
        response = await api.catalog.get("/products", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["field"].removeprefix("query.") == field
    page = (await api.catalog.get("/products", params={"limit": 1, "sort": "price_asc"})).json()
    if page["next_cursor"]:
        wrong_sort = await api.catalog.get("/products", params={"cursor": page["next_cursor"], "sort": "newest"})
        assert wrong_sort.status_code == 422 and "price_asc" in wrong_sort.json()["message"]
