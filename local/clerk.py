"""A development Clerk issuer: an RSA key pair made at first start, its JWKS, and minted
session tokens shaped like Clerk's (v2 claims by default, v1 on request).

Only the local stack and the tests use it; deployed functions verify real Clerk tokens.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class DevIssuer:
    def __init__(self, issuer: str, private_key: rsa.RSAPrivateKey, kid: str = "dev-1") -> None:
        self.issuer = issuer
        self.private_key = private_key
        self.kid = kid

    @classmethod
    def generate(cls, issuer: str, kid: str = "dev-1") -> DevIssuer:
        return cls(issuer, rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)

    @classmethod
    def load_or_create(cls, issuer: str, key_path: Path) -> DevIssuer:
        """The key persists across restarts, so tokens minted earlier keep working."""
        if key_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            return cls(issuer, loaded)
        made = cls.generate(issuer)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(made.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        key_path.chmod(0o600)
        return made

    @property
    def public_pem(self) -> str:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": _b64(numbers.n), "e": _b64(numbers.e)}]}

    def claims(self, org_id: str | None, user_id: str, role: str = "admin",
               lifetime_s: int = 3600, azp: str | None = None, version: int = 2,
               **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": user_id, "sid": f"sess_{uuid.uuid4().hex[:24]}",
            "iat": now, "nbf": now - 5, "exp": now + lifetime_s, "v": version, "sts": "active",
        }
        if azp:
            claims["azp"] = azp
        if org_id and version == 2:
            claims["o"] = {"id": org_id, "slg": org_id.removeprefix("org_"), "rol": role}
        elif org_id:
            claims.update(org_id=org_id, org_slug=org_id.removeprefix("org_"),
                          org_role=f"org:{role}")
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256",
                          headers={"kid": kid or self.kid})

    def mint(self, org_id: str | None, user_id: str, role: str = "admin", **kwargs: Any) -> str:
        return self.sign(self.claims(org_id, user_id, role, **kwargs))


def jwks_json(issuer: DevIssuer) -> str:
    return json.dumps(issuer.jwks())
