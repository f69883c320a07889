"""Flow model and validation on save: every invalid flow is a 422 naming the step at fault."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from yoosr.bot.flows import (
    AiAnswerStep,
    ButtonsStep,
    CloseStep,
    CollectStep,
    ConditionStep,
    HandoffStep,
    MessageStep,
    SetAttributeStep,
    validate_flow,
)
from yoosr.errors import ValidationFailed


def demo_flow_data() -> dict[str, Any]:
    """A flow using every step type; shared with the engine tests."""
    return {
        "id": "welcome",
        "name": "Welcome",
        "version": 3,
        "start_step": "greet",
        "default_department_id": "support",
        "steps": [
            {"id": "greet", "type": "message", "text": "Hi! I'm the Acme bot.", "next": "menu"},
            {
                "id": "menu",
                "type": "buttons",
                "text": "What can I help with?",
                "options": [
                    {"label": "Pricing", "value": "pricing", "next": "ask"},
                    {"label": "Talk to sales", "value": "sales", "next": "sales_open"},
                    {"label": "Something else", "next": "ask"},
                ],
                "on_other": "ask",
            },
            {
                "id": "sales_open",
                "type": "condition",
                "rules": [{"kind": "business_hours_open"}, {"kind": "agents_online"}],
                "match": "all",
                "then": "ask_email",
                "else": "offline",
            },
            {
                "id": "ask_email",
                "type": "collect",
                "field": "email",
                "attribute": "email",
                "prompt": "What's your email address?",
                "invalid_prompt": "That doesn't look like an email address. Please try again.",
                "max_attempts": 3,
                "next": "tag_lead",
                "on_fail": "to_sales",
            },
            {
                "id": "tag_lead",
                "type": "set_attribute",
                "attribute": "lead",
                "value": "sales",
                "next": "to_sales",
            },
            {
                "id": "to_sales",
                "type": "handoff",
                "department_id": "sales",
                "message": "Connecting you to sales.",
            },
            {"id": "offline", "type": "message", "text": "Sales is offline.", "next": "bye"},
            {"id": "bye", "type": "close", "message": "We'll write to you tomorrow."},
            {
                "id": "ask",
                "type": "ai_answer",
                "prompt": "What would you like to know?",
                "on_no_answer": "to_support",
            },
            {"id": "to_support", "type": "handoff", "message": "Let me find a colleague."},
        ],
    }


def _fails(data: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        validate_flow(data)
    assert caught.value.status == 422
    assert caught.value.error_code == "validation_failed"
    return caught.value.details


def test_the_demo_flow_is_valid_and_keeps_every_step_type() -> None:
    flow = validate_flow(demo_flow_data())

    kinds = {type(step) for step in flow.steps}
    assert kinds == {
        MessageStep,
        ButtonsStep,
        CollectStep,
        ConditionStep,
        SetAttributeStep,
        AiAnswerStep,
        HandoffStep,
        CloseStep,
    }
    condition = flow.step("sales_open")
    assert isinstance(condition, ConditionStep)
    assert condition.else_ == "offline"
    menu = flow.step("menu")
    assert isinstance(menu, ButtonsStep)
    assert [o.reply_value for o in menu.options] == ["pricing", "sales", "Something else"]
    assert flow.step("missing") is None


def test_a_saved_flow_round_trips_through_json() -> None:
    flow = validate_flow(demo_flow_data())
    dumped = flow.model_dump(mode="json", by_alias=True)

    assert dumped["steps"][2]["else"] == "offline"
    assert validate_flow(dumped) == flow


@pytest.mark.parametrize(
    "step",
    [
        {"id": "s", "type": "message", "text": "Hello", "next": "end"},
        {
            "id": "s",
            "type": "buttons",
            "text": "Pick",
            "options": [{"label": "A", "next": "end"}, {"label": "B", "value": "b", "next": "s"}],
        },
        {
            "id": "s",
            "type": "collect",
            "field": "phone",
            "attribute": "phone",
            "prompt": "Your number?",
            "next": "end",
            "on_fail": "end",
        },
        {
            "id": "s",
            "type": "condition",
            "rules": [{"kind": "attribute", "attribute": "plan", "op": "equals", "value": "pro"}],
            "then": "end",
            "else": "end",
        },
        {"id": "s", "type": "set_attribute", "attribute": "plan", "value": "pro", "next": "end"},
        {"id": "s", "type": "ai_answer", "on_no_answer": "end"},
        {"id": "s", "type": "handoff", "department_id": "billing"},
        {"id": "s", "type": "close", "message": "Bye"},
    ],
    ids=lambda step: step["type"],
)
def test_each_step_type_parses(step: dict[str, Any]) -> None:
    steps = (
        [step] if step["type"] in ("handoff", "close") else [step, {"id": "end", "type": "handoff"}]
    )
    flow = validate_flow({"id": "f", "name": "F", "version": 1, "start_step": "s", "steps": steps})
    assert flow.steps[0].type == step["type"]


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return apply


def _append(step: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["steps"].append(step)


INVALID = [
    # (case, change, field, words the message must contain)
    (
        "unknown type",
        _set(["steps", 1, "type"], "carousel"),
        "steps[1].type",
        ["'menu'", "unknown"],
    ),
    ("missing target", _delete(["steps", 0, "next"]), "steps[0].next", ["'greet'", "required"]),
    (
        "unknown target",
        _set(["steps", 0, "next"], "nowhere"),
        "steps[0].next",
        ["'greet'", "'nowhere'"],
    ),
    (
        "unknown option target",
        _set(["steps", 1, "options", 1, "next"], "gone"),
        "steps[1].options[1].next",
        ["'menu'", "'gone'"],
    ),
    (
        "unknown else target",
        _set(["steps", 2, "else"], "gone"),
        "steps[2].else",
        ["'sales_open'", "'gone'"],
    ),
    (
        "unknown on_fail target",
        _set(["steps", 3, "on_fail"], "gone"),
        "steps[3].on_fail",
        ["'ask_email'", "'gone'"],
    ),
    (
        "duplicate id",
        _append({"id": "greet", "type": "close", "message": "x"}),
        "steps[10].id",
        ["'greet'", "duplicate", "steps[0]"],
    ),
    ("start step missing", _set(["start_step"], "nope"), "start_step", ["'nope'"]),
    (
        "unreachable step",
        _append({"id": "orphan", "type": "close", "message": "x"}),
        "steps[10]",
        ["'orphan'", "unreachable"],
    ),
    (
        "loop that never waits",
        _set(["steps", 6, "next"], "sales_open"),
        "steps[2]",
        ["'sales_open'", "'offline'", "never waits"],
    ),
    (
        "on_no_answer is not a handoff",
        _set(["steps", 8, "on_no_answer"], "bye"),
        "steps[8].on_no_answer",
        ["'ask'", "handoff"],
    ),
    (
        "max_attempts above 5",
        _set(["steps", 3, "max_attempts"], 6),
        "steps[3].max_attempts",
        ["'ask_email'"],
    ),
    ("unknown field kind", _set(["steps", 3, "field"], "fax"), "steps[3].field", ["'ask_email'"]),
    (
        "compare without a value",
        _set(["steps", 2, "rules"], [{"kind": "attribute", "attribute": "plan", "op": "equals"}]),
        "steps[2].rules[0]",
        ["'sales_open'", "needs a value"],
    ),
    (
        "two options with one value",
        _set(["steps", 1, "options", 1, "value"], "PRICING"),
        "steps[1]",
        ["'menu'", "same value"],
    ),
    ("unknown property", _set(["steps", 0, "txt"], "x"), "steps[0].txt", ["'greet'"]),
    ("text too long", _set(["steps", 0, "text"], "x" * 2001), "steps[0].text", ["'greet'"]),
    ("bad step id", _set(["steps", 9, "id"], "to support!"), "steps[9].id", ["'to support!'"]),
    ("no steps", _set(["steps"], []), "steps", ["non-empty"]),
    ("version zero", _set(["version"], 0), "version", []),
]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_an_invalid_flow_names_the_step(
    change: Callable[[dict[str, Any]], None], field: str, words: list[str]
) -> None:
    data = demo_flow_data()
    change(data)

    details = _fails(data)

    matching = [d for d in details if d["field"].startswith(field)]
    assert matching, details
    for word in words:
        assert any(word.lower() in d["message"].lower() for d in matching), (word, matching)
    assert all(set(d) == {"field", "message"} for d in details)


def test_a_menu_loop_without_an_exit_is_rejected_for_each_trapped_step() -> None:
    # Given a menu whose every option leads back to it and nothing ends the conversation
    data = {
        "id": "trap",
        "name": "Trap",
        "version": 1,
        "start_step": "menu",
        "steps": [
            {
                "id": "menu",
                "type": "buttons",
                "text": "Pick",
                "options": [{"label": "A", "next": "a"}, {"label": "B", "next": "menu"}],
            },
            {"id": "a", "type": "message", "text": "A it is", "next": "menu"},
        ],
    }

    details = _fails(data)

    assert [d["field"] for d in details] == ["steps[0]", "steps[1]"]
    assert "'menu'" in details[0]["message"]
    assert "without an exit" in details[0]["message"]


def test_a_loop_that_waits_and_can_exit_is_fine() -> None:
    data = demo_flow_data()
    # The ai_answer step may lead back to the menu: the loop waits for the visitor each lap.
    data["steps"][8]["next_on_answer"] = "menu"
    assert validate_flow(data).step("ask") is not None


def test_a_step_pointing_to_itself_without_waiting_is_a_loop() -> None:
    data = demo_flow_data()
    data["steps"][4]["next"] = "tag_lead"  # set_attribute → itself

    details = _fails(data)

    assert any(d["field"] == "steps[4]" and "never waits" in d["message"] for d in details)


def test_every_structural_error_is_reported_at_once() -> None:
    data = demo_flow_data()
    data["steps"][0]["type"] = "video"
    data["steps"][5]["message"] = ""

    fields = [d["field"] for d in _fails(data)]

    assert "steps[0].type" in fields
    assert "steps[5].message" in fields


@pytest.mark.parametrize("data", [[], "flow", None, 3])
def test_a_flow_must_be_an_object(data: Any) -> None:
    assert _fails(data) == [{"field": "body", "message": "a flow must be a JSON object"}]


def test_a_step_that_is_not_an_object_is_named_by_position() -> None:
    data = demo_flow_data()
    data["steps"].append("oops")

    assert _fails(data) == [{"field": "steps[10]", "message": "step 10: a step must be an object"}]


def test_validation_never_changes_the_input() -> None:
    data = demo_flow_data()
    before = copy.deepcopy(data)
    validate_flow(data)
    assert data == before
