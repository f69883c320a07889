"""One boto3 session and one client per service per process (clients are thread-safe)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Fail fast inside a 10-second Lambda: short timeouts, a few retries with backoff.
_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)


@cache
def session() -> boto3.Session:
    return boto3.Session()


@cache
def client(service: str) -> Any:
    return session().client(service, config=_CONFIG)  # type: ignore[call-overload]
