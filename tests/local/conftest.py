"""Fixtures for testing the local stack itself against tests/local/fixtures/template.yaml."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.config import Config

from local.stack import Stack, StackConfig

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = FIXTURES / "template.yaml"
T = TypeVar("T")


@pytest.fixture(scope="module")
def fixture_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The fixture template running on free ports, one per test module."""
    local_dir = tmp_path_factory.mktemp("yoosr-local")
    console = (local_dir / "console.log").open("w", encoding="utf-8")
    config = StackConfig(
        template_path=TEMPLATE,
        local_dir=local_dir,
        port=0,
        moto_port=0,
        moto_port_fallback=False,
        concurrency=3,
        stack_name="fixture",
        seed=False,
        retry_delay_s=0.05,
        console=console,
    )
    with Stack(config) as stack:
        yield stack
    console.close()


def client(stack: Stack, service: str, config: Config | None = None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def wait_for(probe: Callable[[], T], timeout_s: float = 15.0, every_s: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s (last value {value!r})")
        time.sleep(every_s)
