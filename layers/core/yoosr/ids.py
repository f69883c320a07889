"""Identifiers: prefixed ULIDs for objects, random tokens for secrets."""

from __future__ import annotations

import hashlib
import os
import re
import secrets

from yoosr import clock

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}"


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _ulid_value() -> int:
    # The top random bit stays clear, so `count` successors never overflow into the time.
    return (int(clock._now() * 1000) << 80) | (int.from_bytes(os.urandom(10), "big") >> 1)


def ulid() -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32."""
    return _encode(_ulid_value())


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids that sort in the order given, even within one millisecond (messages
    written together must be read back in the order they were said)."""
    first = _ulid_value()
    return [f"{prefix}_{_encode(first + i)}" for i in range(count)]


def id_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{prefix}_{ULID_PATTERN}$")


def new_token(prefix: str, nbytes: int = 32) -> str:
    """An opaque bearer token with `nbytes` of randomness (256 bits by default)."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def digest(value: str) -> str:
    """Unkeyed SHA-256, for values that are already high-entropy secrets (tokens)."""
    return hashlib.sha256(value.encode()).hexdigest()


def workspace_id_for_org(org_id: str) -> str:
    """The workspace of a Clerk organization: stable, so provisioning is idempotent."""
    raw = hashlib.sha256(f"yoosr-workspace:{org_id}".encode()).digest()[:16]
    value = int.from_bytes(raw, "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "ws_" + "".join(reversed(chars))


WORKSPACE_ID = id_pattern("ws")
CONVERSATION_ID = id_pattern("conv")
MESSAGE_ID = id_pattern("msg")
VISITOR_ID = id_pattern("vis")
