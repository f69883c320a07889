"""Dashboard test support: one development Clerk issuer for every integration suite, the
agent_routing handler configured to trust it, and a scripted organization (admin + agent).

Use `dev_issuer()` for every dashboard token in a test process: the functions read their
settings once per process, so two suites minting with different keys would reject each
other's tokens.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from local.clerk import DevIssuer
from local.resources import function_environment
from local.template import load_template
from tests.support import ROOT, HttpHandlerClient, Response, load_function
from yoosr import ids
from yoosr.settings import AgentRoutingSettings, get_settings
from yoosr.store import ddb

ISSUER = "https://clerk.yoosr.test"
DASHBOARD_ORIGIN = "https://app.yoosr.test"


@cache
def dev_issuer() -> DevIssuer:
    return DevIssuer.generate(ISSUER)


def configure_dashboard_env(stack: Any, function_logical_id: str) -> None:
    """The function's template environment, trusting the test issuer by PEM (no network)."""
    template = load_template(ROOT / "template.yaml")
    env = function_environment(template, function_logical_id, stack.resources)
    env.pop("POWERTOOLS_SERVICE_NAME", None)
    env.update(
        YOOSR_CLERK_ISSUER=ISSUER,
        YOOSR_CLERK_PEM_PUBLIC_KEY=dev_issuer().public_pem,
        YOOSR_CLERK_JWKS_URL="",
        YOOSR_CLERK_AUTHORIZED_PARTIES="",
    )
    os.environ.update(env)


def _agent_routing_handler() -> Any:
    try:
        return load_function("agent_routing").lambda_handler
    except ModuleNotFoundError as error:
        # Until the inbox routes exist, serve the team router alone on the same app factory.
        if error.name != "agent_routing_inbox":
            raise
        sys.modules.pop("yoosr_function_agent_routing", None)
    from agent_routing_team import router  # type: ignore[import-not-found]

    from yoosr.http import create_app, lambda_handler_for

    settings = get_settings(AgentRoutingSettings)
    app = create_app("agent routing (team only)", "test app", settings.max_body_bytes)
    app.include_router(router)
    return lambda_handler_for(app)


@cache
def _routing_client(stack_id: int) -> HttpHandlerClient:
    return HttpHandlerClient(_agent_routing_handler())


def agent_routing_client(stack: Any) -> HttpHandlerClient:
    configure_dashboard_env(stack, "AgentRoutingFunction")
    client = _routing_client(id(stack))
    settings = get_settings(AgentRoutingSettings)
    assert settings.clerk_pem_public_key == dev_issuer().public_pem, (
        "agent_routing was configured with another issuer; mint tokens with dev_issuer()"
    )
    return client


@dataclass
class Org:
    """A Clerk organization with an admin and an agent (a Clerk `member`)."""

    client: HttpHandlerClient
    name: str = "acme"
    org_id: str = field(default_factory=lambda: f"org_{uuid.uuid4().hex[:20]}")
    admin_id: str = field(default_factory=lambda: f"user_admin{uuid.uuid4().hex[:16]}")
    agent_id: str = field(default_factory=lambda: f"user_agent{uuid.uuid4().hex[:16]}")

    @property
    def workspace_id(self) -> str:
        return ids.workspace_id_for_org(self.org_id)

    def token(self, user_id: str, role: str = "admin") -> str:
        return dev_issuer().mint(self.org_id, user_id, role)

    @property
    def admin_token(self) -> str:
        return self.token(self.admin_id, "admin")

    @property
    def agent_token(self) -> str:
        return self.token(self.agent_id, "member")

    def call(self, sample: str, token: str, **kwargs: Any) -> Response:
        headers = {
            "authorization": f"Bearer {token}",
            "origin": DASHBOARD_ORIGIN,
            **kwargs.pop("headers", {}),
        }
        return self.client.call(f"agent_routing_team_{sample}", headers=headers, **kwargs)

    def admin(self, sample: str, **kwargs: Any) -> Response:
        return self.call(sample, self.admin_token, **kwargs)

    def agent(self, sample: str, **kwargs: Any) -> Response:
        return self.call(sample, self.agent_token, **kwargs)

    def new_member(self, role: str = "member") -> tuple[str, str]:
        """Another user of this organization: (user id, token)."""
        user_id = f"user_{role}{uuid.uuid4().hex[:16]}"
        return user_id, self.token(user_id, role)


def stored(stack: Any, pk: str, sk: str) -> dict[str, Any] | None:
    return ddb.get(stack.table("WorkspacesTable"), pk, sk)


def stored_with_prefix(stack: Any, pk: str, prefix: str = "") -> list[dict[str, Any]]:
    """Every item of a partition (or those whose sort key starts with `prefix`)."""
    condition, vals = "pk = :pk", ddb.values(pk=pk)
    if prefix:  # DynamoDB refuses begins_with on an empty string
        condition, vals = (
            condition + " AND begins_with(sk, :prefix)",
            ddb.values(pk=pk, prefix=prefix),
        )
    items, _ = ddb.query(stack.table("WorkspacesTable"), condition, vals)
    return items


def use_dev_verifier(mode: str, monkeypatch: Any) -> None:
    """Make the dashboard functions verify tokens of the shared development issuer, with keys
    looked up by kid from its JWKS (`mode` "jwks", as deployments fetch Clerk's) or
    networklessly with its PEM ("pem": one key, no kid lookup)."""
    from yoosr.dashboard import access
    from yoosr.dashboard.clerk import ClerkVerifier, KeySource

    issuer = dev_issuer()
    if mode == "jwks":
        source = KeySource(
            jwks_url=f"{ISSUER}/.well-known/jwks.json", fetch=lambda _: issuer.jwks()
        )
    else:
        source = KeySource(pem=issuer.public_pem)
    verifier = ClerkVerifier(ISSUER, source, leeway_seconds=5)
    monkeypatch.setattr(access, "verifier", lambda settings: verifier)
