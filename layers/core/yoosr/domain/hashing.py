"""Keyed hashes of personal identifiers and the widget identity-verification check."""

from __future__ import annotations

import hashlib
import hmac


def keyed_hash(key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of a normalised identifier; `purpose` keeps hashes of different kinds apart."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return ("+" if phone.strip().startswith("+") else "") + digits


_NORMALISE = {"email": normalise_email, "phone": normalise_phone}


def subject_hash(key: str, kind: str, value: str) -> str:
    """The keyed hash of a personal identifier (email and phone normalised first): what the
    Visitors table's lookup indexes hold and what privacy requests are keyed by."""
    normalise = _NORMALISE.get(kind)
    return keyed_hash(key, kind, normalise(value) if normalise else value)


def lookup_key(workspace_id: str, hashed: str) -> str:
    """The value of `email_key` / `phone_key` on the Visitors table: tenant first."""
    return f"{workspace_id}#{hashed}"


def identity_hash(secret: str, user_id: str) -> str:
    """What a site computes server-side: hex HMAC-SHA256(secret, user_id)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_valid(secret: str, user_id: str, user_hash: str) -> bool:
    return hmac.compare_digest(identity_hash(secret, user_id), user_hash.strip().lower())
