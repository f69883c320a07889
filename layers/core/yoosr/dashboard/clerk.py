"""Verification of Clerk session tokens (RS256 JWTs), done in the function.

The HTTP API's JWT authorizer needs an `aud`, which Clerk session tokens lack, so the function
verifies them itself, in this order: algorithm (RS256 only) and key (by `kid`, from the JWKS,
refetched once when a `kid` is unknown; or a configured PEM for networkless checks); signature;
`exp`/`nbf` with a few seconds of leeway; exact `iss`; required `sub` and `sid`; session status.
Organization, role and `azp` are read from the verified claims by yoosr.dashboard.access.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from yoosr.errors import Forbidden, Unauthorized

Role = Literal["agent", "admin"]
ROLE_RANK: dict[str, int] = {"agent": 1, "admin": 2}
JWKS_TIMEOUT_SECONDS = 3
# An unknown kid triggers at most one refetch per this many seconds (key rotation is rare;
# a flood of forged kids must not become a flood of JWKS requests).
JWKS_REFETCH_INTERVAL_SECONDS = 30


def _invalid(reason: str) -> Unauthorized:
    return Unauthorized("The session token is not valid.", code="invalid_token",
                        details=[{"reason": reason}])


@dataclass(frozen=True)
class SessionClaims:
    user_id: str
    session_id: str
    org_id: str | None
    org_role: str | None
    azp: str | None
    actor: str | None


def fetch_jwks(url: str) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise ValueError("JWKS URL must be http(s)")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=JWKS_TIMEOUT_SECONDS) as response:  # noqa: S310
        return dict(json.loads(response.read()))


class KeySource:
    """RSA public keys by kid: a fixed PEM, or a JWKS fetched lazily and cached per process."""

    def __init__(self, jwks_url: str | None = None, pem: str | None = None,
                 fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks) -> None:
        if not jwks_url and not pem:
            raise ValueError("configure a JWKS URL or a PEM public key")
        self._jwks_url = jwks_url
        self._pem_key = _load_pem(pem) if pem else None
        self._fetch = fetch
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> Any:
        if self._pem_key is not None:
            return self._pem_key
        if not kid:
            raise _invalid("missing kid")
        key = self._keys.get(kid)
        if key is None:
            self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise _invalid("unknown kid")
        return key

    def _refresh(self) -> None:
        with self._lock:
            if self._keys and time.monotonic() - self._fetched_at < JWKS_REFETCH_INTERVAL_SECONDS:
                return
            assert self._jwks_url is not None
            document = self._fetch(self._jwks_url)
            keys: dict[str, Any] = {}
            for jwk in document.get("keys", []):
                if jwk.get("kty") == "RSA" and jwk.get("kid") and jwk.get("use", "sig") == "sig":
                    keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
            self._keys = keys
            self._fetched_at = time.monotonic()


def _load_pem(pem: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key  # noqa: PLC0415

    return load_pem_public_key(pem.encode())


class ClerkVerifier:
    def __init__(self, issuer: str, keys: KeySource, leeway_seconds: int = 5) -> None:
        if not issuer:
            raise ValueError("the Clerk issuer is not configured")
        self.issuer = issuer
        self.keys = keys
        self.leeway = leeway_seconds

    def verify(self, token: str) -> SessionClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _invalid("malformed") from error
        if header.get("alg") != "RS256":
            raise _invalid("algorithm not allowed")
        key = self.keys.key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key, algorithms=["RS256"], issuer=self.issuer, leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "sub", "sid"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise _invalid(type(error).__name__) from error
        if claims.get("sts") == "pending":
            raise _invalid("session pending")
        sub, sid = claims.get("sub"), claims.get("sid")
        if not isinstance(sub, str) or not sub or not isinstance(sid, str) or not sid:
            raise _invalid("missing sub or sid")
        org = claims.get("o") if isinstance(claims.get("o"), dict) else None
        org_id = (org or {}).get("id") or claims.get("org_id")
        org_role = (org or {}).get("rol") or claims.get("org_role")
        actor = claims.get("act", {}).get("sub") if isinstance(claims.get("act"), dict) else None
        azp = claims.get("azp")
        return SessionClaims(
            user_id=sub, session_id=sid,
            org_id=str(org_id) if org_id else None,
            org_role=str(org_role) if org_role else None,
            azp=str(azp) if isinstance(azp, str) else None,
            actor=str(actor) if actor else None,
        )


def role_for(org_role: str | None) -> Role:
    """Clerk admin → admin; member → agent; any other role gets no access (default deny)."""
    normalised = (org_role or "").removeprefix("org:")
    if normalised == "admin":
        return "admin"
    if normalised == "member":
        return "agent"
    raise Forbidden("Your organization role has no access to Yoosr.", code="role_not_allowed")
