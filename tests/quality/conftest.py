"""Quality suites (issue 8): one moto for the whole session, figures printed at the end and
written to .quality/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import moto_stack
from tests.quality import figures


@pytest.fixture(scope="session", autouse=True)
def session_moto() -> Iterator[None]:
    """The outermost moto, as the integration suite's session stack is under `make test`: each
    suite's own stack nests inside it, so a suite ending never resets moto under a function
    module that is still imported (its settings hold the ARNs of the resources it was given)."""
    with moto_stack():
        yield


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = figures.summary_lines()
    if not lines:
        return
    terminalreporter.section("quality figures")
    for line in lines:
        terminalreporter.write_line(line)
    for path in figures.write_all():
        terminalreporter.write_line(f"written: {path}")
