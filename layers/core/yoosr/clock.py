"""The one source of the current time, so tests can freeze it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], float] = time.time


def epoch() -> int:
    """Current time as whole epoch seconds (the unit DynamoDB TTL uses)."""
    return int(_now())


def epoch_float() -> float:
    return _now()


def now() -> datetime:
    return datetime.fromtimestamp(_now(), tz=UTC)


def iso(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with millisecond precision and a `Z` suffix."""
    moment = moment or now()
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_from_epoch(seconds: float) -> str:
    return iso(datetime.fromtimestamp(seconds, tz=UTC))


def freeze(source: Callable[[], float]) -> None:
    """Replace the time source (tests only)."""
    global _now  # noqa: PLW0603 - the clock is process-wide by design
    _now = source


def unfreeze() -> None:
    global _now  # noqa: PLW0603
    _now = time.time
