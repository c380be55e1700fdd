"""Body checks on their own: nesting depth (strings do not count) and per-route size limits."""

from beli_runtime.bodies import LargeBody, json_too_deep


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_too_deep(b'{"a": [1, {"b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}', limit=3)
    assert json_too_deep(b"[" * 3000 + b"]" * 3000)
    assert json_too_deep(b'{"a":' * 40 + b"1" + b"}" * 40)
    assert not json_too_deep(b"[" * 32 + b"]" * 32)
    assert not json_too_deep(b'"unterminated \\"[[[[' + b"[" * 10)
    assert not json_too_deep(b"[]" * 10_000)  # many, but flat


def test_large_body_matches_its_route_template_only() -> None:
    photos = LargeBody("POST", "/products/{product_id}/photos", 10)
    assert photos.matches("POST", "/products/prd-1/photos")
    assert not photos.matches("POST", "/products/prd-1/photos/x")
    assert not photos.matches("PUT", "/products/prd-1/photos")
    assert not photos.matches("POST", "/auth/login")
