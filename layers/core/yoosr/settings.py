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


class BotReplyEventsSettings(BaseFunctionSettings):
    """The bot's stream consumer: flows, knowledge, the model and its budget."""

    workspaces_table: str
    conversations_table: str
    visitors_table: str
    ephemeral_table: str
    subject_hash_key_secret: str
    secret_max_age_seconds: int = 300
    # SSM SecureString parameter holding the OpenRouter API key; empty: no model (the bot
    # answers from the knowledge base when it is confident and hands off otherwise).
    openrouter_api_key_parameter: str = ""
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    # Attribution headers OpenRouter shows in its rankings (HTTP-Referer, X-Title).
    openrouter_app_url: str = "https://yoosr.example"
    openrouter_app_title: str = "Yoosr"
    ai_default_model: str = "openai/gpt-4o-mini"
    ai_fallback_models: str = ""
    ai_daily_token_budget: int = 200_000
    ai_max_tokens: int = Field(default=400, ge=16, le=4_000)
    # Well under the function's 30 s timeout: a failed call still leaves time to hand off.
    ai_timeout_seconds: float = Field(default=10.0, gt=0, le=20)
    # Visitor messages sent within this many seconds of each other get one reply.
    burst_seconds: float = Field(default=2.0, ge=0, le=5)
    # Recent messages read per reply (the burst plus the model's context).
    transcript_messages: int = Field(default=20, ge=1, le=100)

    @property
    def fallback_models(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.ai_fallback_models.split(",") if m.strip())


class BotAdminSettings(DashboardSettings):
    """The bot's dashboard API (BotReplyFunction): flows, knowledge base, preview."""

    # A flow of 200 steps with long texts fits; the item stays under DynamoDB's 400 KB.
    max_body_bytes: int = 262_144
    max_flows: int = Field(default=20, ge=1, le=100)
    max_knowledge_entries: int = Field(default=500, ge=1, le=2_000)


SettingsT = TypeVar("SettingsT", bound=BaseFunctionSettings)


@cache
def get_settings(kind: type[SettingsT]) -> SettingsT:
    return kind()


# ---------------------------------------------------------------- privacy (issue 5)


class PrivacySettings(DashboardSettings):
    """The privacy dashboard API (PrivacyFunction): requests, decisions, downloads, workspace
    deletion and deleting one conversation."""

    conversations_table: str
    privacy_requests_table: str
    privacy_exports_bucket: str
    privacy_jobs_queue_url: str
    subject_hash_key_secret: str
    secret_max_age_seconds: int = 300
    # Presigned download URLs live this long (the issue caps them at 15 minutes).
    download_url_seconds: int = Field(default=300, ge=30, le=900)


class PrivacyWidgetSettings(WidgetIngestSettings):
    """The visitor's privacy routes (PrivacyWidgetFunction): the widget's credentials, plus
    the privacy resources and the one-time-code email."""

    privacy_requests_table: str
    privacy_exports_bucket: str
    privacy_jobs_queue_url: str
    privacy_email_from: str
    download_url_seconds: int = Field(default=300, ge=30, le=900)
    # Per visitor and per IP: requests, code entries and resends, per hour.
    rate_privacy_window_seconds: int = 3_600
    rate_privacy_visitor_writes: int = 20
    rate_privacy_ip_writes: int = 60
    # Codes sent to one address per day, whoever asks (no mail bombing through the widget).
    rate_privacy_email_sends: int = 5


class PrivacyWorkerSettings(BaseFunctionSettings):
    """The privacy job worker (PrivacyWorkerFunction)."""

    workspaces_table: str
    conversations_table: str
    visitors_table: str
    ephemeral_table: str
    privacy_requests_table: str
    privacy_exports_bucket: str
    privacy_jobs_queue_url: str
    subject_hash_key_secret: str
    secret_max_age_seconds: int = 300
    # Items read per page of a task (a DynamoDB page is at most 1 MB anyway).
    page_size: int = Field(default=500, ge=25, le=1_000)
    # Where the export's JSON is spooled while the zip is written (Lambda's /tmp).
    spool_dir: str = "/tmp"  # noqa: S108  # nosec B108  # Lambda's only writable directory


class PrivacyFailuresSettings(BaseFunctionSettings):
    privacy_requests_table: str


class PrivacyScheduleSettings(BaseFunctionSettings):
    privacy_requests_table: str
    privacy_jobs_queue_url: str
    # Stop starting new work this long before the Lambda timeout; the next day continues.
    time_reserve_seconds: int = 15
    # A queued request nobody started for this long is enqueued again.
    stalled_after_seconds: int = 900
    # The retention sweep (yoosr.privacy.retention): conversations past their TTL that
    # DynamoDB has not removed yet, at most this many a run (the next run continues).
    conversations_table: str
    retention_sweep_max_conversations: int = Field(default=2_000, ge=1, le=100_000)


# ---------------------------------------------------------------- analytics (issue 6)


class AnalyticsSettings(DashboardSettings):
    """The analytics dashboard API (AnalyticsFunction): reads rollups only."""

    analytics_table: str


class AnalyticsEventsSettings(BaseFunctionSettings):
    """The analytics consumer of the Conversations stream (AnalyticsEventsFunction)."""

    workspaces_table: str
    analytics_table: str
    # A workspace's time zone is read at most this often per container.
    timezone_cache_seconds: int = Field(default=300, ge=0, le=3_600)
    # Longer than a stream record can live (24 h) plus retries and a replay: redelivery
    # always finds the marker.
    dedupe_marker_seconds: int = Field(default=3 * 86_400, ge=3 * 86_400)
