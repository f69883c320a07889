"""Fixed log-scale histograms of durations, small enough to live in a rollup item.

Bucket 0 holds values below 1 (underflow, including 0 and clock-skew negatives). Bucket i for
1 ≤ i ≤ LAST_BUCKET holds [GAMMA**(i-1), GAMMA**i). OVERFLOW_BUCKET holds everything from
GAMMA**LAST_BUCKET (just over 30 days in seconds) up.

A bucket's estimate is 2·GAMMA**i / (GAMMA + 1): for any value inside it the estimate is
within RELATIVE_ERROR (5 %) of the value. A quantile is the estimate of the bucket holding the
observation of rank ceil(q·n) (nearest rank), so it carries the same bound. Underflow is
reported as 0 (absolute error below one unit), overflow as the overflow bound (a lower bound).

The boundaries are fixed forever: every stored rollup was counted with them, and histograms
from different days merge by adding counts. Changing ALPHA or the range means a new metric
name and a backfill, never an edit here.

The unit is the caller's: durations are seconds (1 s … 30 days), model latency milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALPHA = 0.05
RELATIVE_ERROR = ALPHA
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
MAX_VALUE = 30 * 86_400
"""The range the buckets must cover (in the unit observed); values from GAMMA**LAST_BUCKET on
overflow."""
UNDERFLOW_BUCKET = 0
LAST_BUCKET = math.ceil(math.log(MAX_VALUE) / _LOG_GAMMA)
OVERFLOW_BUCKET = LAST_BUCKET + 1


def lower_bound(index: int) -> float:
    """The smallest value bucket `index` holds (0 for the underflow bucket)."""
    if index <= UNDERFLOW_BUCKET:
        return 0.0
    return float(GAMMA ** (index - 1))


def upper_bound(index: int) -> float:
    """The first value past bucket `index` (infinity for the overflow bucket)."""
    if index >= OVERFLOW_BUCKET:
        return math.inf
    return float(GAMMA**index)


def bucket_of(value: float) -> int:
    if not value >= 1:  # also NaN: a broken duration must not land in a real bucket
        return UNDERFLOW_BUCKET
    if value >= lower_bound(OVERFLOW_BUCKET):
        return OVERFLOW_BUCKET
    index = min(max(int(math.log(value) / _LOG_GAMMA) + 1, 1), LAST_BUCKET)
    # log() may round across a boundary; the bounds below are the ones estimates use.
    while index > 1 and value < lower_bound(index):
        index -= 1
    while index < LAST_BUCKET and value >= upper_bound(index):
        index += 1
    return index


def nearest_rank(q: float, n: int) -> int:
    """The 1-based rank of the q-quantile among n sorted observations: ceil(q·n), at least 1
    (the median of 4 is the 2nd, of 5 the 3rd; p90 of 10 is the 9th)."""
    # The epsilon keeps 0.9 * 10 = 9.000000000000002 at rank 9.
    return min(n, max(1, math.ceil(q * n - 1e-9)))


def estimate(index: int) -> float:
    """The value reported for bucket `index`."""
    if index <= UNDERFLOW_BUCKET:
        return 0.0
    if index >= OVERFLOW_BUCKET:
        return lower_bound(OVERFLOW_BUCKET)
    return 2 * upper_bound(index) / (GAMMA + 1)


@dataclass
class Histogram:
    """Sparse counts: bucket index → observations."""

    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Iterable[float]) -> Histogram:
        histogram = cls()
        for value in values:
            histogram.add(value)
        return histogram

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, value: float, count: int = 1) -> None:
        self.add_to_bucket(bucket_of(value), count)

    def add_to_bucket(self, index: int, count: int) -> None:
        if not UNDERFLOW_BUCKET <= index <= OVERFLOW_BUCKET:
            raise ValueError(f"no bucket {index}")
        updated = self.counts.get(index, 0) + count
        if updated:
            self.counts[index] = updated
        else:
            self.counts.pop(index, None)

    def merge(self, other: Histogram) -> None:
        for index, count in other.counts.items():
            self.add_to_bucket(index, count)

    def quantile(self, q: float) -> float | None:
        """The estimate of the observation of rank ceil(q·n); None when empty."""
        if not 0 < q <= 1:
            raise ValueError("q must be in (0, 1]")
        total = self.total
        if total <= 0:
            return None
        rank = nearest_rank(q, total)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return estimate(index)
        return estimate(max(self.counts))

    def to_item(self) -> dict[str, int]:
        """A DynamoDB map: bucket numbers as string keys."""
        return {str(index): count for index, count in sorted(self.counts.items()) if count}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Histogram:
        histogram = cls()
        for index, count in item.items():
            histogram.add_to_bucket(int(index), int(count))
        return histogram
