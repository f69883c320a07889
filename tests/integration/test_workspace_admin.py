"""The workspace function: settings, the identity secret and widget keys, through its real
handler on moto, asserting responses and what was stored."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.dashboard_support import DASHBOARD_ORIGIN, dev_issuer
from tests.integration.test_least_privilege import allowed, required_permissions, role_statements
from tests.integration.widget_support import ORIGIN, Visitor
from tests.integration.workspace_support import Organization, WorkspaceApi, workspace_module
from tests.support import HttpHandlerClient
from yoosr.domain.hashing import identity_hash
from yoosr.provisioning import issue_widget_key
from yoosr.store import aws, ddb, keys

SECRET = "seeded-identity-secret-value"


@pytest.fixture(scope="module")
def api(stack: Any) -> WorkspaceApi:
    return WorkspaceApi(workspace_module(stack).lambda_handler)


@pytest.fixture
def org(stack: Any) -> Organization:
    return Organization(
        stack,
        settings={
            "allowed_origins": [ORIGIN],
            "allowed_dashboard_origins": [DASHBOARD_ORIGIN],
            "identity_secret": SECRET,
            "greeting": "Hello from Acme",
        },
    )


def stored_workspace(stack: Any, org: Organization) -> dict[str, Any]:
    item = ddb.get(stack.table("WorkspacesTable"), *keys.workspace(org.workspace_id))
    assert item is not None
    return item


def stored_key(stack: Any, org: Organization, key_id: str) -> dict[str, Any] | None:
    return ddb.get(stack.table("WorkspacesTable"), *keys.widget_key(org.workspace_id, key_id))


def detail_fields(response: Any) -> set[str]:
    return {d["field"] for d in response.json["error"]["details"]}


# ---------------------------------------------------------------- settings


def test_get_shows_settings_but_never_the_identity_secret(
    api: WorkspaceApi, org: Organization
) -> None:
    response = api.call("get", org.admin_token)
    assert response.status == 200, response.body
    body = response.json
    assert body["id"] == org.workspace_id
    assert body["org_id"] == org.org_id
    assert body["settings"]["allowed_origins"] == [ORIGIN]
    assert body["settings"]["greeting"] == "Hello from Acme"
    assert body["settings"]["identity_secret_set"] is True
    assert "identity_secret" not in body["settings"]
    assert SECRET not in response.body


def test_patch_changes_only_the_given_fields_and_stores_them(
    stack: Any, api: WorkspaceApi, org: Organization
) -> None:
    # Given a workspace with a greeting and a secret
    before = stored_workspace(stack, org)
    patch = {
        "name": "Acme Outdoor",
        "allowed_origins": [
            "https://Shop.Example",
            "https://shop.example",
            "http://localhost:3000",
        ],
        "retention_days": 90,
        "ai_model": "openai/gpt-4o-mini",
        "ai_fallback_models": ["anthropic/claude-3.5-haiku", "google/gemini-flash-1.5"],
        "ai_daily_token_budget": 50_000,
        "business_hours": {
            "timezone": "Europe/Oslo",
            "weekly": {
                "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
                "sat": [["10:00", "24:00"]],
            },
            "holidays": ["2026-12-25", "2026-12-24"],
        },
        "pre_chat_fields": ["name", "email"],
        "appearance": {"color": "#112233"},
        "first_response_sla_seconds": 300,
    }
    # When an admin patches some settings
    response = api.call("update", org.admin_token, json_body=patch)
    # Then the response and the stored item show them, normalised
    assert response.status == 200, response.body
    settings = response.json["settings"]
    assert settings["allowed_origins"] == ["https://shop.example", "http://localhost:3000"]
    assert settings["business_hours"]["holidays"] == ["2026-12-24", "2026-12-25"]
    assert settings["appearance"]["color"] == "#112233"
    assert settings["appearance"]["title"] == "Chat with us"  # kept, not reset
    stored = stored_workspace(stack, org)
    assert stored["name"] == "Acme Outdoor"
    assert stored["settings"]["retention_days"] == 90
    assert stored["settings"]["ai_model"] == "openai/gpt-4o-mini"
    assert stored["settings"]["ai_fallback_models"] == [
        "anthropic/claude-3.5-haiku",
        "google/gemini-flash-1.5",
    ]
    assert stored["settings"]["ai_daily_token_budget"] == 50_000
    assert settings["ai_daily_token_budget"] == 50_000
    assert stored["settings"]["first_response_sla_seconds"] == 300
    assert stored["settings"]["business_hours"]["timezone"] == "Europe/Oslo"
    assert stored["settings"]["business_hours"]["weekly"]["sat"] == [["10:00", "24:00"]]
    assert stored["settings_version"] == before["settings_version"] + 1
    assert stored["updated_at"] > before["updated_at"]
    # And what was not given is unchanged, the secret included
    assert stored["settings"]["greeting"] == "Hello from Acme"
    assert stored["settings"]["identity_secret"] == SECRET
    assert stored["settings"]["allowed_dashboard_origins"] == [DASHBOARD_ORIGIN]
    assert (stored["org_id"], stored["status"]) == (before["org_id"], before["status"])


def test_the_widget_sees_the_new_settings_at_once(
    widget: HttpHandlerClient, api: WorkspaceApi, org: Organization, stack: Any
) -> None:
    key = issue_widget_key(stack.table("WorkspacesTable"), org.workspace_id)
    visitor = Visitor(widget, key)
    assert visitor.call("widget_get_config").json["greeting"] == "Hello from Acme"
    hours = {"timezone": "Asia/Tokyo", "weekly": {"mon": [["00:00", "24:00"]]}}
    response = api.call(
        "update", org.admin_token, json_body={"greeting": "Konnichiwa", "business_hours": hours}
    )
    assert response.status == 200, response.body
    config = visitor.call("widget_get_config")
    assert config.status == 200, config.body
    assert config.json["greeting"] == "Konnichiwa"
    assert config.json["business_hours"]["timezone"] == "Asia/Tokyo"
    # Removing the shop's origin locks the widget out of that origin
    assert (
        api.call(
            "update", org.admin_token, json_body={"allowed_origins": ["https://other.example"]}
        ).status
        == 200
    )
    assert visitor.call("widget_get_config").status == 403


def test_null_clears_the_clearable_settings(
    stack: Any, api: WorkspaceApi, org: Organization
) -> None:
    set_first = {
        "retention_days": 30,
        "ai_model": "anthropic/claude-3.5-haiku",
        "business_hours": {"timezone": "UTC"},
        "first_response_sla_seconds": 60,
    }
    assert api.call("update", org.admin_token, json_body=set_first).status == 200
    cleared = {name: None for name in set_first}
    response = api.call("update", org.admin_token, json_body=cleared)
    assert response.status == 200, response.body
    stored = stored_workspace(stack, org)["settings"]
    assert all(stored[name] is None for name in set_first)
    assert all(response.json["settings"][name] is None for name in set_first)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retention_days": 0}, "retention_days"),
        ({"retention_days": 3651}, "retention_days"),
        ({"retention_days": "30"}, "retention_days"),
        ({"retention_days": True}, "retention_days"),
        ({"retention_days": 1.5}, "retention_days"),
        ({"allowed_origins": ["https://shop.example/"]}, "allowed_origins.0"),
        ({"allowed_origins": ["https://shop.example/path"]}, "allowed_origins.0"),
        ({"allowed_origins": ["ftp://shop.example"]}, "allowed_origins.0"),
        ({"allowed_origins": ["*"]}, "allowed_origins.0"),
        ({"allowed_origins": "https://shop.example"}, "allowed_origins"),
        ({"allowed_origins": [f"https://s{n}.example" for n in range(51)]}, "allowed_origins"),
        ({"allowed_origins": None}, "allowed_origins"),
        ({"allowed_dashboard_origins": ["javascript:alert(1)"]}, "allowed_dashboard_origins.0"),
        ({"ai_model": "gpt 4"}, "ai_model"),
        ({"ai_model": ""}, "ai_model"),
        ({"ai_fallback_models": ["a/b", "c/d", "e/f", "g/h"]}, "ai_fallback_models"),
        ({"ai_fallback_models": ["not a model"]}, "ai_fallback_models.0"),
        ({"ai_fallback_models": None}, "ai_fallback_models"),
        ({"ai_daily_token_budget": -1}, "ai_daily_token_budget"),
        ({"ai_daily_token_budget": 100_000_001}, "ai_daily_token_budget"),
        ({"ai_daily_token_budget": "lots"}, "ai_daily_token_budget"),
        ({"business_hours": {"timezone": "Mars/Olympus"}}, "business_hours.timezone"),
        (
            {"business_hours": {"timezone": "UTC", "weekly": {"funday": []}}},
            "business_hours.weekly",
        ),
        (
            {"business_hours": {"timezone": "UTC", "weekly": {"mon": [["17:00", "09:00"]]}}},
            "business_hours.weekly",
        ),
        (
            {
                "business_hours": {
                    "timezone": "UTC",
                    "weekly": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]},
                }
            },
            "business_hours.weekly",
        ),
        (
            {"business_hours": {"timezone": "UTC", "holidays": ["2026-13-01"]}},
            "business_hours.holidays",
        ),
        ({"business_hours": {"timezone": "UTC", "extra": 1}}, "business_hours.extra"),
        ({"identity_verification_required": "yes"}, "identity_verification_required"),
        ({"identity_verification_required": None}, "identity_verification_required"),
        ({"greeting": "   "}, "greeting"),
        ({"greeting": "x" * 501}, "greeting"),
        ({"greeting": None}, "greeting"),
        ({"appearance": {"color": "red"}}, "appearance.color"),
        ({"appearance": {"position": "top"}}, "appearance.position"),
        ({"appearance": {"font": "Comic Sans"}}, "appearance.font"),
        ({"pre_chat_fields": ["age"]}, "pre_chat_fields.0"),
        ({"first_response_sla_seconds": 5}, "first_response_sla_seconds"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_settings_are_422_naming_the_field_and_change_nothing(
    stack: Any, api: WorkspaceApi, org: Organization, body: dict[str, Any], field: str
) -> None:
    before = stored_workspace(stack, org)
    response = api.call("update", org.admin_token, json_body=body)
    assert response.status == 422, response.body
    assert response.error_code == "validation_failed"
    assert field in detail_fields(response)
    assert stored_workspace(stack, org) == before


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "workspace_id",
        "org_id",
        "status",
        "role",
        "identity_secret",
        "settings",
        "settings_version",
        "created_at",
        "agents_online",
        "active_widget_keys",
        "pk",
    ],
)
def test_mass_assignment_is_impossible(
    stack: Any, api: WorkspaceApi, org: Organization, field: str
) -> None:
    before = stored_workspace(stack, org)
    body = {"greeting": "Sneaky", field: "ws_00000000000000000000000000"}
    response = api.call("update", org.admin_token, json_body=body)
    assert response.status == 422, response.body
    assert detail_fields(response) == {field}
    assert stored_workspace(stack, org) == before


def test_an_empty_patch_and_malformed_bodies_are_refused(
    api: WorkspaceApi, org: Organization
) -> None:
    assert api.call("update", org.admin_token, json_body={}).status == 422
    assert api.call("update", org.admin_token, raw_body="{not json").status == 400
    response = api.call(
        "update",
        org.admin_token,
        raw_body="greeting=hi",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 415


def test_an_admin_cannot_lock_their_own_dashboard_out(
    stack: Any, api: WorkspaceApi, org: Organization
) -> None:
    before = stored_workspace(stack, org)
    locked_out = {"allowed_dashboard_origins": ["https://other-dashboard.example"]}
    response = api.call("update", org.admin_token, json_body=locked_out)
    assert response.status == 409, response.body
    assert response.error_code == "dashboard_origin_lockout"
    assert stored_workspace(stack, org) == before
    kept = {"allowed_dashboard_origins": [DASHBOARD_ORIGIN, "https://other-dashboard.example"]}
    assert api.call("update", org.admin_token, json_body=kept).status == 200
    assert (
        api.call("update", org.admin_token, json_body={"allowed_dashboard_origins": []}).status
        == 200
    )
    assert stored_workspace(stack, org)["settings"]["allowed_dashboard_origins"] == []


# ---------------------------------------------------------------- identity secret


def test_requiring_identity_verification_needs_a_secret(stack: Any, api: WorkspaceApi) -> None:
    # Given a workspace without an identity secret
    org = Organization(stack)
    # Then requiring verification is a conflict, and nothing changes
    response = api.call(
        "update", org.admin_token, json_body={"identity_verification_required": True}
    )
    assert response.status == 409, response.body
    assert response.error_code == "identity_secret_missing"
    assert (
        stored_workspace(stack, org)["settings"].get("identity_verification_required") is not True
    )
    # After a rotation it works
    assert api.call("rotate_identity_secret", org.admin_token).status == 200
    response = api.call(
        "update", org.admin_token, json_body={"identity_verification_required": True}
    )
    assert response.status == 200, response.body
    assert stored_workspace(stack, org)["settings"]["identity_verification_required"] is True


def test_the_rotated_secret_is_shown_once_and_replaces_the_old_one(
    stack: Any, api: WorkspaceApi, widget: HttpHandlerClient, org: Organization
) -> None:
    key = issue_widget_key(stack.table("WorkspacesTable"), org.workspace_id)

    def session_with(secret: str) -> int:
        body = {"identity": {"user_id": "user-7", "user_hash": identity_hash(secret, "user-7")}}
        return Visitor(widget, key).call("widget_create_session", json_body=body).status

    assert session_with(SECRET) == 201
    # When the admin rotates the secret
    rotated = api.call("rotate_identity_secret", org.admin_token)
    assert rotated.status == 200, rotated.body
    assert rotated.headers["cache-control"] == "no-store"
    secret = rotated.json["identity_secret"]
    assert secret.startswith("yis_")
    assert len(secret) >= 40
    # Then it is stored, never shown again, and only it verifies identities
    stored = stored_workspace(stack, org)["settings"]
    assert stored["identity_secret"] == secret
    assert stored["identity_secret_rotated_at"] == rotated.json["rotated_at"]
    again = api.call("get", org.admin_token)
    assert secret not in again.body
    assert again.json["settings"]["identity_secret_rotated_at"] == rotated.json["rotated_at"]
    assert session_with(secret) == 201
    assert session_with(SECRET) == 401
    # And another rotation gives another secret
    assert api.call("rotate_identity_secret", org.admin_token).json["identity_secret"] != secret


# ---------------------------------------------------------------- widget keys


def test_create_get_and_list_widget_keys(stack: Any, api: WorkspaceApi, org: Organization) -> None:
    created = api.call("create_widget_key", org.admin_token, json_body={"label": "  Main site "})
    assert created.status == 201, created.body
    key = created.json
    assert key["label"] == "Main site"
    assert key["active"] is True
    assert key["revoked_at"] is None
    assert key["widget_key"] == f"wk.{org.workspace_id}.{key['id']}"
    item = stored_key(stack, org, key["id"])
    assert item is not None
    assert (item["label"], item["revoked_at"], item["workspace_id"]) == (
        "Main site",
        None,
        org.workspace_id,
    )
    assert stored_workspace(stack, org)["active_widget_keys"] == 1
    fetched = api.call("get_widget_key", org.admin_token, path_params={"key_id": key["id"]})
    assert fetched.status == 200
    assert fetched.json == key
    listed = api.call("list_widget_keys", org.admin_token)
    assert [k["id"] for k in listed.json["items"]] == [key["id"]]
    assert listed.json["next_cursor"] is None


def test_widget_keys_paginate_newest_first(api: WorkspaceApi, stack: Any) -> None:
    org = Organization(stack)
    made = [
        api.call("create_widget_key", org.admin_token, json_body={"label": f"site {n}"}).json["id"]
        for n in range(5)
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.call("list_widget_keys", org.admin_token, query=query)
        assert page.status == 200, page.body
        assert len(page.json["items"]) <= 2
        seen += [k["id"] for k in page.json["items"]]
        pages += 1
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    assert pages == 3


def test_bad_list_parameters_are_400(api: WorkspaceApi, org: Organization, stack: Any) -> None:
    other = Organization(stack)
    for n in range(3):
        api.call("create_widget_key", other.admin_token, json_body={"label": f"k{n}"})
    foreign = api.call("list_widget_keys", other.admin_token, query={"limit": "1"})
    foreign_cursor = foreign.json["next_cursor"]
    assert foreign_cursor
    for query in (
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "x"},
        {"cursor": "%%%"},
        {"cursor": foreign_cursor},
    ):
        response = api.call("list_widget_keys", org.admin_token, query=query)
        assert response.status == 400, (query, response.body)


def test_a_revoked_key_stops_working_at_once(
    stack: Any, api: WorkspaceApi, widget: HttpHandlerClient, org: Organization
) -> None:
    # Given a key the widget uses
    key = api.call("create_widget_key", org.admin_token, json_body={"label": "shop"}).json
    visitor = Visitor(widget, key["widget_key"])
    assert visitor.call("widget_get_config").status == 200
    visitor.start_session()
    # When the admin revokes it
    revoked = api.call("revoke_widget_key", org.admin_token, path_params={"key_id": key["id"]})
    assert revoked.status == 200, revoked.body
    assert revoked.json["active"] is False
    assert revoked.json["revoked_at"]
    item = stored_key(stack, org, key["id"])
    assert item is not None
    assert item["revoked_at"] == revoked.json["revoked_at"]
    assert stored_workspace(stack, org)["active_widget_keys"] == 0
    # Then the very next widget calls with it are refused, sessions included
    config = visitor.call("widget_get_config")
    assert config.status == 401
    assert config.error_code == "invalid_widget_key"
    assert visitor.call("widget_list_conversations").status == 401
    # And revoking again changes nothing
    again = api.call("revoke_widget_key", org.admin_token, path_params={"key_id": key["id"]})
    assert again.status == 200
    assert again.json["revoked_at"] == revoked.json["revoked_at"]
    assert stored_workspace(stack, org)["active_widget_keys"] == 0


def test_another_workspaces_key_is_404_and_untouched(stack: Any, api: WorkspaceApi) -> None:
    acme, globex = Organization(stack), Organization(stack)
    key = api.call("create_widget_key", globex.admin_token, json_body={"label": "globex"}).json
    for sample in ("get_widget_key", "revoke_widget_key"):
        response = api.call(sample, acme.admin_token, path_params={"key_id": key["id"]})
        assert response.status == 404, (sample, response.body)
        assert response.error_code == "not_found"
    item = ddb.get(stack.table("WorkspacesTable"), *keys.widget_key(globex.workspace_id, key["id"]))
    assert item is not None
    assert item["revoked_at"] is None
    for malformed in ("nope", "01JDQ4ZV7W3X9Y8Z6A5B4C3D2E\n", "WORKSPACE", "x" * 64):
        response = api.call("get_widget_key", acme.admin_token, path_params={"key_id": malformed})
        assert response.status == 404, malformed


def test_active_widget_keys_are_capped(stack: Any, api: WorkspaceApi) -> None:
    org = Organization(stack)
    cap = workspace_module(stack).settings.max_active_widget_keys
    ids = [
        api.call("create_widget_key", org.admin_token, json_body={"label": f"k{n}"}).json["id"]
        for n in range(cap)
    ]
    over = api.call("create_widget_key", org.admin_token, json_body={"label": "one more"})
    assert over.status == 409
    assert over.error_code == "widget_key_limit"
    assert stored_workspace(stack, org)["active_widget_keys"] == cap
    assert (
        api.call("revoke_widget_key", org.admin_token, path_params={"key_id": ids[0]}).status == 200
    )
    assert (
        api.call("create_widget_key", org.admin_token, json_body={"label": "again"}).status == 201
    )


BAD_KEY_BODIES = [
    {},
    {"label": ""},
    {"label": "x" * 101},
    {"label": 5},
    {"label": "ok", "key_id": "01JDQ4ZV7W3X9Y8Z6A5B4C3D2E"},
]


@pytest.mark.parametrize("body", BAD_KEY_BODIES)
def test_bad_widget_key_bodies_are_422(api: WorkspaceApi, org: Organization, body: Any) -> None:
    response = api.call("create_widget_key", org.admin_token, json_body=body)
    assert response.status == 422, response.body


# ---------------------------------------------------------------- CORS


def test_preflight_and_cors_headers(api: WorkspaceApi, org: Organization) -> None:
    preflight = api.client.call("workspace_preflight")
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.yoosr.test"
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    # An origin the workspace lists is echoed once the caller is authenticated
    listed = api.call("get", org.admin_token)
    assert listed.headers["access-control-allow-origin"] == DASHBOARD_ORIGIN
    # Any other origin is not (a browser there cannot read the response)
    foreign = dev_issuer().mint(org.org_id, org.admin_id, azp=DASHBOARD_ORIGIN)
    other = api.call("get", foreign, origin="https://evil.example")
    assert other.status == 200
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["vary"] == "Origin"


# ---------------------------------------------------------------- least privilege


@pytest.fixture
def recorded() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    client = aws.client("dynamodb")
    client.meta.events.register("provide-client-params.*.*", record)
    yield calls
    client.meta.events.unregister("provide-client-params.*.*", record)


def test_the_workspace_role_allows_every_call_the_function_makes(
    stack: Any, api: WorkspaceApi, recorded: list[Any]
) -> None:
    org = Organization(stack)  # not provisioned by the function: provision a fresh org too
    fresh = dev_issuer().mint("org_lp_fresh_" + org.org_id[4:], "user_lp")
    api.call("get", fresh)
    api.call("get", org.admin_token)
    api.call("update", org.admin_token, json_body={"retention_days": 10})
    api.call("rotate_identity_secret", org.admin_token)
    key = api.call("create_widget_key", org.admin_token, json_body={"label": "x"}).json["id"]
    api.call("list_widget_keys", org.admin_token)
    api.call("get_widget_key", org.admin_token, path_params={"key_id": key})
    api.call("revoke_widget_key", org.admin_token, path_params={"key_id": key})
    api.call("revoke_widget_key", org.admin_token, path_params={"key_id": key})
    statements = role_statements(stack, "WorkspaceAdminFunction")
    needed = {p for call in recorded for p in required_permissions(stack, *call)}
    assert {action for action, _ in needed} >= {
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
    }
    assert sorted(p for p in needed if not allowed(statements, *p)) == []
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any("*" in action or action.endswith("Delete") for action in actions)
        assert "dynamodb:DeleteItem" not in actions and "dynamodb:Scan" not in actions
        if statement.get("Sid") != "Tracing":  # X-Ray has no resource-level permissions
            assert statement["Resource"] != "*", statement
