"""The fixed log-scale histogram: bucket layout, merge, and quantiles within the stated error
against exact quantiles of random data."""

from __future__ import annotations

import math
import random

import pytest

from yoosr.analytics import histogram
from yoosr.analytics.histogram import (
    LAST_BUCKET,
    MAX_VALUE,
    OVERFLOW_BUCKET,
    RELATIVE_ERROR,
    UNDERFLOW_BUCKET,
    Histogram,
    bucket_of,
    estimate,
    lower_bound,
    nearest_rank,
    upper_bound,
)


def test_the_layout_is_fixed() -> None:
    # Stored rollups depend on these numbers: changing them corrupts every histogram.
    assert RELATIVE_ERROR == 0.05
    assert math.isclose(histogram.GAMMA, 1.05 / 0.95)
    assert LAST_BUCKET == 148
    assert OVERFLOW_BUCKET == 149
    assert bucket_of(1) == 1
    assert bucket_of(60) == 41
    assert bucket_of(3600) == 82
    assert bucket_of(86_400) == 114


def test_buckets_cover_one_second_to_thirty_days() -> None:
    assert lower_bound(1) == 1
    assert upper_bound(LAST_BUCKET) > MAX_VALUE
    assert upper_bound(LAST_BUCKET - 1) < MAX_VALUE
    assert bucket_of(MAX_VALUE) == LAST_BUCKET
    assert bucket_of(upper_bound(LAST_BUCKET)) == OVERFLOW_BUCKET
    assert bucket_of(10**12) == OVERFLOW_BUCKET


@pytest.mark.parametrize("value", [0, 0.4, 0.999, -5, math.nan])
def test_below_one_is_underflow_reported_as_zero(value: float) -> None:
    assert bucket_of(value) == UNDERFLOW_BUCKET
    assert estimate(UNDERFLOW_BUCKET) == 0


def test_bucket_edges_and_estimates() -> None:
    for index in range(1, OVERFLOW_BUCKET):
        low, high = lower_bound(index), upper_bound(index)
        assert bucket_of(low) == index
        assert bucket_of(math.nextafter(high, 0)) == index
        assert bucket_of(high) == index + 1
        # The estimate is within the error of both edges of its bucket.
        assert abs(estimate(index) - low) <= RELATIVE_ERROR * low * (1 + 1e-12)
        assert abs(estimate(index) - high) <= RELATIVE_ERROR * high * (1 + 1e-12)


def test_every_value_is_estimated_within_the_error() -> None:
    rng = random.Random(1)
    for _ in range(20_000):
        value = math.exp(rng.uniform(0, math.log(MAX_VALUE)))
        assert abs(estimate(bucket_of(value)) - value) <= RELATIVE_ERROR * value * (1 + 1e-12)


@pytest.mark.parametrize(
    ("q", "n", "rank"),
    [(0.5, 1, 1), (0.5, 4, 2), (0.5, 5, 3), (0.9, 10, 9), (0.9, 11, 10), (0.9, 1, 1), (1, 7, 7)],
)
def test_nearest_rank(q: float, n: int, rank: int) -> None:
    assert nearest_rank(q, n) == rank


def exact_quantile(values: list[float], q: float) -> float:
    return sorted(values)[nearest_rank(q, len(values)) - 1]


def sample(rng: random.Random, kind: str, n: int) -> list[float]:
    if kind == "lognormal":  # response times: most in minutes, a long tail
        return [rng.lognormvariate(5, 1.5) for _ in range(n)]
    if kind == "uniform":
        return [rng.uniform(1, 86_400) for _ in range(n)]
    if kind == "integers":  # whole seconds, many ties
        return [float(rng.randint(1, 120)) for _ in range(n)]
    # bimodal: the bot's seconds and the humans' hours
    return [rng.uniform(1, 20) if rng.random() < 0.5 else rng.uniform(3600, 7200) for _ in range(n)]


@pytest.mark.parametrize("kind", ["lognormal", "uniform", "integers", "bimodal"])
@pytest.mark.parametrize("seed", range(25))
def test_quantiles_within_the_stated_error_of_exact_ones(kind: str, seed: int) -> None:
    rng = random.Random(seed)
    values = sample(rng, kind, rng.randint(1, 3000))
    values = [min(v, MAX_VALUE) for v in values]
    h = Histogram.of(values)
    assert h.total == len(values)
    for q in (0.5, 0.9, 0.99, 1.0):
        exact = exact_quantile(values, q)
        found = h.quantile(q)
        assert found is not None
        if exact < 1:
            assert found == 0
        else:
            assert abs(found - exact) <= RELATIVE_ERROR * exact * (1 + 1e-12), (q, exact, found)


def test_merging_equals_counting_together() -> None:
    rng = random.Random(3)
    days = [[rng.lognormvariate(6, 1) for _ in range(rng.randint(0, 200))] for _ in range(30)]
    merged = Histogram()
    for values in days:
        merged.merge(Histogram.of(values))
    together = Histogram.of(v for values in days for v in values)
    assert merged == together
    assert merged.quantile(0.5) == together.quantile(0.5)


def test_empty_histogram_has_no_quantile() -> None:
    assert Histogram().quantile(0.5) is None
    assert Histogram().total == 0
    with pytest.raises(ValueError, match="q must be"):
        Histogram.of([1]).quantile(0)


def test_overflow_reports_its_lower_bound() -> None:
    h = Histogram.of([40 * 86_400])
    assert h.quantile(0.5) == lower_bound(OVERFLOW_BUCKET)


def test_item_form_is_sparse_and_round_trips() -> None:
    h = Histogram.of([0, 5, 5, 3600, 10**9])
    item = h.to_item()
    assert item == {"0": 1, str(bucket_of(5)): 2, str(bucket_of(3600)): 1, "149": 1}
    assert Histogram.from_item(item) == h
    with pytest.raises(ValueError, match="no bucket"):
        Histogram.from_item({"150": 1})
