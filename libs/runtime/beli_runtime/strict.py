"""The one base of every request body: unknown fields refused, no lenient coercion.

`strict=True` means a quantity of `"1"` or `true` is a 422, not silently 1: a client that sends
the wrong type has a bug we want it to see, and coercion has let through values nobody meant
(`true` as one unit). JSON has no date type, so timestamps are declared `Timestamp`: an ISO 8601
string is the only way to send one, and it is still checked strictly as a date-time.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# FastAPI validates the parsed JSON in Python mode, where strict datetimes refuse strings.
Timestamp = Annotated[datetime, Field(strict=False)]


class StrictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)
