"""Bad input on the team routes: the right 4xx naming the field, never a 5xx, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.dashboard_support import Org, agent_routing_client, stored_with_prefix
from tests.support import HttpHandlerClient
from yoosr import ids

LONG = "x" * 101


@pytest.fixture(scope="module")
def routing(stack: Any) -> HttpHandlerClient:
    return agent_routing_client(stack)


@pytest.fixture(scope="module")
def acme(routing: HttpHandlerClient) -> dict[str, Any]:
    org = Org(routing)
    org.agent("list_agents")
    return {
        "org": org,
        "department_id": org.admin("create_department", json_body={"name": "D"}).json["id"],
        "label_id": org.admin("create_label", json_body={"name": "L"}).json["id"],
        "canned_id": org.admin(
            "create_canned", json_body={"shortcut": "c", "title": "C", "content": "C"}
        ).json["id"],
        "user_id": org.agent_id,
    }


# (sample, body, expected status, field named in details or None)
CASES: list[tuple[str, Any, int, str | None]] = [
    ("create_department", {}, 422, "name"),
    ("create_department", {"name": ""}, 422, "name"),
    ("create_department", {"name": "   "}, 422, "name"),
    ("create_department", {"name": LONG}, 422, "name"),
    ("create_department", {"name": 5}, 422, "name"),
    ("create_department", {"name": "D", "routing_strategy": "random"}, 422, "routing_strategy"),
    (
        "create_department",
        {"name": "D", "business_hours": {"timezone": "Mars/Olympus"}},
        422,
        "business_hours.timezone",
    ),
    (
        "create_department",
        {
            "name": "D",
            "business_hours": {"timezone": "UTC", "weekly": {"mon": [["18:00", "09:00"]]}},
        },
        422,
        "business_hours.weekly",
    ),
    (
        "create_department",
        {"name": "D", "first_response_sla_seconds": 10},
        422,
        "first_response_sla_seconds",
    ),
    (
        "create_department",
        {"name": "D", "first_response_sla_seconds": "300"},
        422,
        "first_response_sla_seconds",
    ),
    ("create_department", {"name": "D", "member_count": 9}, 422, "member_count"),
    ("create_department", {"name": "D", "id": "dept_x"}, 422, "id"),
    ("create_department", {"name": "D", "workspace_id": "ws_x"}, 422, "workspace_id"),
    ("create_department", [1, 2], 422, None),
    ("update_department", {}, 422, None),
    ("update_department", {"name": None}, 422, None),
    ("update_department", {"routing_strategy": None}, 422, None),
    ("update_department", {"member_count": 0}, 422, "member_count"),
    ("update_agent", {}, 422, None),
    ("update_agent", {"capacity": 51}, 422, "capacity"),
    ("update_agent", {"capacity": -1}, 422, "capacity"),
    ("update_agent", {"capacity": "5"}, 422, "capacity"),
    ("update_agent", {"capacity": 2.5}, 422, "capacity"),
    ("update_agent", {"capacity": None}, 422, None),
    ("update_agent", {"departments": "dept_1"}, 422, "departments"),
    ("update_agent", {"departments": ["billing"]}, 422, "departments.0"),
    ("update_agent", {"departments": [ids.new_id("dept") for _ in range(21)]}, 422, "departments"),
    ("update_agent", {"open_count": 0}, 422, "open_count"),
    ("update_agent", {"role": "admin"}, 422, "role"),
    ("update_agent", {"status": "online"}, 422, "status"),
    ("update_agent", {"user_id": "user_other"}, 422, "user_id"),
    ("set_status", {"status": "busy"}, 422, "status"),
    ("set_status", {}, 422, "status"),
    (
        "set_status",
        {"status": "online", "presence_expires_at": 9999999999},
        422,
        "presence_expires_at",
    ),
    ("create_label", {"name": "L2", "color": "red"}, 422, "color"),
    ("create_label", {"name": "x" * 51}, 422, "name"),
    ("create_label", {"name": "L3", "name_key": "l"}, 422, "name_key"),
    ("update_label", {"color": None}, 422, None),
    ("create_canned", {"shortcut": "re fund", "title": "t", "content": "c"}, 422, "shortcut"),
    ("create_canned", {"shortcut": "/", "title": "t", "content": "c"}, 422, "shortcut"),
    ("create_canned", {"shortcut": "x" * 33, "title": "t", "content": "c"}, 422, "shortcut"),
    ("create_canned", {"shortcut": "ok", "title": "t", "content": "c" * 5001}, 422, "content"),
    ("create_canned", {"shortcut": "ok", "title": "t", "content": " "}, 422, "content"),
    ("create_canned", {"shortcut": "ok", "title": "", "content": "c"}, 422, "title"),
    ("update_canned", {"shortcut": None}, 422, None),
    ("update_canned", {"canned_id": "canned_x"}, 422, "canned_id"),
]


PATH_PARAM = {
    "department": "department_id",
    "agent": "user_id",
    "label": "label_id",
    "canned": "canned_id",
}


def _path(sample: str, acme: dict[str, Any]) -> dict[str, str]:
    verb, _, noun = sample.partition("_")
    return {PATH_PARAM[noun]: acme[PATH_PARAM[noun]]} if verb in {"update", "get"} else {}


@pytest.mark.parametrize(
    ("sample", "body", "status", "field"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_bad_bodies_are_refused_naming_the_field(
    stack: Any, acme: dict[str, Any], sample: str, body: Any, status: int, field: str | None
) -> None:
    org: Org = acme["org"]
    before = stored_with_prefix(stack, org.workspace_id, "")
    response = org.admin(sample, path_params=_path(sample, acme), json_body=body)
    assert response.status == status, response.body
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    assert stored_with_prefix(stack, org.workspace_id, "") == before


def test_max_content_is_accepted(acme: dict[str, Any]) -> None:
    org: Org = acme["org"]
    response = org.admin(
        "create_canned", json_body={"shortcut": "long", "title": "t", "content": "c" * 5000}
    )
    assert response.status == 201 and len(response.json["content"]) == 5000


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        ("{not json", {"content-type": "application/json"}, 400, "malformed_json"),
        ('{"name": "D"}', {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        ("", {"content-type": "application/json"}, 400, "missing_body"),
        (
            '{"name": "' + "x" * 70_000 + '"}',
            {"content-type": "application/json"},
            413,
            "payload_too_large",
        ),
    ],
)
def test_malformed_requests(
    acme: dict[str, Any], raw: str, headers: dict[str, str], status: int, code: str
) -> None:
    org: Org = acme["org"]
    response = org.admin("create_department", raw_body=raw, headers=headers)
    assert response.status == status and response.error_code == code, response.body


@pytest.mark.parametrize(
    ("sample", "params"),
    [
        ("get_department", {"department_id": "nope"}),
        ("get_department", {"department_id": "dept_" + "Z" * 26}),
        ("get_department", {"department_id": "DEPT#x"}),
        ("get_label", {"label_id": "label_" + "0" * 26}),
        ("get_canned", {"canned_id": "x" * 300}),
        ("update_agent", {"user_id": "user_nobody"}),
        ("update_agent", {"user_id": "me"}),
    ],
)
def test_unknown_or_malformed_ids_are_404(
    acme: dict[str, Any], sample: str, params: dict[str, str]
) -> None:
    org: Org = acme["org"]
    body = {"capacity": 1} if sample == "update_agent" else None
    response = org.admin(sample, path_params=params, json_body=body)
    assert response.status == 404 and response.error_code == "not_found", response.body


@pytest.mark.parametrize(
    "query",
    [
        {"shortcut": "bad shortcut"},
        {"shortcut": "x" * 65},
        {"q": "a b"},
        {"limit": "-1"},
        {"cursor": "x" * 1025},
    ],
)
def test_bad_query_parameters_are_400(acme: dict[str, Any], query: dict[str, str]) -> None:
    org: Org = acme["org"]
    response = org.agent("list_canned", query=query)
    assert response.status == 400, response.body
