"""Clerk session token verification: algorithm, key, claims, JWKS cache — no network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from local.clerk import DevIssuer
from yoosr.dashboard.clerk import (
    JWKS_MAX_AGE_SECONDS,
    JWKS_REFETCH_INTERVAL_SECONDS,
    ClerkVerifier,
    KeySource,
    role_for,
)
from yoosr.errors import Forbidden, Unauthorized, Unavailable

ISSUER = "https://clerk.unit.example"


@pytest.fixture(scope="module")
def issuer() -> DevIssuer:
    return DevIssuer.generate(ISSUER)


@pytest.fixture(scope="module")
def stranger() -> DevIssuer:
    return DevIssuer.generate("https://clerk.other.example")


class FakeJwks:
    """A JWKS endpoint that counts fetches and can change or fail."""

    def __init__(self, *issuers: DevIssuer) -> None:
        self.issuers = list(issuers)
        self.fetches = 0
        self.failing = False

    def __call__(self, url: str) -> dict[str, Any]:
        self.fetches += 1
        if self.failing:
            raise OSError("connection refused")
        return {"keys": [k for i in self.issuers for k in i.jwks()["keys"]]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def jwks_verifier(jwks: FakeJwks, clock: Clock | None = None) -> ClerkVerifier:
    source = KeySource(
        jwks_url=f"{ISSUER}/.well-known/jwks.json", fetch=jwks, clock=clock or Clock()
    )
    return ClerkVerifier(ISSUER, source, leeway_seconds=5)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def reason(error: pytest.ExceptionInfo[Unauthorized]) -> str:
    return str(error.value.details[0]["reason"])


# ---------------------------------------------------------------- good tokens


def test_a_v2_token_yields_user_session_org_role_and_azp(issuer: DevIssuer) -> None:
    token = issuer.mint("org_abc", "user_1", "admin", azp="https://app.example")
    claims = jwks_verifier(FakeJwks(issuer)).verify(token)
    assert (claims.user_id, claims.org_id, claims.org_role, claims.azp) == (
        "user_1",
        "org_abc",
        "admin",
        "https://app.example",
    )
    assert claims.session_id.startswith("sess_")
    assert claims.org_slug == "abc"
    assert role_for(claims.org_role) == "admin"


def test_a_v1_token_reads_org_id_and_org_role(issuer: DevIssuer) -> None:
    token = issuer.mint("org_abc", "user_1", "member", version=1)
    claims = jwks_verifier(FakeJwks(issuer)).verify(token)
    assert (claims.org_id, claims.org_role) == ("org_abc", "org:member")
    assert role_for(claims.org_role) == "agent"


def test_impersonation_actor_is_exposed(issuer: DevIssuer) -> None:
    token = issuer.mint("org_abc", "user_1", act={"sub": "user_support"})
    assert jwks_verifier(FakeJwks(issuer)).verify(token).actor == "user_support"


@pytest.mark.parametrize(
    ("clerk_role", "yoosr_role"),
    [("admin", "admin"), ("org:admin", "admin"), ("member", "agent"), ("org:member", "agent")],
)
def test_clerk_roles_map_to_yoosr_roles(clerk_role: str, yoosr_role: str) -> None:
    assert role_for(clerk_role) == yoosr_role


@pytest.mark.parametrize("clerk_role", [None, "", "org:billing", "owner", "org:adminx", "ADMIN"])
def test_any_other_role_is_denied(clerk_role: str | None) -> None:
    with pytest.raises(Forbidden):
        role_for(clerk_role)


# ---------------------------------------------------------------- bad tokens


def test_leeway_is_at_most_five_seconds(issuer: DevIssuer) -> None:
    verifier = ClerkVerifier(ISSUER, KeySource(pem=issuer.public_pem), leeway_seconds=60)
    assert verifier.leeway == 5
    now = int(time.time())
    fresh_enough = issuer.mint("org_a", "user_1", exp=now - 3)
    assert verifier.verify(fresh_enough).user_id == "user_1"
    for claims in ({"exp": now - 10}, {"nbf": now + 10}, {"iat": now + 30}):
        with pytest.raises(Unauthorized):
            verifier.verify(issuer.mint("org_a", "user_1", **claims))


def forged_tokens(issuer: DevIssuer, stranger: DevIssuer) -> dict[str, str]:
    now = int(time.time())
    good = issuer.mint("org_a", "user_1", "member")
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["o"]["rol"] = "admin"
    tampered = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    none_header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": issuer.kid}).encode())
    hs_header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}).encode())
    body = b64(json.dumps(issuer.claims("org_a", "user_1")).encode())
    hs_signature = hmac.new(
        issuer.public_pem.encode(), f"{hs_header}.{body}".encode(), hashlib.sha256
    ).digest()
    return {
        "expired": issuer.mint("org_a", "user_1", exp=now - 60),
        "nbf_future": issuer.mint("org_a", "user_1", nbf=now + 60),
        "wrong_iss": issuer.mint("org_a", "user_1", iss="https://clerk.evil.example"),
        "iss_prefix": issuer.mint("org_a", "user_1", iss=ISSUER[:-3]),
        "alg_none": f"{none_header}.{body}.",
        "hs256_public_key": f"{hs_header}.{body}.{b64(hs_signature)}",
        "unknown_kid": issuer.sign(issuer.claims("org_a", "user_1"), kid="kid-nobody-knows"),
        "tampered": tampered,
        "missing_sub": issuer.mint("org_a", "user_1", sub=None),
        "missing_sid": issuer.mint("org_a", "user_1", sid=None),
        "missing_exp": issuer.mint("org_a", "user_1", exp=None),
        "missing_nbf": issuer.mint("org_a", "user_1", nbf=None),
        "sub_not_string": issuer.mint("org_a", "user_1", sub=123),
        "pending_session": issuer.mint("org_a", "user_1", sts="pending"),
        "another_issuer": stranger.mint("org_a", "user_1"),
        "another_key_same_kid": stranger.sign(issuer.claims("org_a", "user_1"), kid=issuer.kid),
        "garbage": "not.a.jwt",
        "huge": "a" * 10_000,
    }


def test_every_forged_or_flawed_token_is_refused_with_jwks(
    issuer: DevIssuer, stranger: DevIssuer
) -> None:
    verifier = jwks_verifier(FakeJwks(issuer))
    for name, token in forged_tokens(issuer, stranger).items():
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(token)
        assert refused.value.error_code == "invalid_token", name


def test_every_forged_token_but_an_unknown_kid_is_refused_with_a_pem(
    issuer: DevIssuer, stranger: DevIssuer
) -> None:
    """Networkless verification has one key and, like Clerk's, does not consult the kid: a
    token the configured key really signed is valid whatever kid it names."""
    verifier = ClerkVerifier(ISSUER, KeySource(pem=issuer.public_pem))
    for name, token in forged_tokens(issuer, stranger).items():
        if name == "unknown_kid":
            assert verifier.verify(token).user_id == "user_1"
            continue
        with pytest.raises(Unauthorized):
            verifier.verify(token)


def test_alg_is_refused_before_any_key_is_fetched(issuer: DevIssuer, stranger: DevIssuer) -> None:
    jwks = FakeJwks(issuer)
    verifier = jwks_verifier(jwks)
    tokens = forged_tokens(issuer, stranger)
    for name in ("alg_none", "hs256_public_key"):
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(tokens[name])
        assert reason(refused) == "algorithm not allowed"
    assert jwks.fetches == 0


def test_a_pem_with_escaped_newlines_is_accepted(issuer: DevIssuer) -> None:
    one_line = issuer.public_pem.replace("\n", "\\n")
    verifier = ClerkVerifier(ISSUER, KeySource(pem=one_line))
    assert verifier.verify(issuer.mint("org_a", "user_1")).user_id == "user_1"


def test_configuration_is_required() -> None:
    with pytest.raises(ValueError):
        KeySource()
    with pytest.raises(ValueError):
        ClerkVerifier("", KeySource(pem=DevIssuer.generate(ISSUER).public_pem))


# ---------------------------------------------------------------- JWKS cache


def test_jwks_is_fetched_once_and_cached(issuer: DevIssuer) -> None:
    jwks = FakeJwks(issuer)
    verifier = jwks_verifier(jwks)
    for _ in range(5):
        verifier.verify(issuer.mint("org_a", "user_1"))
    assert jwks.fetches == 1


def test_an_unknown_kid_refetches_once_then_not_again_for_a_while(
    issuer: DevIssuer, stranger: DevIssuer
) -> None:
    jwks, clock = FakeJwks(issuer), Clock()
    verifier = jwks_verifier(jwks, clock)
    verifier.verify(issuer.mint("org_a", "user_1"))
    forged = [issuer.sign(issuer.claims("org_a", "user_1"), kid=f"kid-{n}") for n in range(20)]
    # Right after a fetch, an unknown kid is refused without asking again
    with pytest.raises(Unauthorized):
        verifier.verify(forged[0])
    assert jwks.fetches == 1
    # Later, one refetch serves a whole burst of unknown kids
    clock.now += JWKS_REFETCH_INTERVAL_SECONDS + 1
    for token in forged:
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(token)
        assert reason(refused) == "unknown kid"
    assert jwks.fetches == 2
    # and the known key still verifies without another fetch
    verifier.verify(issuer.mint("org_a", "user_1"))
    assert jwks.fetches == 2


def test_a_rotated_key_is_picked_up_through_the_unknown_kid_refetch(
    issuer: DevIssuer, stranger: DevIssuer
) -> None:
    # Given a verifier that has cached the old key
    jwks, clock = FakeJwks(issuer), Clock()
    verifier = jwks_verifier(jwks, clock)
    verifier.verify(issuer.mint("org_a", "user_1"))
    # When Clerk rotates to a new key (same issuer) and a token signed with it arrives
    rotated = DevIssuer(ISSUER, stranger.private_key, kid="ins_rotated")
    jwks.issuers = [issuer, rotated]
    clock.now += JWKS_REFETCH_INTERVAL_SECONDS + 1
    # Then one refetch finds it
    assert verifier.verify(rotated.mint("org_a", "user_2")).user_id == "user_2"
    assert jwks.fetches == 2


def test_keys_older_than_the_max_age_are_refetched_and_withdrawn_keys_stop_working(
    issuer: DevIssuer, stranger: DevIssuer
) -> None:
    jwks, clock = FakeJwks(issuer), Clock()
    verifier = jwks_verifier(jwks, clock)
    token = issuer.mint("org_a", "user_1")
    verifier.verify(token)
    jwks.issuers = [DevIssuer(ISSUER, stranger.private_key, kid="ins_new")]
    clock.now += JWKS_MAX_AGE_SECONDS + 1
    with pytest.raises(Unauthorized):
        verifier.verify(token)
    assert jwks.fetches == 2


def test_a_jwks_outage_is_503_without_keys_and_harmless_with_cached_keys(
    issuer: DevIssuer,
) -> None:
    # Without cached keys: 503 (not the caller's fault), and no fetch storm
    jwks, clock = FakeJwks(issuer), Clock()
    jwks.failing = True
    verifier = jwks_verifier(jwks, clock)
    for _ in range(3):
        with pytest.raises(Unavailable):
            verifier.verify(issuer.mint("org_a", "user_1"))
    assert jwks.fetches == 1
    # Once it is back (after the refetch interval) tokens verify
    jwks.failing = False
    clock.now += JWKS_REFETCH_INTERVAL_SECONDS + 1
    assert verifier.verify(issuer.mint("org_a", "user_1")).user_id == "user_1"
    # With cached keys, an outage at max age keeps the cached keys working
    jwks.failing = True
    clock.now += JWKS_MAX_AGE_SECONDS + 1
    assert verifier.verify(issuer.mint("org_a", "user_1")).user_id == "user_1"


def test_jwks_entries_that_are_not_rs256_signing_keys_are_ignored(issuer: DevIssuer) -> None:
    key = issuer.jwks()["keys"][0]
    document = {"keys": [{**key, "use": "enc"}, {**key, "alg": "RS512"}, {**key, "kty": "EC"}]}
    source = KeySource(jwks_url="https://x.example/jwks", fetch=lambda _: document, clock=Clock())
    with pytest.raises(Unauthorized):
        ClerkVerifier(ISSUER, source).verify(issuer.mint("org_a", "user_1"))
