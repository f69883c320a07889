"""End-to-end fixtures: `python -m local` (what `make dev` runs) started once per session on
free ports, with its own YOOSR_LOCAL_DIR, and stopped with SIGTERM at the end: `local_stack`
without a model, `local_stack_with_model` (started only when a test asks for it) with the
local OpenRouter stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local_stack import LocalStack, running_stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """What `make dev` runs, without a model (the bot answers from the knowledge base)."""
    with running_stack(tmp_path_factory, "yoosr-local-e2e", {"YOOSR_LOCAL_MODEL": "off"}) as stack:
        yield stack


@pytest.fixture(scope="session")
def local_stack_with_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A second stack whose bot asks the local OpenRouter stand-in (YOOSR_LOCAL_MODEL=local)."""
    with running_stack(
        tmp_path_factory, "yoosr-local-e2e-model", {"YOOSR_LOCAL_MODEL": "local"}
    ) as stack:
        yield stack
