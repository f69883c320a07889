"""Agent routing: the dashboard API for the team (departments, agents and presence, labels,
canned responses) and the inbox (conversations, replies, notes, assignment).

Routes are glue: parse, one call into yoosr, return the response model.
"""

from __future__ import annotations

from agent_routing_inbox import router as inbox_router  # type: ignore[import-not-found]
from agent_routing_team import router as team_router  # type: ignore[import-not-found]

from yoosr.dashboard.cors import dashboard_cors
from yoosr.http import create_app, lambda_handler_for
from yoosr.settings import AgentRoutingSettings, get_settings

settings = get_settings(AgentRoutingSettings)
app = create_app(
    title="Yoosr agent routing API",
    description="Dashboard API (Clerk session token as Authorization: Bearer) for departments, "
    "agents, labels, canned responses and the conversation inbox.",
    max_body_bytes=settings.max_body_bytes,
    extra_middleware=[dashboard_cors(lambda: settings.authorized_parties)],
)
app.include_router(team_router)
app.include_router(inbox_router)

lambda_handler = lambda_handler_for(app)
