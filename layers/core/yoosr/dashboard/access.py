"""Who may call which dashboard route.

One table maps every dashboard route (method + path template, exactly as declared in
template.yaml and in the function's FastAPI app) to its minimum role. A route missing from the
table is refused for everyone (default deny), and a test fails when a function serves a route
the table does not list.

The workspace is the verified token's organization, provisioned on its first call; it is never
taken from a path or a body.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from yoosr import clock, ids
from yoosr.dashboard.clerk import ROLE_RANK, ClerkVerifier, KeySource, Role, role_for
from yoosr.dashboard.cors import allow_origin
from yoosr.errors import Forbidden, Unauthorized, Unavailable
from yoosr.models.workspace import Workspace
from yoosr.observability import logger
from yoosr.settings import DashboardSettings
from yoosr.store import agents, ddb, keys, workspaces

ADMIN: Role = "admin"
AGENT: Role = "agent"

ROUTE_ROLES: dict[tuple[str, str], Role] = {
    # workspace function
    ("GET", "/v1/workspace"): ADMIN,
    ("PATCH", "/v1/workspace"): ADMIN,
    ("POST", "/v1/workspace/identity-secret"): ADMIN,
    ("GET", "/v1/workspace/widget-keys"): ADMIN,
    ("POST", "/v1/workspace/widget-keys"): ADMIN,
    ("GET", "/v1/workspace/widget-keys/{key_id}"): ADMIN,
    ("DELETE", "/v1/workspace/widget-keys/{key_id}"): ADMIN,
    # agent_routing function: team
    ("GET", "/v1/departments"): AGENT,
    ("POST", "/v1/departments"): ADMIN,
    ("GET", "/v1/departments/{department_id}"): AGENT,
    ("PATCH", "/v1/departments/{department_id}"): ADMIN,
    ("DELETE", "/v1/departments/{department_id}"): ADMIN,
    ("GET", "/v1/agents"): AGENT,
    ("PATCH", "/v1/agents/{user_id}"): ADMIN,
    ("PUT", "/v1/agents/me/status"): AGENT,
    ("GET", "/v1/labels"): AGENT,
    ("POST", "/v1/labels"): ADMIN,
    ("GET", "/v1/labels/{label_id}"): AGENT,
    ("PATCH", "/v1/labels/{label_id}"): ADMIN,
    ("DELETE", "/v1/labels/{label_id}"): ADMIN,
    ("GET", "/v1/canned-responses"): AGENT,
    ("POST", "/v1/canned-responses"): ADMIN,
    ("GET", "/v1/canned-responses/{canned_id}"): AGENT,
    ("PATCH", "/v1/canned-responses/{canned_id}"): ADMIN,
    ("DELETE", "/v1/canned-responses/{canned_id}"): ADMIN,
    # agent_routing function: conversations
    ("GET", "/v1/conversations"): AGENT,
    ("GET", "/v1/conversations/{conversation_id}"): AGENT,
    ("GET", "/v1/conversations/{conversation_id}/messages"): AGENT,
    ("POST", "/v1/conversations/{conversation_id}/messages"): AGENT,
    ("POST", "/v1/conversations/{conversation_id}/assign"): AGENT,
    ("POST", "/v1/conversations/{conversation_id}/resolve"): AGENT,
    ("POST", "/v1/conversations/{conversation_id}/reopen"): AGENT,
    ("POST", "/v1/conversations/{conversation_id}/labels"): AGENT,
    # bot_reply function: flows, knowledge base, preview
    ("GET", "/v1/bot/flows"): ADMIN,
    ("POST", "/v1/bot/flows"): ADMIN,
    ("GET", "/v1/bot/flows/{flow_id}"): ADMIN,
    ("PUT", "/v1/bot/flows/{flow_id}"): ADMIN,
    ("DELETE", "/v1/bot/flows/{flow_id}"): ADMIN,
    ("GET", "/v1/bot/knowledge"): ADMIN,
    ("POST", "/v1/bot/knowledge"): ADMIN,
    ("GET", "/v1/bot/knowledge/{entry_id}"): ADMIN,
    ("PUT", "/v1/bot/knowledge/{entry_id}"): ADMIN,
    ("DELETE", "/v1/bot/knowledge/{entry_id}"): ADMIN,
    ("POST", "/v1/bot/preview"): ADMIN,
    # analytics function: figures from rollups
    ("GET", "/v1/analytics/overview"): ADMIN,
    ("GET", "/v1/analytics/timeseries"): ADMIN,
    ("GET", "/v1/analytics/agents"): ADMIN,
    ("GET", "/v1/analytics/ai-usage"): ADMIN,
    # privacy function: requests, decisions, downloads, workspace deletion, one conversation
    ("GET", "/v1/privacy/requests"): ADMIN,
    ("POST", "/v1/privacy/requests"): ADMIN,
    ("GET", "/v1/privacy/requests/{request_id}"): ADMIN,
    ("POST", "/v1/privacy/requests/{request_id}/approve"): ADMIN,
    ("POST", "/v1/privacy/requests/{request_id}/deny"): ADMIN,
    ("POST", "/v1/privacy/requests/{request_id}/extend"): ADMIN,
    ("POST", "/v1/privacy/requests/{request_id}/cancel"): ADMIN,
    ("POST", "/v1/privacy/requests/{request_id}/retry"): ADMIN,
    ("GET", "/v1/privacy/requests/{request_id}/download"): ADMIN,
    ("POST", "/v1/workspace/deletion"): ADMIN,
    ("DELETE", "/v1/workspace/deletion"): ADMIN,
    ("DELETE", "/v1/conversations/{conversation_id}"): ADMIN,
}

PENDING_DELETION = "pending_deletion"
# A workspace pending deletion is disabled for everyone (widget and dashboard) except on
# these routes, so that its admins can still cancel the deletion during the grace period.
WHILE_PENDING_DELETION: frozenset[tuple[str, str]] = frozenset(
    {("POST", "/v1/workspace/deletion"), ("DELETE", "/v1/workspace/deletion")}
)


@dataclass(frozen=True)
class DashboardCaller:
    workspace: Workspace
    org_id: str
    user_id: str
    session_id: str
    role: Role
    actor: str | None = None
    azp: str | None = None

    @property
    def workspace_id(self) -> str:
        return self.workspace.workspace_id

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


@cache
def verifier(settings: DashboardSettings) -> ClerkVerifier:
    keys_source = KeySource(
        jwks_url=settings.clerk_jwks_url
        or f"{settings.clerk_issuer.rstrip('/')}/.well-known/jwks.json",
        pem=settings.clerk_pem_public_key or None,
    )
    return ClerkVerifier(settings.clerk_issuer, keys_source, settings.token_leeway_seconds)


def minimum_role(method: str, path_template: str) -> Role | None:
    return ROUTE_ROLES.get((method.upper(), path_template))


def _azp_refused() -> Unauthorized:
    return Unauthorized(
        "The session token is not valid.",
        code="invalid_token",
        details=[{"reason": "azp not allowed"}],
    )


def _azp_allowed(azp: str | None, allowed: set[str]) -> bool:
    """With no dashboard origin configured anywhere, any azp passes (a fresh deployment must
    be able to reach its settings); otherwise the token must name one of them. A token
    without `azp` was not requested by a browser dashboard and is refused."""
    return not allowed or azp in allowed


def authenticate(
    settings: DashboardSettings,
    authorization: str | None,
    method: str,
    path_template: str,
    cors_state: dict[str, Any] | None = None,
    origin: str | None = None,
) -> DashboardCaller:
    """Verify the bearer token, resolve workspace and role, and apply the route table.

    Order: token (401) → organization (403) → `azp` against the deployment's and the
    workspace's dashboard origins (401) → role (403) → workspace, provisioned on the
    organization's first call → agent record → route table (403, default deny). Nothing is
    written for a token refused by an earlier step.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A Clerk session token is required.", code="missing_token")
    claims = verifier(settings).verify(token.strip())
    static_parties = set(settings.authorized_parties)
    if not claims.org_id:
        if not _azp_allowed(claims.azp, static_parties):
            raise _azp_refused()
        raise Forbidden("Select an organization first: the token has none.", code="no_organization")

    workspace_id = ids.workspace_id_for_org(claims.org_id)
    table = settings.workspaces_table
    workspace_key = keys.workspace(workspace_id)
    agent_key = keys.agent(workspace_id, claims.user_id)
    found = ddb.batch_get({table: [workspace_key, agent_key]})
    item = found.get((table, *workspace_key))
    workspace = Workspace.model_validate(item) if item is not None else None
    allowed_parties = static_parties | set(
        workspace.settings.allowed_dashboard_origins if workspace else ()
    )
    if not _azp_allowed(claims.azp, allowed_parties):
        raise _azp_refused()
    role = role_for(claims.org_role)

    if workspace is None:
        name = claims.org_slug or claims.org_id
        if workspaces.create_workspace(table, workspace_id, name, {}, org_id=claims.org_id):
            logger.info("workspace provisioned", extra={"workspace_id": workspace_id})
        # Consistent read: another first call may have created it a moment ago.
        created = ddb.get(table, *workspace_key)
        if created is None:  # pragma: no cover - created above or by a concurrent call
            raise Unavailable()
        workspace = Workspace.model_validate(created)
    if workspace.org_id not in (None, claims.org_id):  # pragma: no cover - ids are derived
        raise Forbidden("This workspace belongs to another organization.")
    if workspace.status != "active" and not (
        workspace.status == PENDING_DELETION
        and (method.upper(), path_template) in WHILE_PENDING_DELETION
    ):
        raise Forbidden("This workspace is not active.", code="workspace_disabled")
    if cors_state is not None:
        allow_origin(cors_state, origin, workspace.settings.allowed_dashboard_origins)

    agent = found.get((table, *agent_key))
    if agent is None or agent.get("role") != role:
        agents.ensure(table, workspace_id, claims.user_id, role, now=clock.iso())
    if claims.actor:
        # Impersonation (Clerk `act`): who really acted belongs in the audit trail.
        logger.info(
            "impersonated dashboard session",
            extra={"workspace_id": workspace_id, "actor": claims.actor},
        )
    minimum = minimum_role(method, path_template)
    if minimum is None or ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise Forbidden("Your role may not do this.", code="forbidden")
    return DashboardCaller(
        workspace, claims.org_id, claims.user_id, claims.session_id, role, claims.actor, claims.azp
    )
