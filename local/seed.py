"""Demo data for the local stack: two workspaces, `acme` and `globex`, each with a widget key
and the local demo origin allowed. Uses the same provisioning code the product uses."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from yoosr.provisioning import issue_widget_key, provision_workspace

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
        seeded[slug] = {
            "workspace_id": made.workspace_id,
            "org_id": spec["org_id"],
            "widget_key": issue_widget_key(table, made.workspace_id, label="local demo"),
            "allowed_origins": origins,
            "identity_secret": spec["settings"]["identity_secret"],
        }
    return seeded
