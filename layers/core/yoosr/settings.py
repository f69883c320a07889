"""Typed settings per function, read from the environment once through a cached getter.

Resource names have no defaults: a function started without one fails at once, loudly.
"""

from __future__ import annotations

from functools import cache
from typing import TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict


class BaseFunctionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YOOSR_", extra="ignore", frozen=True)

    stage: str = "dev"


class WidgetIngestSettings(BaseFunctionSettings):
    workspaces_table: str
    conversations_table: str
    visitors_table: str
    ephemeral_table: str
    subject_hash_key_secret: str
    secret_max_age_seconds: int = 300

    # Limits: every one is explicit, documented in the OpenAPI schema and tested.
    max_body_bytes: int = 32_768
    session_ttl_hours: int = 24 * 7
    rate_window_seconds: int = 60
    rate_session_writes: int = 30
    rate_session_reads: int = 120
    rate_ip_writes: int = 60
    rate_workspace_writes: int = 3_000


class InboxEventsSettings(BaseFunctionSettings):
    conversations_table: str


SettingsT = TypeVar("SettingsT", bound=BaseFunctionSettings)


@cache
def get_settings(kind: type[SettingsT]) -> SettingsT:
    return kind()
