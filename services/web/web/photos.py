"""Product photos resized for the page that shows them: a thumbnail for lists, a detail size for
the product page, WebP when the browser accepts it (about a third of a JPEG's bytes)."""

from __future__ import annotations

import io
from collections import OrderedDict

from PIL import Image, ImageOps, UnidentifiedImageError

SIZES = {"kecil": 320, "besar": 960}
QUALITY = 80
_MEMORY: OrderedDict[tuple[str, str, str], tuple[bytes, str]] = OrderedDict()
MEMORY_ITEMS = 300  # resized photos kept in this process (a few MB): most pages show the same ones


def resized(key: str, original: bytes, size: str, webp: bool) -> tuple[bytes, str] | None:
    """(bytes, content type) of the photo at `size`, or None if it cannot be read as an image."""
    wanted = (key, size, "webp" if webp else "jpeg")
    if wanted in _MEMORY:
        _MEMORY.move_to_end(wanted)
        return _MEMORY[wanted]
    try:
        with Image.open(io.BytesIO(original)) as image:
            picture = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
            picture.thumbnail((SIZES[size], SIZES[size]))
            out = io.BytesIO()
            if webp:
                picture.save(out, "WEBP", quality=QUALITY)
            else:
                picture.convert("RGB").save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    result = (out.getvalue(), "image/webp" if webp else "image/jpeg")
    _MEMORY[wanted] = result
    if len(_MEMORY) > MEMORY_ITEMS:
        _MEMORY.popitem(last=False)
    return result
