"""Rollups: counters and duration histograms of one workspace for one local day or hour.

In memory a `Rollup` holds every series of its period. In DynamoDB it is split into one item
per metric (so no item nears the 400 KB limit however many agents a workspace has), whose
numeric attributes are all added with `ADD` and never read-modify-written:

    pk = {ws}#ROLLUP    sk = D#{YYYY-MM-DD}#{metric}     (a local day)
                        sk = H#{YYYY-MM-DD}T{HH}#{metric}  (a local hour)
    attribute  c#{dimensions}            a counter
    attribute  h#{dimensions}#{bucket}   a histogram bucket (see histogram.py)

`{dimensions}` is the series key without its metric (`channel=widget|department_id=-`).
Nothing in a rollup is personal data or text, so erasure leaves rollups untouched.

A range's rollups are read with one Query per granularity (`sort_key_range`): O(days), never
O(messages).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from yoosr.analytics import series
from yoosr.analytics.events import Increment
from yoosr.analytics.histogram import Histogram

Granularity = Literal["day", "hour"]
COUNTER_PREFIX = "c#"
HISTOGRAM_PREFIX = "h#"


def day_period(day: str) -> str:
    return day


def hour_period(day: str, hour: int) -> str:
    return f"{day}T{hour:02d}"


def granularity_of(period: str) -> Granularity:
    return "hour" if "T" in period else "day"


def partition_key(workspace_id: str) -> str:
    return f"{workspace_id}#ROLLUP"


def sort_key(period: str, metric: str) -> str:
    prefix = "H" if granularity_of(period) == "hour" else "D"
    return f"{prefix}#{period}#{metric}"


def sort_key_range(first_period: str, last_period: str) -> tuple[str, str]:
    """Inclusive bounds for `sk BETWEEN :low AND :high` covering every metric of every period
    from `first_period` to `last_period` (same granularity)."""
    prefix = "H" if granularity_of(first_period) == "hour" else "D"
    # "~" sorts after every metric name character.
    return f"{prefix}#{first_period}#", f"{prefix}#{last_period}#~"


def parse_sort_key(sk: str) -> tuple[str, str]:
    """(period, metric) of a rollup item's sort key."""
    _, period, metric = sk.split("#", 2)
    return period, metric


def _dims_part(series_key: str) -> str:
    return series_key.partition("|")[2]


@dataclass
class Rollup:
    workspace_id: str
    period: str
    counters: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)

    @property
    def granularity(self) -> Granularity:
        return granularity_of(self.period)

    def apply(self, increment: Increment) -> None:
        key = increment.series
        if increment.observation is not None:
            self.histograms.setdefault(key, Histogram()).add(increment.observation)
        else:
            self.counters[key] = self.counters.get(key, 0) + increment.amount

    def merge(self, other: Rollup) -> None:
        for key, value in other.counters.items():
            self.counters[key] = self.counters.get(key, 0) + value
        for key, histogram in other.histograms.items():
            self.histograms.setdefault(key, Histogram()).merge(histogram)

    def counter(self, metric: str, **match: str) -> int:
        """The sum of a counter's series whose dimensions match."""
        return sum(value for key, value in self.counters.items() if _matches(key, metric, match))

    def histogram(self, metric: str, **match: str) -> Histogram:
        merged = Histogram()
        for key, histogram in self.histograms.items():
            if _matches(key, metric, match):
                merged.merge(histogram)
        return merged

    def counters_by(self, metric: str, dimension: str, **match: str) -> dict[str, int]:
        """A counter summed per value of one dimension (series matching `match` only)."""
        grouped: dict[str, int] = {}
        for key, value in self.counters.items():
            if _matches(key, metric, match):
                group = series.parse_series(key)[1].get(dimension, series.NONE)
                grouped[group] = grouped.get(group, 0) + value
        return grouped

    def histograms_by(self, metric: str, dimension: str) -> dict[str, Histogram]:
        """A histogram merged per value of one dimension."""
        grouped: dict[str, Histogram] = {}
        for key, histogram in self.histograms.items():
            if _matches(key, metric, {}):
                group = series.parse_series(key)[1].get(dimension, series.NONE)
                grouped.setdefault(group, Histogram()).merge(histogram)
        return grouped

    def for_department(self, department_id: str) -> Rollup:
        """Only the series of this department; metrics without a department dimension (AI
        usage, messages, privacy) are workspace-wide and kept whole."""

        def keep(key: str) -> bool:
            dims = series.parse_series(key)[1]
            return dims.get("department_id", department_id) == department_id

        return Rollup(
            self.workspace_id,
            self.period,
            {key: value for key, value in self.counters.items() if keep(key)},
            {key: value for key, value in self.histograms.items() if keep(key)},
        )

    # -------------------------------------------------------------- storage form

    def to_items(self) -> dict[str, dict[str, int]]:
        """metric → the numeric attributes of its item."""
        items: dict[str, dict[str, int]] = {}
        for key, value in self.counters.items():
            if value:
                items.setdefault(key.partition("|")[0], {})[COUNTER_PREFIX + _dims_part(key)] = (
                    value
                )
        for key, histogram in self.histograms.items():
            attributes = items.setdefault(key.partition("|")[0], {})
            for bucket, count in histogram.to_item().items():
                attributes[f"{HISTOGRAM_PREFIX}{_dims_part(key)}#{bucket}"] = count
        return items

    @classmethod
    def from_items(
        cls, workspace_id: str, period: str, items: Mapping[str, Mapping[str, Any]]
    ) -> Rollup:
        """The inverse of `to_items`; other attributes (keys, TTL) are ignored."""
        rollup = cls(workspace_id, period)
        for metric, attributes in items.items():
            for name, value in attributes.items():
                if name.startswith(COUNTER_PREFIX):
                    key = _join(metric, name[len(COUNTER_PREFIX) :])
                    rollup.counters[key] = rollup.counters.get(key, 0) + int(value)
                elif name.startswith(HISTOGRAM_PREFIX):
                    dims, _, bucket = name[len(HISTOGRAM_PREFIX) :].rpartition("#")
                    rollup.histograms.setdefault(_join(metric, dims), Histogram()).add_to_bucket(
                        int(bucket), int(value)
                    )
        return rollup


def _join(metric: str, dims: str) -> str:
    return f"{metric}|{dims}" if dims else metric


def _matches(key: str, metric: str, match: Mapping[str, str]) -> bool:
    if key != metric and not key.startswith(metric + "|"):
        return False
    if not match:
        return True
    dims = series.parse_series(key)[1]
    return all(dims.get(name) == value for name, value in match.items())


def merged(rollups: Iterable[Rollup], workspace_id: str, period: str) -> Rollup:
    total = Rollup(workspace_id, period)
    for rollup in rollups:
        total.merge(rollup)
    return total


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class RollupUpdate:
    """One `UpdateItem … ADD` on one rollup item."""

    workspace_id: str
    period: str
    metric: str
    adds: dict[str, int]

    @property
    def key(self) -> tuple[str, str]:
        return partition_key(self.workspace_id), sort_key(self.period, self.metric)


def periods(increment: Increment) -> tuple[str, str]:
    """The day and the hour rollup an increment counts in."""
    return day_period(increment.day), hour_period(increment.day, increment.hour)


def updates(increments: Iterable[Increment]) -> list[RollupUpdate]:
    """The item updates that apply increments to their day and hour rollups, one per item."""
    scratch: dict[tuple[str, str], Rollup] = {}
    for increment in increments:
        for period in periods(increment):
            key = (increment.workspace_id, period)
            scratch.setdefault(key, Rollup(*key)).apply(increment)
    result: list[RollupUpdate] = []
    for (workspace_id, period), rollup in sorted(scratch.items()):
        for metric, adds in sorted(rollup.to_items().items()):
            result.append(RollupUpdate(workspace_id, period, metric, adds))
    return result


class RollupBook:
    """Rollups in memory, keyed by (workspace, period): for tests and for a backfill, which
    rebuilds a workspace's rollups and then writes them whole."""

    def __init__(self) -> None:
        self.rollups: dict[tuple[str, str], Rollup] = {}

    def apply(self, increments: Iterable[Increment], seen: set[str] | None = None) -> int:
        """Apply increments whose dedupe key is not in `seen` (then added to it); returns how
        many were applied. Without `seen`, everything is applied."""
        applied = 0
        for increment in increments:
            if seen is not None:
                if increment.dedupe_key in seen:
                    continue
                seen.add(increment.dedupe_key)
            for period in periods(increment):
                key = (increment.workspace_id, period)
                self.rollups.setdefault(key, Rollup(*key)).apply(increment)
            applied += 1
        return applied

    def read(self, workspace_id: str, granularity: Granularity) -> list[Rollup]:
        return [
            rollup
            for (ws, _), rollup in sorted(self.rollups.items())
            if ws == workspace_id and rollup.granularity == granularity
        ]
