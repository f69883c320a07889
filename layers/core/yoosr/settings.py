"""Typed settings per function, read from the environment once through a cached getter.

Resource names have no defaults: a function started without one fails at once, loudly.
"""

from __future__ import annotations

from functools import cache
from typing import TypeVar

from pydantic import Field
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


class DashboardSettings(BaseFunctionSettings):
    """What every dashboard function needs to verify Clerk tokens and find the workspace."""

    workspaces_table: str
    clerk_issuer: str
    clerk_jwks_url: str = ""
    clerk_pem_public_key: str = ""
    clerk_authorized_parties: str = ""
    # Clock skew tolerated on exp/nbf; the issue caps it at 5 s.
    token_leeway_seconds: int = Field(default=5, ge=0, le=5)
    max_body_bytes: int = 65_536

    @property
    def authorized_parties(self) -> list[str]:
        return [p.strip() for p in self.clerk_authorized_parties.split(",") if p.strip()]

    def __hash__(self) -> int:  # frozen settings key the verifier cache
        return hash(self.model_dump_json())


class WorkspaceAdminSettings(DashboardSettings):
    max_active_widget_keys: int = 20


class AgentRoutingSettings(DashboardSettings):
    conversations_table: str
    visitors_table: str
    # Dashboards re-send their status about every 30 s; three missed beats mean offline.
    presence_ttl_seconds: int = 90


class InboxEventsSettings(BaseFunctionSettings):
    conversations_table: str


class AgentRoutingEventsSettings(BaseFunctionSettings):
    workspaces_table: str
    conversations_table: str


class AgentRoutingSweepSettings(BaseFunctionSettings):
    workspaces_table: str
    conversations_table: str
    # A lapsed heartbeat gets this long to come back before the agent's conversations are
    # given back to the queue (an explicit "offline" gives them back at the next sweep).
    giveback_grace_seconds: int = 60
    # Stop starting new work this long before the Lambda timeout.
    time_reserve_seconds: int = 8


SettingsT = TypeVar("SettingsT", bound=BaseFunctionSettings)


@cache
def get_settings(kind: type[SettingsT]) -> SettingsT:
    return kind()
