"""Verification of Clerk session tokens (RS256 JWTs), done in the function.

The HTTP API's JWT authorizer needs an `aud`, which Clerk session tokens lack, so the function
verifies them itself, in this order: algorithm (RS256 only) and key (by `kid`, from the JWKS,
refetched once when a `kid` is unknown; or a configured PEM for networkless checks); signature;
`exp`/`nbf` with at most a few seconds of leeway; exact `iss`; required `sub` and `sid`; session
status. Organization, role and `azp` are read from the verified claims by
yoosr.dashboard.access; nothing is read from a token before its signature is checked, except
the header fields needed to pick the key.
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

from yoosr.errors import Forbidden, Unauthorized, Unavailable
from yoosr.observability import logger

Role = Literal["agent", "admin"]
ROLE_RANK: dict[str, int] = {"agent": 1, "admin": 2}
ALGORITHM = "RS256"
MAX_LEEWAY_SECONDS = 5
# Clerk session tokens are about 1-2 KB; anything far larger is not one and is not parsed.
MAX_TOKEN_CHARS = 8_192
MAX_CLAIM_CHARS = 256
JWKS_TIMEOUT_SECONDS = 3
# An unknown kid triggers at most one refetch per this many seconds (key rotation is rare;
# a flood of forged kids must not become a flood of JWKS requests).
JWKS_REFETCH_INTERVAL_SECONDS = 30.0
# Keys are re-read after this long even when every kid is known, so a key Clerk withdrew
# stops being trusted without a redeploy.
JWKS_MAX_AGE_SECONDS = 3_600.0


def _invalid(reason: str) -> Unauthorized:
    return Unauthorized(
        "The session token is not valid.", code="invalid_token", details=[{"reason": reason}]
    )


@dataclass(frozen=True)
class SessionClaims:
    user_id: str
    session_id: str
    org_id: str | None
    org_slug: str | None
    org_role: str | None
    azp: str | None
    actor: str | None


def fetch_jwks(url: str) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise ValueError("JWKS URL must be http(s)")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=JWKS_TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310  # http(s) checked above
        document = json.loads(response.read())
    if not isinstance(document, dict):
        raise ValueError("JWKS document is not an object")
    return document


class KeySource:
    """RSA public keys by kid: a fixed PEM, or a JWKS fetched lazily and cached per process.

    A JWKS is refetched when a token names a kid the cache lacks (at most once per
    JWKS_REFETCH_INTERVAL_SECONDS) and when the cache is older than JWKS_MAX_AGE_SECONDS. If a
    refetch fails, cached keys keep working; with nothing cached the request is refused as
    Unavailable (503), never as the caller's fault.
    """

    def __init__(
        self,
        jwks_url: str | None = None,
        pem: str | None = None,
        fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not jwks_url and not pem:
            raise ValueError("configure a JWKS URL or a PEM public key")
        self._jwks_url = jwks_url
        self._pem_key = _load_pem(pem) if pem else None
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> Any:
        if self._pem_key is not None:
            return self._pem_key
        if not kid or not isinstance(kid, str) or len(kid) > MAX_CLAIM_CHARS:
            raise _invalid("missing kid")
        stale = self._fetched_at is None or self._clock() - self._fetched_at > JWKS_MAX_AGE_SECONDS
        key = self._keys.get(kid)
        if key is None or stale:
            self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise _invalid("unknown kid")
        return key

    def _refresh(self) -> None:
        with self._lock:
            now = self._clock()
            if (
                self._attempted_at is not None
                and now - self._attempted_at < JWKS_REFETCH_INTERVAL_SECONDS
            ):
                # Fetched (or tried) a moment ago, possibly by another thread: use what we have.
                if not self._keys:
                    raise Unavailable("The identity provider's keys are unavailable; retry.")
                return
            self._attempted_at = now
            assert self._jwks_url is not None
            try:
                keys = _rsa_keys(self._fetch(self._jwks_url))
            except Exception as error:  # network, HTTP or JSON failure: not the caller's fault
                logger.warning(
                    "JWKS fetch failed",
                    extra={"error": type(error).__name__, "cached_keys": len(self._keys)},
                )
                if self._keys:
                    return
                raise Unavailable("The identity provider's keys are unavailable; retry.") from error
            self._keys = keys
            self._fetched_at = now


def _rsa_keys(document: Mapping[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for jwk in document.get("keys", []) or []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM:
            continue
        keys[str(jwk["kid"])] = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
    return keys


def _load_pem(pem: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import load_pem_public_key  # noqa: PLC0415

    # Deployments often pass the PEM through a single-line parameter with literal "\n".
    key = load_pem_public_key(pem.replace("\\n", "\n").encode())
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the Clerk PEM public key must be an RSA key")
    return key


def _text(value: Any) -> str | None:
    """A claim that must be a short non-empty string, or None."""
    if isinstance(value, str) and 0 < len(value) <= MAX_CLAIM_CHARS:
        return value
    return None


class ClerkVerifier:
    def __init__(self, issuer: str, keys: KeySource, leeway_seconds: int = 5) -> None:
        if not issuer:
            raise ValueError("the Clerk issuer is not configured")
        self.issuer = issuer
        self.keys = keys
        self.leeway = max(0, min(leeway_seconds, MAX_LEEWAY_SECONDS))

    def verify(self, token: str) -> SessionClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise _invalid("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _invalid("malformed") from error
        # Checked before any key is chosen: `none`, HS256 (a public key used as an HMAC
        # secret) and every other algorithm are refused outright.
        if header.get("alg") != ALGORITHM:
            raise _invalid("algorithm not allowed")
        key = self.keys.key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                leeway=self.leeway,
                options={
                    "require": ["exp", "nbf", "iat", "iss", "sub", "sid"],
                    "verify_aud": False,
                },
            )
        except jwt.PyJWTError as error:
            raise _invalid(type(error).__name__) from error
        if claims.get("iss") != self.issuer:  # exact, whatever the library's matching rules
            raise _invalid("InvalidIssuerError")
        if claims.get("sts") == "pending":
            raise _invalid("session pending")
        sub, sid = _text(claims.get("sub")), _text(claims.get("sid"))
        if sub is None or sid is None:
            raise _invalid("missing sub or sid")
        org = claims.get("o") if isinstance(claims.get("o"), dict) else None
        if org is not None:  # version 2 claims
            org_id, org_slug, org_role = org.get("id"), org.get("slg"), org.get("rol")
        else:  # version 1 claims
            org_id, org_slug = claims.get("org_id"), claims.get("org_slug")
            org_role = claims.get("org_role")
        act = claims.get("act")
        return SessionClaims(
            user_id=sub,
            session_id=sid,
            org_id=_text(org_id),
            org_slug=_text(org_slug),
            org_role=_text(org_role),
            azp=_text(claims.get("azp")),
            actor=_text(act.get("sub")) if isinstance(act, dict) else None,
        )


def role_for(org_role: str | None) -> Role:
    """Clerk admin → admin; member → agent; any other role gets no access (default deny).

    Version 2 tokens say `admin` / `member`, version 1 tokens `org:admin` / `org:member`.
    """
    normalised = (org_role or "").removeprefix("org:")
    if normalised == "admin":
        return "admin"
    if normalised == "member":
        return "agent"
    raise Forbidden("Your organization role has no access to Yoosr.", code="role_not_allowed")
