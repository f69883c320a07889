"""Lambda event filtering (EventBridge pattern syntax) for stream and queue event sources.

A record is kept when any filter matches it. Supported: exact values (strings, numbers, booleans,
null), prefix, suffix, equals-ignore-case, anything-but (values, prefix, suffix), numeric ranges,
exists, wildcard and $or.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
from collections.abc import Mapping, Sequence
from typing import Any

_MISSING = object()


def matches_any(patterns: Sequence[Mapping[str, Any]], event: Mapping[str, Any]) -> bool:
    """True when there are no patterns or at least one matches."""
    return not patterns or any(matches(p, event) for p in patterns)


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """True when `event` matches one EventBridge-style pattern."""
    if not isinstance(event, Mapping):
        return False
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in expected):
                return False
            continue
        actual = event.get(key, _MISSING)
        if isinstance(expected, Mapping):
            if actual is _MISSING or not matches(expected, actual):
                return False
        elif isinstance(expected, list):
            if not _field_matches(expected, actual):
                return False
        else:
            raise ValueError(f"pattern value for {key!r} must be an object or a list")
    return True


def sqs_filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS record as Lambda filters it: a JSON body is matched as parsed JSON."""
    view = dict(record)
    with contextlib.suppress(ValueError):
        view["body"] = json.loads(record.get("body", ""))
    return view


def _field_matches(matchers: list[Any], actual: Any) -> bool:
    for matcher in matchers:
        if isinstance(matcher, Mapping) and "exists" in matcher:
            if bool(matcher["exists"]) == (actual is not _MISSING):
                return True
            continue
        if actual is _MISSING:
            continue
        values = actual if isinstance(actual, list) else [actual]
        if any(_value_matches(matcher, value) for value in values):
            return True
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(expected: Any, value: Any) -> bool:
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    return bool(expected == value)


def _value_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, Mapping):
        return _equal(matcher, value)
    (operator, argument), *rest = matcher.items()
    if rest:
        raise ValueError(f"one operator per matcher, got {list(matcher)}")
    if operator == "prefix":
        if isinstance(argument, Mapping):
            prefix = str(argument.get("equals-ignore-case", ""))
            return isinstance(value, str) and value.lower().startswith(prefix.lower())
        return isinstance(value, str) and value.startswith(argument)
    if operator == "suffix":
        if isinstance(argument, Mapping):
            suffix = str(argument.get("equals-ignore-case", ""))
            return isinstance(value, str) and value.lower().endswith(suffix.lower())
        return isinstance(value, str) and value.endswith(argument)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(argument).lower()
    if operator == "wildcard":
        return isinstance(value, str) and fnmatch.fnmatchcase(value, str(argument))
    if operator == "anything-but":
        if isinstance(argument, Mapping):
            return not _value_matches(argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_equal(e, value) for e in excluded)
    if operator == "numeric":
        return _is_number(value) and _numeric(argument, float(value))
    raise ValueError(f"filter operator {operator!r} is not supported locally")


def _numeric(conditions: list[Any], value: float) -> bool:
    comparisons = {
        "=": value.__eq__,
        "<": value.__lt__,
        "<=": value.__le__,
        ">": value.__gt__,
        ">=": value.__ge__,
    }
    # Pairs of (operator, bound); "value < bound" is asked as value.__lt__(bound).
    for operator, bound in zip(conditions[::2], conditions[1::2], strict=True):
        if operator not in comparisons or not comparisons[operator](float(bound)):
            return False
    return True
