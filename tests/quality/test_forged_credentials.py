"""Suite 2 (issue 8): forged credentials.

Every authenticated route template.yaml declares (tests.quality.routes) is called with every
flawed credential, each otherwise valid:

* dashboard routes × Clerk session-token mutations: expired, `nbf` in the future, wrong `iss`,
  `azp` not allowed, `alg: none`, HS256 signed with the public key, unknown `kid`, tampered
  payload (another user; another organization), missing organization, pending session, missing
  `sub`/`sid`, another issuer's key under the same `kid`, garbage, a widget session token,
  no / non-bearer / empty authorization;
* widget routes × widget credential mutations: no, malformed, unknown, revoked or
  workspace-swapped key, a disallowed origin; and on routes that need a session: none, forged,
  expired, tampered, another workspace's session with this workspace's key (and the reverse),
  a dashboard token in its place.

Tokens are verified the way deployments verify Clerk's (keys from the JWKS, by `kid`). Every
attempt must be answered 401 or 403 (missing organization and a disallowed origin: 403; the
rest: 401); a control call with the valid credential proves each route accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import Counter
from typing import Any

import pytest

from local.clerk import DevIssuer
from tests.integration.dashboard_support import (
    DASHBOARD_ORIGIN,
    ISSUER,
    dev_issuer,
    use_dev_verifier,
)
from tests.integration.widget_support import ORIGIN
from tests.quality import figures
from tests.quality.personas import (  # noqa: F401 - quality_world is a fixture
    BODY_BUILDERS,
    Tenant,
    Visitor,
    World,
    body_for,
    build_event,
    invoke,
    quality_world,
)
from tests.quality.routes import RouteCase, mapped, samples
from yoosr import ids
from yoosr.store import ddb, keys

SUITE = "credentials"
EVIL_ORIGIN = "https://evil.example"
REFUSED = frozenset({401, 403})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# ---------------------------------------------------------------- dashboard token mutations


def token_mutations(home: Tenant, away: Tenant) -> dict[str, tuple[str | None, int]]:
    """name → (Authorization header value or None, expected status); each is otherwise the
    home admin's valid token."""
    issuer = dev_issuer()
    stranger = DevIssuer.generate("https://clerk.stranger.example", kid=issuer.kid)
    now = int(time.time())
    claims = issuer.claims(home.org_id, home.admin_id, "admin", azp=DASHBOARD_ORIGIN)
    good = issuer.sign(claims)
    header, payload, signature = good.split(".")
    other_user = {**claims, "sub": home.agent_id}
    other_org = {**claims, "o": {**claims["o"], "id": away.org_id}}
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}).encode())
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": issuer.kid}).encode())
    hs_signature = hmac.new(
        issuer.public_pem.encode(), f"{hs_header}.{payload}".encode(), hashlib.sha256
    ).digest()
    no_org = {k: v for k, v in claims.items() if k != "o"}
    bearer = {
        "expired": issuer.sign({**claims, "exp": now - 60, "iat": now - 3660, "nbf": now - 3665}),
        "nbf_in_future": issuer.sign({**claims, "nbf": now + 60}),
        "wrong_iss": issuer.sign({**claims, "iss": "https://clerk.evil.example"}),
        "azp_not_allowed": issuer.sign({**claims, "azp": EVIL_ORIGIN}),
        "alg_none": f"{none_header}.{payload}.",
        "hs256_with_public_key": f"{hs_header}.{payload}.{_b64(hs_signature)}",
        "unknown_kid": issuer.sign(claims, kid="ins_unknown"),
        "tampered_payload_user": f"{header}.{_b64(json.dumps(other_user).encode())}.{signature}",
        "tampered_payload_org": f"{header}.{_b64(json.dumps(other_org).encode())}.{signature}",
        "missing_org": issuer.sign(no_org),
        "pending_session": issuer.sign({**claims, "sts": "pending"}),
        "missing_sub": issuer.sign({k: v for k, v in claims.items() if k != "sub"}),
        "missing_sid": issuer.sign({k: v for k, v in claims.items() if k != "sid"}),
        "another_issuers_key_same_kid": stranger.sign({**claims, "iss": ISSUER}),
        "garbage": "abc.def.ghi",
        "widget_session_token": f"yst_{secrets.token_urlsafe(32)}",
    }
    found: dict[str, tuple[str | None, int]] = {
        name: (f"Bearer {token}", 403 if name == "missing_org" else 401)
        for name, token in bearer.items()
    }
    found["no_authorization"] = (None, 401)
    found["basic_scheme"] = (f"Basic {_b64(b'admin:admin')}", 401)
    found["empty_bearer"] = ("Bearer ", 401)
    return found


@pytest.fixture(params=["jwks", "pem"] if figures.LONG else ["jwks"])
def key_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Keys by kid from the issuer's JWKS; the long variant also verifies with its PEM."""
    use_dev_verifier(request.param, monkeypatch)
    return str(request.param)


# ---------------------------------------------------------------- calls


def _params(case: RouteCase, tenant: Tenant, visitor: Visitor | None) -> dict[str, str]:
    params = {}
    for name, kind in zip(case.params, case.kinds, strict=True):
        params[name] = visitor.objects[kind] if visitor is not None else tenant.objects[kind]
    return params


def _call(
    world: World, case: RouteCase, headers: dict[str, str], params: dict[str, str], body: Any
) -> Any:
    _, query = samples().get(case.route_key, (None, {}))
    event = build_event(
        case.method, case.path, params=params, headers=headers, body=body, query=query
    )
    return invoke(world.stack.handlers[case.folder], event)


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.wrong: list[str] = []
        self.pairs: set[tuple[str, str]] = set()

    def add(self, label: str, mutation: str, status: int, want: int, body: str) -> None:
        self.statuses[status] += 1
        self.pairs.add((label, mutation))
        if status != want:
            self.wrong.append(f"{label} · {mutation} → {status} (expected {want}) {body[:160]}")

    @property
    def attempts(self) -> int:
        return sum(self.statuses.values())


def _record(name: str, tally: Tally, routes: int, mutations: int) -> None:
    refused = sum(n for status, n in tally.statuses.items() if status in REFUSED)
    share = 100.0 * refused / tally.attempts if tally.attempts else 0.0
    successes = sum(n for status, n in tally.statuses.items() if 200 <= status < 400)
    errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    figures.record(SUITE, f"{name}: routes × mutations", f"{routes} × {mutations}")
    figures.record(SUITE, f"{name}: attempts", tally.attempts)
    figures.record(
        SUITE, f"{name}: answered 401/403", f"{share:.1f}%", bound="100%", ok=share == 100.0
    )
    figures.record(SUITE, f"{name}: 2xx/3xx", successes, bound="0", ok=successes == 0)
    figures.record(SUITE, f"{name}: 5xx", errors, bound="0", ok=errors == 0)
    figures.record(
        SUITE,
        f"{name}: answers other than the expected 401 or 403",
        len(tally.wrong),
        bound="0",
        ok=not tally.wrong,
    )


# ---------------------------------------------------------------- tests


def test_forged_dashboard_tokens_are_refused_on_every_dashboard_route(
    quality_world: World,  # noqa: F811 - the fixture
    key_mode: str,
) -> None:
    world, home = quality_world, quality_world.home
    cases = [c for c in mapped(set(BODY_BUILDERS)) if c.surface == "dashboard"]
    assert len(cases) >= 60
    mutations = token_mutations(home, world.away)
    if key_mode == "pem":  # a PEM is one key, whatever the kid (Clerk's networkless check)
        mutations.pop("unknown_kid")
    tally = Tally()
    controls: list[str] = []
    for case in cases:
        params = _params(case, home, None)
        body = body_for(case, home, params)
        for name, (authorization, want) in mutations.items():
            headers = {"origin": DASHBOARD_ORIGIN}
            if authorization is not None:
                headers["authorization"] = authorization
            response = _call(world, case, headers, params, body)
            tally.add(case.route_key, name, response.status, want, response.body)
        # Then the valid token is accepted (last: it may change or delete the object)
        control = _call(world, case, home.dashboard_headers("admin"), params, body)
        if control.status in REFUSED or control.status >= 500:
            controls.append(f"{case.route_key} → {control.status} {control.body[:160]}")
        if case.key == ("POST", "/v1/workspace/deletion") and control.status in (200, 202):
            home.admin("DELETE", "/v1/workspace/deletion", 200)

    _record(f"dashboard tokens ({key_mode})", tally, len(cases), len(mutations))
    assert not controls, "the valid token was refused:\n" + "\n".join(controls)
    assert not tally.wrong, f"{len(tally.wrong)} forged tokens not refused as expected:\n" + (
        "\n".join(tally.wrong[:60])
    )


def _expire_session(world: World, tenant: Tenant, visitor: Visitor) -> None:
    table = world.stack.table("EphemeralTable")
    pk, sk = keys.session(tenant.ws, ids.digest(visitor.token))
    assert ddb.get(table, pk, sk) is not None
    ddb.update(
        table,
        pk,
        sk,
        "SET expires_at = :past",
        vals=ddb.values(past=int(time.time()) - 60),
    )


def _revoked_key_visitor(world: World, tenant: Tenant) -> Visitor:
    """A visitor whose session was made with a key that was then revoked."""
    made = tenant.admin("POST", "/v1/workspace/widget-keys", 201, body={"label": "to revoke"})
    visitor = Visitor(made["widget_key"], "", "")
    response = tenant.call(
        "POST",
        "/v1/widget/sessions",
        headers={"x-yoosr-widget-key": visitor.key, "origin": ORIGIN},
        body={},
    )
    assert response.status == 201, response.body
    visitor.token = response.json["session_token"]
    path = "/v1/workspace/widget-keys/{key_id}"
    tenant.admin("DELETE", path, 200, params={"key_id": made["id"]})
    return visitor


def widget_mutations(world: World) -> dict[str, tuple[dict[str, str], int, bool]]:
    """name → (headers, expected status, applies only to routes that need a session)."""
    home, away = world.home, world.away
    a = home.visitors["a"]
    key_id = a.key.rsplit(".", 1)[1]
    expired = home.new_visitor()
    _expire_session(world, home, expired)
    revoked = _revoked_key_visitor(world, home)
    dashboard_jwt = home.token("admin")
    token = a.token
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    def with_(key: str | None = a.key, session: str | None = token, origin: str = ORIGIN) -> Any:
        headers = {"origin": origin}
        if key is not None:
            headers["x-yoosr-widget-key"] = key
        if session is not None:
            headers["authorization"] = f"Bearer {session}"
        return headers

    return {
        "no_widget_key": (with_(key=None), 401, False),
        "malformed_key": (with_(key="wk.not-a-key"), 401, False),
        "unknown_key": (with_(key=f"wk.{home.ws}.{ids.ulid()}"), 401, False),
        "revoked_key": (with_(key=revoked.key, session=revoked.token), 401, False),
        "unknown_workspace_key": (with_(key=f"wk.ws_{ids.ulid()}.{key_id}"), 401, False),
        "key_id_under_another_workspace": (with_(key=f"wk.{away.ws}.{key_id}"), 401, False),
        "origin_not_allowed": (with_(origin=EVIL_ORIGIN), 403, False),
        "no_session": (with_(session=None), 401, True),
        "forged_session": (with_(session=f"yst_{secrets.token_urlsafe(32)}"), 401, True),
        "expired_session": (with_(session=expired.token), 401, True),
        "tampered_session": (with_(session=tampered), 401, True),
        "other_workspace_session_this_key": (
            with_(session=away.visitors["a"].token),
            401,
            True,
        ),
        "this_session_other_workspace_key": (with_(key=away.widget_key), 401, True),
        "dashboard_token_as_session": (with_(session=dashboard_jwt), 401, True),
    }


def _needs_session(world: World, case: RouteCase) -> bool:
    """Found by calling: a valid key and no session is refused with invalid_session."""
    home, a = world.home, world.home.visitors["a"]
    params = _params(case, home, a)
    headers = {"x-yoosr-widget-key": a.key, "origin": ORIGIN}
    response = _call(world, case, headers, params, body_for(case, home, params))
    return response.status == 401 and response.error_code == "invalid_session"


def test_forged_widget_credentials_are_refused_on_every_widget_route(
    quality_world: World,  # noqa: F811 - the fixture
) -> None:
    world, home = quality_world, quality_world.home
    a = home.visitors["a"]
    cases = [c for c in mapped(set(BODY_BUILDERS)) if c.surface == "widget"]
    assert len(cases) >= 10
    mutations = widget_mutations(world)
    tally = Tally()
    controls: list[str] = []
    session_routes = 0
    for case in cases:
        needs_session = _needs_session(world, case)
        session_routes += needs_session
        params = _params(case, home, a)
        body = body_for(case, home, params)
        for name, (headers, want, session_only) in mutations.items():
            if session_only and not needs_session:
                continue  # the route reads no session: there is nothing to forge
            response = _call(world, case, headers, params, body)
            tally.add(case.route_key, name, response.status, want, response.body)
        control = _call(world, case, a.headers(), params, body_for(case, home, params))
        if control.status in REFUSED or control.status >= 500:
            controls.append(f"{case.route_key} → {control.status} {control.body[:160]}")

    assert session_routes >= 8, "the probe found too few session routes"
    _record("widget credentials", tally, len(cases), len(mutations))
    figures.record(SUITE, "widget credentials: routes needing a session", session_routes)
    assert not controls, "valid widget credentials were refused:\n" + "\n".join(controls)
    assert not tally.wrong, f"{len(tally.wrong)} forged widget credentials not refused:\n" + (
        "\n".join(tally.wrong[:60])
    )
