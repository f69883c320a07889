"""QUALITY.md is written from the suites' figures; a missed bound or a missing suite fails."""

from __future__ import annotations

from scripts.quality_report import render
from tests.quality.figures import SUITES


def _document(suite: str, ok: bool | None) -> dict[str, object]:
    return {
        "suite": suite,
        "title": SUITES[suite],
        "variant": "long",
        "measured_at": "2026-11-30T03:00:00Z",
        "commit": "abc1234",
        "figures": [{"name": "lost", "value": 0 if ok else 3, "bound": "0", "ok": ok, "note": ""}],
    }


def test_every_suite_meeting_its_bounds_gives_no_problem() -> None:
    text, problems = render({suite: _document(suite, True) for suite in SUITES})
    assert problems == []
    assert text.count("| lost | 0 | 0 | meets bound |") == len(SUITES)
    assert "abc1234" in text


def test_a_missed_bound_and_a_missing_suite_are_problems() -> None:
    documents = {suite: _document(suite, True) for suite in SUITES}
    documents["load"] = _document("load", False)
    del documents["faults"]
    text, problems = render(documents)
    assert problems == ["load: lost = 3", "faults: no figures recorded"]
    assert "**MISSES BOUND**" in text
    assert "Not run: no figures recorded." in text


def test_a_figure_the_suite_could_not_measure_is_said_so_at_the_top() -> None:
    documents = {suite: _document(suite, True) for suite in SUITES}
    documents["scanners"]["figures"].append(  # type: ignore[attr-defined]
        {"name": "pip-audit", "value": "not run: no service", "ok": None, "note": "404 here"}
    )
    text, problems = render(documents)
    assert problems == []
    assert "- Not measured (the suite says why): 6. Infrastructure and code scanners: " in text
    assert "| pip-audit | not run: no service |  | **not measured** | 404 here |" in text
    assert "on commit abc1234." in text
