"""The dashboard API end to end: tokens from credentials.json (and `python -m local token`)
against `python -m local`, whose functions fetch the development issuer's JWKS over HTTP
from the stack itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def dashboard(stack: Any, token: str) -> httpx.Client:
    origin = stack.api_url  # the stack's own origin is an authorized party
    return httpx.Client(
        base_url=stack.api_url,
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Origin": origin},
    )


def test_credentials_carry_dashboard_tokens_for_each_workspace(local_stack: Any) -> None:
    jwks = httpx.get(f"{local_stack.api_url}/_local/clerk/.well-known/jwks.json", timeout=10)
    assert jwks.status_code == 200
    keys = {k["kid"]: jwt.PyJWK(k).key for k in jwks.json()["keys"]}
    for name, workspace in local_stack.workspaces.items():
        for role, clerk_role in (("admin", "admin"), ("agent", "member")):
            token = workspace[f"{role}_token"]
            key = keys[jwt.get_unverified_header(token)["kid"]]
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=f"{local_stack.api_url}/_local/clerk",
                options={"verify_aud": False},
            )
            assert claims["sub"] == workspace[f"{role}_user_id"], name
            assert claims["o"] == {
                "id": workspace["org_id"],
                "slg": workspace["org_id"].removeprefix("org_"),
                "rol": clerk_role,
            }
            assert claims["azp"] == local_stack.api_url
            assert 11 * 3600 < claims["exp"] - claims["iat"] <= 12 * 3600


def test_admin_manages_settings_and_widget_keys_over_http(local_stack: Any) -> None:
    acme = local_stack.workspaces["acme"]
    admin = dashboard(local_stack, acme["admin_token"])
    widget_origin = acme["allowed_origins"][0]

    # The admin reads the workspace: the token's organization, never a parameter
    workspace = admin.get("/v1/workspace")
    assert workspace.status_code == 200, workspace.text
    assert workspace.json()["id"] == acme["workspace_id"]
    assert workspace.headers["access-control-allow-origin"] == local_stack.api_url
    assert acme["identity_secret"] not in workspace.text
    original_origins = workspace.json()["settings"]["allowed_origins"]

    try:
        # PATCH allowed origins: a new shop origin is accepted by the widget at once
        patched = admin.patch(
            "/v1/workspace",
            json={"allowed_origins": [*original_origins, "https://shop.acme.example"]},
        )
        assert patched.status_code == 200, patched.text
        assert "https://shop.acme.example" in patched.json()["settings"]["allowed_origins"]

        # Create a widget key; it works on the widget API
        created = admin.post("/v1/workspace/widget-keys", json={"label": "e2e"})
        assert created.status_code == 201, created.text
        key = created.json()
        widget_headers = {"X-Yoosr-Widget-Key": key["widget_key"], "Origin": widget_origin}
        config = httpx.get(
            f"{local_stack.api_url}/v1/widget/config", headers=widget_headers, timeout=30
        )
        assert config.status_code == 200, config.text
        shop = {**widget_headers, "Origin": "https://shop.acme.example"}
        assert httpx.get(f"{local_stack.api_url}/v1/widget/config", headers=shop).status_code == 200
        listed = admin.get("/v1/workspace/widget-keys", params={"limit": 200})
        assert key["id"] in [k["id"] for k in listed.json()["items"]]

        # Revoke it: the very next widget call with it is refused
        revoked = admin.delete(f"/v1/workspace/widget-keys/{key['id']}")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["active"] is False
        refused = httpx.get(
            f"{local_stack.api_url}/v1/widget/config", headers=widget_headers, timeout=30
        )
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_widget_key"
        # The seeded key still works
        seeded = {"X-Yoosr-Widget-Key": acme["widget_key"], "Origin": widget_origin}
        assert (
            httpx.get(f"{local_stack.api_url}/v1/widget/config", headers=seeded).status_code == 200
        )
    finally:
        restored = admin.patch("/v1/workspace", json={"allowed_origins": original_origins})
        assert restored.status_code == 200, restored.text


def test_agent_token_gets_403_on_workspace_admin(local_stack: Any) -> None:
    agent = dashboard(local_stack, local_stack.workspaces["acme"]["agent_token"])
    response = agent.get("/v1/workspace")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


def test_flawed_tokens_are_refused_over_http(local_stack: Any) -> None:
    token = local_stack.workspaces["acme"]["admin_token"]
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    for bad in (tampered, token + "x", "not-a-token"):
        response = dashboard(local_stack, bad).get("/v1/workspace")
        assert response.status_code == 401, response.text
    no_auth = httpx.get(f"{local_stack.api_url}/v1/workspace", timeout=30)
    assert no_auth.status_code == 401
    preflight = httpx.options(
        f"{local_stack.api_url}/v1/workspace/widget-keys",
        headers={"Origin": local_stack.api_url, "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == local_stack.api_url


def _mint(local_stack: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YOOSR_LOCAL_DIR": str(local_stack.local_dir)}
    return subprocess.run(
        [sys.executable, "-m", "local", "token", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_token_command_mints_working_tokens(local_stack: Any) -> None:
    # An admin of globex, minted by the CLI, reaches globex (not acme)
    minted = _mint(local_stack, "--workspace", "globex", "--role", "admin", "--lifetime", "120")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    response = dashboard(local_stack, token).get("/v1/workspace")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == local_stack.workspaces["globex"]["workspace_id"]
    # An agent token of a chosen user is an agent
    agent = _mint(local_stack, "--workspace", "acme", "--role", "agent", "--user", "user_e2e")
    assert agent.returncode == 0, agent.stderr
    claims = jwt.decode(agent.stdout.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["o"]["rol"]) == ("user_e2e", "member")
    assert dashboard(local_stack, agent.stdout.strip()).get("/v1/workspace").status_code == 403
    # A token of a brand-new organization provisions its workspace on the first call
    fresh = _mint(local_stack, "--org", "org_e2e_fresh", "--role", "admin")
    response = dashboard(local_stack, fresh.stdout.strip()).get("/v1/workspace")
    assert response.status_code == 200, response.text
    assert response.json()["org_id"] == "org_e2e_fresh"
    # Bad arguments fail without a token
    unknown = _mint(local_stack, "--workspace", "nobody")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
