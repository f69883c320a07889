"""Team rules and request models: pure, no AWS."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from yoosr.models.team import (
    AgentUpdate,
    CannedCreate,
    CannedUpdate,
    DepartmentCreate,
    DepartmentUpdate,
    LabelCreate,
)
from yoosr.team import rules
from yoosr.team.rules import AgentState, departments_to_dispatch, effective_status

NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("status", "expires", "expected"),
    [
        ("online", NOW + 1, "online"),
        ("online", NOW, "offline"),  # the heartbeat lapses at its expiry second
        ("online", NOW - 500, "offline"),
        ("online", None, "offline"),
        ("away", NOW + 30, "away"),
        ("away", NOW - 1, "offline"),
        ("offline", NOW + 30, "offline"),
        (None, None, "offline"),
        ("busy", NOW + 30, "offline"),
    ],
)
def test_effective_status(status: str | None, expires: int | None, expected: str) -> None:
    assert effective_status(status, expires, NOW) == expected


def test_presence_expiry() -> None:
    assert rules.presence_expiry("online", NOW, 90) == NOW + 90
    assert rules.presence_expiry("away", NOW, 90) == NOW + 90
    assert rules.presence_expiry("offline", NOW, 90) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [("VIP", "vip"), ("  Big   deal ", "big deal"), ("ＶＩＰ", "vip"), ("Straße", "STRASSE")],
)
def test_name_keys_ignore_case_width_and_spacing(a: str, b: str) -> None:
    assert rules.name_key(a) == rules.name_key(b)


def test_name_keys_still_tell_different_names_apart() -> None:
    assert rules.name_key("vip") != rules.name_key("vips")


def test_membership_change() -> None:
    change = rules.membership_change(["a", "b"], ["b", "c"])
    assert change.added == ["c"] and change.removed == ["a"] and not change.empty
    assert rules.membership_change(["a"], ["a"]).empty
    assert rules.ordered_unique(["b", "a", "b"]) == ["b", "a"]


def state(
    status: str = "online", capacity: int = 3, departments: tuple[str, ...] = ("d1",)
) -> AgentState:
    return AgentState(status, capacity, departments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (state("offline"), state("online"), ["d1"]),
        (state("away"), state("online"), ["d1"]),
        (state("offline", departments=()), state("online", departments=()), []),
        (state(), state(), None),  # a heartbeat
        (state(), state("away"), None),
        (state("offline"), state("away"), None),
        (state(capacity=3), state(capacity=4), ["d1"]),
        (state(capacity=3), state(capacity=2), None),
        (state("offline", capacity=3), state("offline", capacity=9), None),
        (state("offline"), state("online", capacity=0), None),
        (state(departments=("d1",)), state(departments=("d1", "d2")), ["d2"]),
        (state(departments=("d1", "d2")), state(departments=("d1",)), None),
    ],
)
def test_departments_to_dispatch(
    before: AgentState, after: AgentState, expected: list[str] | None
) -> None:
    assert departments_to_dispatch(before, after) == expected


def test_agent_state_reads_items_with_missing_fields() -> None:
    parsed = AgentState.of({"status": "online", "presence_expires_at": NOW + 5}, NOW)
    assert parsed == AgentState("online", 0, ())
    assert rules.is_available(AgentState("online", 2, ()), 1)
    assert not rules.is_available(AgentState("online", 2, ()), 2)
    assert not rules.is_available(AgentState("away", 2, ()), 0)


# ---------------------------------------------------------------- models


def test_shortcut_and_color_are_normalised() -> None:
    canned = CannedCreate(shortcut=" /Refund ", title="  Refund\tpolicy ", content=" Hi \x07")
    assert canned.shortcut == "refund"
    assert canned.title == "Refund policy"
    assert canned.content == "Hi"
    assert LabelCreate(name="VIP", color="#aabbcc").color == "#AABBCC"


@pytest.mark.parametrize(
    "model,body",
    [
        (DepartmentUpdate, {}),
        (DepartmentUpdate, {"name": None}),
        (AgentUpdate, {"capacity": True}),
        (AgentUpdate, {"departments": None}),
        (CannedUpdate, {"content": None}),
        (DepartmentCreate, {"name": "x", "routing_strategy": "fastest"}),
    ],
)
def test_invalid_bodies(model: Any, body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_patch_keeps_explicit_nulls_for_optional_overrides() -> None:
    patch = DepartmentUpdate.model_validate({"business_hours": None, "name": "Ops"})
    assert patch.given() == {"business_hours": None, "name": "Ops"}
