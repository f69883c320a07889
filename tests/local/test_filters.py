"""Lambda event filtering with EventBridge pattern semantics."""

from __future__ import annotations

from typing import Any

import pytest

from local.filters import matches, matches_any, sqs_filter_view

RECORD: dict[str, Any] = {
    "eventName": "INSERT",
    "dynamodb": {
        "NewImage": {
            "item_type": {"S": "message"},
            "sender_type": {"S": "visitor"},
            "sku": {"S": "ABC-123"},
            "tags": {"SS": ["x", "y"]},
        },
        "SizeBytes": 120,
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["INSERT"]}, True),
        ({"eventName": ["MODIFY", "REMOVE"]}, False),
        ({"dynamodb": {"NewImage": {"item_type": {"S": ["message"]}}}}, True),
        ({"dynamodb": {"NewImage": {"item_type": {"S": ["note"]}}}}, False),
        ({"dynamodb": {"NewImage": {"sku": {"S": [{"prefix": "ABC-"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"sku": {"S": [{"prefix": "XYZ"}]}}}}, False),
        ({"dynamodb": {"NewImage": {"sku": {"S": [{"suffix": "-123"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"sku": {"S": [{"equals-ignore-case": "abc-123"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"sku": {"S": [{"wildcard": "ABC-*"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"deleted": [{"exists": False}]}}}, True),
        ({"dynamodb": {"NewImage": {"sku": [{"exists": False}]}}}, False),
        ({"dynamodb": {"NewImage": {"sku": [{"exists": True}]}}}, True),
        ({"dynamodb": {"NewImage": {"missing": {"S": ["x"]}}}}, False),
        ({"eventName": [{"anything-but": ["REMOVE"]}]}, True),
        ({"eventName": [{"anything-but": "INSERT"}]}, False),
        ({"eventName": [{"anything-but": {"prefix": "INS"}}]}, False),
        ({"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 120]}]}}, True),
        ({"dynamodb": {"SizeBytes": [{"numeric": ["<", 100]}]}}, False),
        ({"dynamodb": {"SizeBytes": [120.0]}}, True),
        # A list value matches when any element does.
        ({"dynamodb": {"NewImage": {"tags": {"SS": ["y"]}}}}, True),
        ({"$or": [{"eventName": ["MODIFY"]}, {"dynamodb": {"SizeBytes": [120]}}]}, True),
        ({"$or": [{"eventName": ["MODIFY"]}, {"dynamodb": {"SizeBytes": [1]}}]}, False),
        # Every field of a pattern must match.
        (
            {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sender_type": {"S": ["agent"]}}}},
            False,
        ),
    ],
)
def test_pattern(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, RECORD) is expected


def test_numbers_do_not_match_strings_and_booleans_are_not_numbers() -> None:
    assert not matches({"n": [1]}, {"n": "1"})
    assert not matches({"n": [1]}, {"n": True})
    assert matches({"n": [True]}, {"n": True})
    assert matches({"n": [None]}, {"n": None})


def test_no_patterns_keep_everything_and_any_pattern_may_match() -> None:
    assert matches_any([], RECORD)
    assert matches_any([{"eventName": ["MODIFY"]}, {"eventName": ["INSERT"]}], RECORD)
    assert not matches_any([{"eventName": ["MODIFY"]}], RECORD)


def test_sqs_body_is_matched_as_json_when_it_is_json() -> None:
    json_record = sqs_filter_view({"body": '{"kind": "order"}'})
    assert matches({"body": {"kind": ["order"]}}, json_record)
    text_record = sqs_filter_view({"body": "plain text"})
    assert matches({"body": [{"prefix": "plain"}]}, text_record)


def test_unsupported_operator_is_reported() -> None:
    with pytest.raises(ValueError, match="cidr"):
        matches({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.1"})
