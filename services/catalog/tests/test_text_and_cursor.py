"""Indonesian text normalisation for search, and cursors."""

from datetime import UTC, datetime

import pytest

from catalog import cursor, text


def test_normalise_lowercases_and_strips_accents_and_punctuation() -> None:
    assert text.normalise("Kain Tenun—Sumba, Warna ALAMI! Café kue-kue") == [
        "kain",
        "tenun",
        "sumba",
        "warna",
        "alami",
        "cafe",
        "kue",
        "kue",
    ]


def test_light_suffix_stripping_keeps_real_words() -> None:
    assert [text.stem(w) for w in ("madunya", "tenunnya", "asli", "ikan", "tanya", "bukanlah")] == [
        "madu",
        "tenun",
        "asli",
        "ikan",
        "tanya",
        "bukan",
    ]


def test_name_terms_have_prefixes_for_type_ahead_and_description_terms_do_not() -> None:
    in_name, everything = text.product_terms("Kopi Bajawa", "Kopinya harum dan segar", ["Kopi (Bajawa, Manggarai, dll.)", "Ngada"])
    assert {"kop", "kopi", "baj", "baja", "bajaw", "bajawa"} <= set(in_name)
    assert {"harum", "segar", "kopinya", "ngada", "manggarai"} <= set(everything)
    assert "har" not in everything and "dan" not in everything  # no description prefixes, no stopwords


def test_query_terms_drop_stopwords_stem_and_dedupe() -> None:
    assert text.query_terms("Kain dari Sumba, kain-nya") == ["kain", "sumba"]
    assert text.query_terms("dan") == ["dan"]  # a query of only stopwords still means something
    assert text.query_terms("a b") == []
    assert len(text.query_terms(" ".join(f"kata{i}" for i in range(20)))) == text.MAX_QUERY_TERMS


def test_relevance_counts_name_hits_double() -> None:
    assert text.relevance(["kopi", "bajawa"], {"kopi", "bajawa"}) == 4
    assert text.relevance(["kopi", "bajawa"], {"kopi"}) == 3


@pytest.mark.parametrize("sort", cursor.SORTS)
def test_cursor_round_trips_for_every_sort(sort: str) -> None:
    doc = {"_id": "prd-1", "price": 85_000, "score": 3, "created_at": datetime(2025, 5, 1, 8, 30, 15, 123000, tzinfo=UTC)}
    token = cursor.encode(sort, doc)
    assert "prd-1" not in token  # opaque
    assert cursor.decode(token, sort) == [doc[name] for name, _ in cursor.SORT_KEYS[sort]]


def test_cursor_of_another_sort_or_garbage_is_refused() -> None:
    token = cursor.encode("price_asc", {"_id": "prd-1", "price": 10})
    with pytest.raises(cursor.BadCursor, match="price_asc"):
        cursor.decode(token, "newest")
    for garbage in ("!!!", "e30", cursor.encode("price_asc", {"_id": 5, "price": 10})):
        with pytest.raises(cursor.BadCursor):
            cursor.decode(garbage, "price_asc")


def test_after_filter_is_lexicographic_with_a_bounding_range() -> None:
    assert cursor.after("price_asc", [100, "prd-5"]) == {
        "price": {"$gte": 100},
        "$or": [{"price": {"$gt": 100}}, {"price": 100, "_id": {"$gt": "prd-5"}}],
    }
    newest = cursor.after("newest", ["t", "prd-5"])
    assert newest["created_at"] == {"$lte": "t"} and newest["$or"][1] == {"created_at": "t", "_id": {"$lt": "prd-5"}}
