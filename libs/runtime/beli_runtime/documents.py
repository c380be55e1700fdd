"""Stored documents as types: a store reads a Mongo document into a `Document` subclass and
writes one back with `to_document()`, so that the code between sees named, typed fields instead
of `dict[str, Any]`.

Two rules keep the stored shapes what they were before the types existed:
- a field the type does not name is kept as it is (`extra="allow"`), so older or newer documents
  load and are written back whole;
- only the fields the document had, or the code set, are written (`exclude_unset`): reading a
  document and writing it back adds no defaulted field it never had.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class Document(BaseModel):
    """Subclasses name the Mongo `_id` as `id: str = Field(alias="_id")`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Self:
        return cls.model_validate(document)

    @classmethod
    def maybe(cls, document: Mapping[str, Any] | None) -> Self | None:
        """`find_one` answers None for a missing document: so does this."""
        return None if document is None else cls.model_validate(document)

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True)


class StatusChange(Document):
    """One entry of a document's `history`: the status it moved to, and when."""

    status: str
    at: datetime
