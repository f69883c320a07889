"""Validating what a visitor types into a collect step.

Each check returns the value to store (normalised) or None when the input is not acceptable.
The rules are deliberately lenient: the point is to catch a mistyped answer, not to prove that an
address or number exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from yoosr.bot.flows import FieldKind

MAX_EMAIL = 254
MAX_NAME = 100
MAX_TEXT = 1000

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)*\.[^@\s.\d]{2,}$")
# Digits with the separators people type; the count of digits is checked separately.
_PHONE = re.compile(r"^\+?[\d\s().\-/]+$")
_NAME_PUNCTUATION = frozenset(" -'.’")


def email(text: str) -> str | None:
    value = text.strip()
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        return None
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def phone(text: str) -> str | None:
    """E.164 allows at most 15 digits; fewer than 7 is not a reachable number anywhere."""
    value = text.strip()
    if not _PHONE.match(value):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    if not 7 <= len(digits) <= 15:
        return None
    return ("+" if value.startswith("+") else "") + digits


def name(text: str) -> str | None:
    value = " ".join(text.split())
    if not value or len(value) > MAX_NAME:
        return None
    if not any(ch.isalpha() for ch in value):
        return None
    if not all(ch.isalpha() or ch in _NAME_PUNCTUATION for ch in value):
        return None
    return value


def free_text(text: str) -> str | None:
    value = text.strip()
    return value if 0 < len(value) <= MAX_TEXT else None


CHECKS: dict[FieldKind, Callable[[str], str | None]] = {
    "email": email,
    "phone": phone,
    "name": name,
    "text": free_text,
}


def check(kind: FieldKind, text: str) -> str | None:
    return CHECKS[kind](text)
