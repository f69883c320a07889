"""The local stack's development Clerk issuer: a persistent key pair, its JWKS served by the
stack (and fetched from it by function workers), the template parameters set automatically,
and `python -m local token`."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from local.clerk import KEY_FILE, DevIssuer, demo_user_id, session_tokens
from local.stack import Stack, StackConfig
from yoosr.dashboard.clerk import ClerkVerifier, KeySource, fetch_jwks

ROOT = Path(__file__).resolve().parents[2]

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  ClerkIssuer: {Type: String, Default: ""}
  ClerkAuthorizedParties: {Type: String, Default: ""}
Resources:
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: probe/
      Handler: app.handler
      Runtime: python3.13
      Timeout: 10
      Environment:
        Variables:
          CLERK_ISSUER: !Ref ClerkIssuer
          CLERK_PARTIES: !Ref ClerkAuthorizedParties
"""

PROBE = '''
import json
import os
import urllib.request


def handler(event, context):
    """Fetch the JWKS from the issuer the template gave us, as a dashboard function does."""
    issuer = os.environ["CLERK_ISSUER"]
    with urllib.request.urlopen(issuer + "/.well-known/jwks.json", timeout=5) as response:
        jwks = json.loads(response.read())
    return {"issuer": issuer, "parties": os.environ["CLERK_PARTIES"],
            "kids": [key["kid"] for key in jwks["keys"]]}
'''


def _write_template(root: Path) -> Path:
    (root / "probe").mkdir()
    (root / "probe" / "app.py").write_text(textwrap.dedent(PROBE))
    path = root / "template.yaml"
    path.write_text(TEMPLATE)
    return path


def _config(root: Path, local_dir: Path, **overrides: Any) -> StackConfig:
    return StackConfig(
        template_path=_write_template(root)
        if not (root / "template.yaml").exists()
        else root / "template.yaml",
        local_dir=local_dir,
        port=0,
        moto_port=0,
        moto_port_fallback=False,
        concurrency=1,
        stack_name="clerk",
        seed=False,
        prewarm=False,
        reload=False,
        console=io.StringIO(),
        **overrides,
    )


@pytest.fixture(scope="module")
def clerk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("clerk-template")
    with Stack(_config(root, root / ".yoosr-local")) as stack:
        yield stack


def test_the_key_pair_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    first = DevIssuer.load_or_create("https://issuer.example", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = DevIssuer.load_or_create("https://issuer.example", path)
    assert second.kid == first.kid
    assert second.public_pem == first.public_pem
    # A token minted before a restart still verifies after it
    token = first.mint("org_a", "user_1")
    verifier = ClerkVerifier("https://issuer.example", KeySource(pem=second.public_pem))
    assert verifier.verify(token).user_id == "user_1"
    # Another key is another kid
    assert DevIssuer.generate("https://issuer.example").kid != first.kid


def test_the_stack_sets_the_issuer_parameters_and_serves_its_jwks(clerk_stack: Stack) -> None:
    issuer = f"{clerk_stack.api_url}/_local/clerk"
    assert clerk_stack.template.parameter_value("ClerkIssuer") == issuer
    assert clerk_stack.template.parameter_value("ClerkAuthorizedParties") == ",".join(
        clerk_stack.origins
    )
    assert clerk_stack.dev_issuer_trusted
    response = httpx.get(f"{issuer}/.well-known/jwks.json", timeout=10)
    assert response.status_code == 200
    assert response.json() == clerk_stack.jwks()
    assert (clerk_stack.config.local_dir / KEY_FILE).exists()
    # The real verifier, fetching over HTTP, accepts the stack's tokens
    assert clerk_stack.dev_issuer is not None
    token = clerk_stack.dev_issuer.mint("org_a", "user_1", azp=clerk_stack.origins[0])
    verifier = ClerkVerifier(issuer, KeySource(jwks_url=f"{issuer}/.well-known/jwks.json"))
    assert verifier.verify(token).azp == clerk_stack.origins[0]
    assert (
        fetch_jwks(f"{issuer}/.well-known/jwks.json")["keys"][0]["kid"]
        == clerk_stack.dev_issuer.kid
    )


def test_a_function_worker_fetches_the_jwks_from_the_stack(clerk_stack: Stack) -> None:
    invocation = clerk_stack.invoke("ProbeFunction", {})
    assert invocation.ok, invocation.error
    assert invocation.result["issuer"] == f"{clerk_stack.api_url}/_local/clerk"
    assert invocation.result["parties"] == ",".join(clerk_stack.origins)
    assert clerk_stack.dev_issuer is not None
    assert invocation.result["kids"] == [clerk_stack.dev_issuer.kid]


def test_explicit_parameters_win_and_then_no_tokens_are_minted(tmp_path: Path) -> None:
    config = _config(tmp_path, tmp_path / "local")
    config.parameters = {"ClerkIssuer": "https://clerk.real.example"}
    with Stack(config) as stack:
        assert stack.template.parameter_value("ClerkIssuer") == "https://clerk.real.example"
        assert not stack.dev_issuer_trusted
        stack.workspaces = {"acme": {"org_id": "org_a"}}
        stack._add_dashboard_tokens()
        assert "admin_token" not in stack.workspaces["acme"]


def test_session_tokens_for_a_seeded_workspace() -> None:
    issuer = DevIssuer.generate("https://issuer.example")
    entries = session_tokens(issuer, "acme", "org_acme", "http://127.0.0.1:3000")
    assert entries["admin_user_id"] == demo_user_id("acme", "admin")
    verifier = ClerkVerifier("https://issuer.example", KeySource(pem=issuer.public_pem))
    admin = verifier.verify(entries["admin_token"])
    agent = verifier.verify(entries["agent_token"])
    assert (admin.org_role, agent.org_role) == ("admin", "member")
    assert (admin.user_id, agent.user_id) == ("user_local_acme_admin", "user_local_acme_agent")
    assert admin.azp == "http://127.0.0.1:3000"
    lifetime = jwt.decode(entries["admin_token"], options={"verify_signature": False})
    assert lifetime["exp"] - lifetime["iat"] == 12 * 3600


# ---------------------------------------------------------------- python -m local token


def _fake_running_stack(local_dir: Path) -> DevIssuer:
    issuer = DevIssuer.load_or_create("http://127.0.0.1:3999/_local/clerk", local_dir / KEY_FILE)
    document = {
        "api_url": "http://127.0.0.1:3999",
        "workspaces": {"acme": {"org_id": "org_local_acme"}},
        "clerk": {
            "issuer": issuer.issuer,
            "authorized_parties": "http://127.0.0.1:3999,http://localhost:3999",
            "key_file": KEY_FILE,
        },
    }
    (local_dir / "credentials.json").write_text(json.dumps(document))
    return issuer


def _token_command(local_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "token", *args],
        cwd=ROOT,
        env={**os.environ, "YOOSR_LOCAL_DIR": str(local_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_token_command_mints_with_the_stacks_key(tmp_path: Path) -> None:
    issuer = _fake_running_stack(tmp_path)
    done = _token_command(
        tmp_path, "--workspace", "acme", "--role", "agent", "--user", "user_9", "--lifetime", "90"
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    claims = ClerkVerifier(issuer.issuer, KeySource(pem=issuer.public_pem)).verify(token)
    assert (claims.org_id, claims.org_role, claims.user_id) == (
        "org_local_acme",
        "member",
        "user_9",
    )
    assert claims.azp == "http://127.0.0.1:3999"
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["exp"] - raw["iat"] == 90
    assert jwt.get_unverified_header(token)["kid"] == issuer.kid
    v1 = _token_command(tmp_path, "--org", "org_other", "--claims-version", "1").stdout.strip()
    assert jwt.decode(v1, options={"verify_signature": False})["org_role"] == "org:admin"
    no_org = _token_command(tmp_path, "--no-org").stdout.strip()
    assert "o" not in jwt.decode(no_org, options={"verify_signature": False})


@pytest.mark.parametrize(
    "args", [("--workspace", "nobody"), ("--lifetime", "0"), ("--lifetime", "9999999")]
)
def test_the_token_command_refuses_bad_arguments(tmp_path: Path, args: tuple[str, ...]) -> None:
    _fake_running_stack(tmp_path)
    done = _token_command(tmp_path, *args)
    assert done.returncode == 2
    assert done.stdout == ""


def test_the_token_command_needs_a_running_stack(tmp_path: Path) -> None:
    done = _token_command(tmp_path)
    assert done.returncode == 2
    assert "make dev" in done.stderr
