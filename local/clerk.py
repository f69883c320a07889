"""A development Clerk issuer: an RSA key pair made at first start, its JWKS, and minted
session tokens shaped like Clerk's (v2 claims by default, v1 on request).

The local stack serves the JWKS at `<api_url>/_local/clerk/.well-known/jwks.json` and sets
the template parameter ClerkIssuer to `<api_url>/_local/clerk`, so the functions verify these
tokens exactly as they verify Clerk's in AWS (JWKS fetched over HTTP, kid, iss, azp …).
Only the local stack and the tests use it; deployed functions verify real Clerk tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER_PATH = "/_local/clerk"
JWKS_PATH = f"{ISSUER_PATH}/.well-known/jwks.json"
KEY_FILE = "clerk-dev-key.pem"
# Long enough for a working session; real Clerk session tokens live about 60 s.
SESSION_LIFETIME_S = 12 * 3600
MAX_LIFETIME_S = 7 * 86_400
# Yoosr role → the Clerk organization role that maps to it.
CLERK_ROLES = {"admin": "admin", "agent": "member"}


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _thumbprint_kid(key: rsa.RSAPrivateKey) -> str:
    """A kid derived from the public key (RFC 7638 members), so a new key is a new kid."""
    numbers = key.public_key().public_numbers()
    members = json.dumps(
        {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}, separators=(",", ":")
    )
    digest = hashlib.sha256(members.encode()).digest()
    return "dev-" + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:16]


def demo_user_id(workspace: str, role: str) -> str:
    """The seeded dashboard user of a demo workspace for a Yoosr role (admin / agent)."""
    return f"user_local_{workspace}_{role}"


class DevIssuer:
    def __init__(self, issuer: str, private_key: rsa.RSAPrivateKey, kid: str | None = None) -> None:
        self.issuer = issuer
        self.private_key = private_key
        self.kid = kid or _thumbprint_kid(private_key)

    @classmethod
    def generate(cls, issuer: str, kid: str | None = None) -> DevIssuer:
        return cls(issuer, rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)

    @classmethod
    def load_or_create(cls, issuer: str, key_path: Path) -> DevIssuer:
        """The key persists across restarts, so tokens minted earlier keep working."""
        if key_path.exists():
            return cls.load(issuer, key_path)
        made = cls.generate(issuer)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        pem = made.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Created 0600 from the start: the private key is never readable by others.
        temporary = key_path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        temporary.replace(key_path)
        return made

    @classmethod
    def load(cls, issuer: str, key_path: Path) -> DevIssuer:
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} is not an RSA private key")
        return cls(issuer, loaded)

    @property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _b64(numbers.n),
                    "e": _b64(numbers.e),
                }
            ]
        }

    def claims(
        self,
        org_id: str | None,
        user_id: str,
        role: str = "admin",
        lifetime_s: int = 3600,
        azp: str | None = None,
        version: int = 2,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Claims as Clerk puts them in a session token; `role` is the Clerk organization
        role (`admin`, `member`); `overrides` replace or (with None) drop any claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user_id,
            "sid": f"sess_{uuid.uuid4().hex[:24]}",
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime_s,
            "v": version,
            "sts": "active",
        }
        if azp:
            claims["azp"] = azp
        if org_id and version == 2:
            claims["o"] = {"id": org_id, "slg": org_id.removeprefix("org_"), "rol": role}
        elif org_id:
            claims.update(
                org_id=org_id, org_slug=org_id.removeprefix("org_"), org_role=f"org:{role}"
            )
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(
            claims, self.private_key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def mint(self, org_id: str | None, user_id: str, role: str = "admin", **kwargs: Any) -> str:
        return self.sign(self.claims(org_id, user_id, role, **kwargs))


def jwks_json(issuer: DevIssuer) -> str:
    return json.dumps(issuer.jwks())


def session_tokens(
    issuer: DevIssuer, workspace: str, org_id: str, azp: str, lifetime_s: int = SESSION_LIFETIME_S
) -> dict[str, str]:
    """credentials.json entries for a seeded workspace: an admin's and an agent's token."""
    entries: dict[str, str] = {}
    for role, clerk_role in CLERK_ROLES.items():
        user_id = demo_user_id(workspace, role)
        entries[f"{role}_user_id"] = user_id
        entries[f"{role}_token"] = issuer.mint(
            org_id, user_id, clerk_role, lifetime_s=lifetime_s, azp=azp
        )
    return entries
