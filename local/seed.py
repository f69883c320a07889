"""Demo data for the local stack: two workspaces, `acme` and `globex`, each with a widget key,
the local demo origin allowed, and the demo bot (local/demo_bot.json: a greeting flow and a
few knowledge entries). Uses the same provisioning code and bot store the product uses."""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from yoosr import clock, ids
from yoosr.bot.flows import validate_flow
from yoosr.provisioning import issue_widget_key, provision_workspace
from yoosr.store import bot as bot_store

DEMO_BOT_PATH = Path(__file__).with_name("demo_bot.json")
# Caps the admin API applies (BotAdminSettings defaults).
MAX_FLOWS = 20
MAX_KNOWLEDGE_ENTRIES = 500

DEMO_WORKSPACES: dict[str, dict[str, Any]] = {
    "acme": {
        "org_id": "org_local_acme",
        "name": "Acme Outdoor Gear",
        "settings": {
            "greeting": "Hi! Welcome to Acme. Ask us anything about your order.",
            "identity_secret": "acme-local-identity-secret",
            "appearance": {"color": "#0F766E", "position": "right", "title": "Acme support"},
        },
    },
    "globex": {
        "org_id": "org_local_globex",
        "name": "Globex Corporation",
        "settings": {
            "greeting": "Hello from Globex. How can we help?",
            "identity_secret": "globex-local-identity-secret",
            "business_hours": {
                "timezone": "America/New_York",
                "weekly": {
                    day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
                },
            },
        },
    },
}


# The demo bot's assistant name per workspace (the flow's greeting says it).
DEMO_ASSISTANTS = {"acme": "Acme Outdoor", "globex": "Globex"}


@cache
def _demo_bot() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEMO_BOT_PATH.read_text(encoding="utf-8"))
    return data


def demo_flow(assistant: str = "Acme Outdoor") -> dict[str, Any]:
    """The demo flow of local/demo_bot.json, its greeting naming `assistant`."""
    flow: dict[str, Any] = copy.deepcopy(_demo_bot()["flow"])
    default = "Acme Outdoor"
    if assistant != default:
        flow["name"] = f"{assistant} welcome"
        for step in flow["steps"]:
            if isinstance(step.get("text"), str):
                step["text"] = step["text"].replace(default, assistant)
    return flow


def demo_knowledge() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = copy.deepcopy(_demo_bot()["knowledge"])
    return entries


def seed_bot(table: str, ws: str, assistant: str = "Acme Outdoor") -> str:
    """Give workspace `ws` the demo flow (as its greeting flow) and the demo knowledge entries,
    through the bot store as the admin API writes them; returns the greeting flow id.

    Idempotent: a workspace that already has a greeting flow keeps it, and one that already has
    knowledge entries gets none added."""
    config = bot_store.get_config(table, ws)
    flow_id = config.greeting_flow_id
    if flow_id is None:
        flow = validate_flow({**demo_flow(assistant), "id": ids.new_id("flow"), "version": 1})
        bot_store.create_flow(table, ws, flow, active=True, max_flows=MAX_FLOWS)
        flow_id = flow.id
    if config.knowledge_version == 0:
        now = clock.iso()
        for entry in demo_knowledge():
            item = bot_store.knowledge_item(
                ws,
                ids.new_id("kb"),
                title=entry["title"],
                content=entry["content"],
                tags=entry["tags"],
                created_at=now,
                updated_at=now,
            )
            bot_store.create_knowledge(table, item, max_entries=MAX_KNOWLEDGE_ENTRIES)
    return flow_id


def demo_origins(api_url: str) -> list[str]:
    """The stack's own origin under both loopback names (the demo page is served there)."""
    port = urlsplit(api_url).port or 80
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def seed_demo(endpoint_url: str, resources: Any, api_url: str | None = None) -> dict[str, Any]:
    """Create the demo workspaces; returns the `workspaces` part of credentials.json."""
    os.environ.setdefault("AWS_ENDPOINT_URL", endpoint_url)
    api_url = api_url or f"http://127.0.0.1:{os.environ.get('YOOSR_PORT', '3000')}"
    table = str(resources.ref("WorkspacesTable"))
    seeded: dict[str, Any] = {}
    for slug, spec in DEMO_WORKSPACES.items():
        origins = demo_origins(api_url)
        made = provision_workspace(
            table, spec["org_id"], spec["name"], {**spec["settings"], "allowed_origins": origins}
        )
        flow_id = seed_bot(table, made.workspace_id, DEMO_ASSISTANTS.get(slug, spec["name"]))
        seeded[slug] = {
            "workspace_id": made.workspace_id,
            "org_id": spec["org_id"],
            "widget_key": issue_widget_key(table, made.workspace_id, label="local demo"),
            "allowed_origins": origins,
            "identity_secret": spec["settings"]["identity_secret"],
            "greeting_flow_id": flow_id,
        }
    return seeded
