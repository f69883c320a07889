"""Who a privacy request is about, kept as a keyed hash.

A subject is an email address, a phone number, a visitor id or (for workspace deletion) the
workspace. Its hash is `yoosr.domain.hashing.keyed_hash(key, kind, normalised value)`: the
same HMAC the widget writes into the Visitors table's `email_key` / `phone_key`, so the hash
is also how the subject is found (`{workspace_id}#{hash}` on the by_email_key / by_phone_key
indexes), never a scan and never a raw value in a key.

The raw value is carried only while the request still needs it (to send a one-time code, or to
resolve a visitor id before the job starts); `scrubbed()` drops it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from yoosr.domain import hashing

SubjectKind = Literal["email", "phone", "visitor", "workspace"]

LOOKUP_INDEXES: dict[SubjectKind, tuple[str, str]] = {
    "email": ("by_email_key", "email_key"),
    "phone": ("by_phone_key", "phone_key"),
}
"""Subject kinds found through a keyed-hash index of the Visitors table: (index, attribute)."""


def subject_hash(key: str, kind: SubjectKind, value: str) -> str:
    """HMAC-SHA256 (hex) of the normalised value, with the kind as the purpose."""
    return hashing.subject_hash(key, kind, value)


lookup_key = hashing.lookup_key


class Subject(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: SubjectKind
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    value: str | None = None
    """The raw identifier, only while the request needs it (see lifecycle.KEEPS_RAW_SUBJECT)."""

    @classmethod
    def of(cls, key: str, kind: SubjectKind, value: str) -> Subject:
        return cls(kind=kind, hash=subject_hash(key, kind, value), value=value)

    def scrubbed(self) -> Subject:
        return self if self.value is None else self.model_copy(update={"value": None})

    def lookup(self, workspace_id: str) -> tuple[str, str, str] | None:
        """(index, attribute, value) to query the Visitors table with, or None when the
        subject is not found through an index (a visitor id is a key; a workspace is a
        partition)."""
        found = LOOKUP_INDEXES.get(self.kind)
        if found is None:
            return None
        index, attribute = found
        return index, attribute, lookup_key(workspace_id, self.hash)
