"""Quality suites (issue 8): figures are printed at the end and written to .quality/."""

from __future__ import annotations

from typing import Any

from tests.quality import figures


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = figures.summary_lines()
    if not lines:
        return
    terminalreporter.section("quality figures")
    for line in lines:
        terminalreporter.write_line(line)
    for path in figures.write_all():
        terminalreporter.write_line(f"written: {path}")
