"""`python -m local` runs the local stack; `fire` and `drain` talk to a running one.

python -m local                         start (Ctrl-C or SIGTERM stops it); the bot's model:
                                        YOOSR_LOCAL_MODEL=off (default) | local (a stand-in for
                                        OpenRouter) | openrouter (OPENROUTER_API_KEY set)
python -m local fire <Function> <Event> fire a Schedule/ScheduleV2 event now
python -m local drain [--timeout 30]    wait until stream and queue consumers caught up
python -m local token [--workspace acme] [--role admin|agent] [--user ID] [--lifetime S]
                                        print a dashboard session token of the running stack's
                                        development Clerk issuer
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from local.clerk import CLERK_ROLES, KEY_FILE, MAX_LIFETIME_S, DevIssuer, demo_user_id
from local.stack import FAKE_CREDENTIALS, Stack, StackConfig


def _isolate_from_real_aws() -> None:
    """The stack's own boto3 calls (seeding included) may only ever reach moto."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        os.environ.pop(name, None)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = "us-east-1"
    os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def _hint(stack: Stack) -> str:
    lines = [f"Yoosr local stack ready: {stack.api_url}  (AWS endpoint {stack.aws_endpoint_url})"]
    if stack.workspaces:
        lines.append(
            f"Open first: {stack.api_url}/demo (the demo shop with the chat widget) and "
            f"{stack.api_url}/demo/agent (the agent view) in two tabs"
        )
    acme = stack.workspaces.get("acme") or {}
    if acme.get("widget_key"):
        origin = (acme.get("allowed_origins") or [None])[0]
        origin_header = f" -H 'Origin: {origin}'" if origin else ""
        lines.append(
            f"Try: curl -s {stack.api_url}/v1/widget/config "
            f"-H 'X-Yoosr-Widget-Key: {acme['widget_key']}'{origin_header}"
        )
    else:
        lines.append(f"Try: curl -s {stack.api_url}/_local/routes")
    lines.append(_model_line(stack))
    lines.append(f"Credentials: {stack.credentials_path}   Stop: Ctrl-C")
    return "\n".join(lines)


def _model_line(stack: Stack) -> str:
    if stack.model == "local":
        return (
            f"Bot model: local - the OpenRouter stand-in at {stack.model_base_url} "
            "(deterministic answers from the knowledge base; local/model.py)"
        )
    if stack.model == "openrouter":
        return "Bot model: openrouter - OpenRouter with OPENROUTER_API_KEY (stored in moto's SSM)"
    return (
        "Bot model: off - no API key: the bot answers from the knowledge base and hands off "
        "(YOOSR_LOCAL_MODEL=local for a local stand-in, or set OPENROUTER_API_KEY)"
    )


def run() -> int:
    _isolate_from_real_aws()
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    logging.basicConfig(level=logging.WARNING, format="stack | %(levelname)s %(name)s: %(message)s")
    try:
        config = StackConfig.from_env()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    stack = Stack(config)
    try:
        stack.start()
    except OSError as exc:
        stack.stop()
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"port {config.port} on {config.host} is in use: set YOOSR_PORT", file=sys.stderr)
        return 1
    except BaseException:
        stack.stop()
        raise
    try:
        if not stop.is_set():
            print(_hint(stack), flush=True)
        # Waiting in short steps keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    finally:
        stack.stop()
    print("Yoosr local stack stopped.", flush=True)
    return 0


def _local_dir() -> Path:
    default_dir = Path(__file__).resolve().parent.parent / ".yoosr-local"
    return Path(os.environ.get("YOOSR_LOCAL_DIR") or default_dir)


def _api_url() -> str:
    credentials = _local_dir() / "credentials.json"
    if credentials.exists():
        return str(json.loads(credentials.read_text(encoding="utf-8"))["api_url"])
    return f"http://127.0.0.1:{os.environ.get('YOOSR_PORT', '3000')}"


def _post(path: str, timeout_s: float, body: bytes | None = None) -> tuple[int, Any]:
    url = f"{_api_url()}{path}"
    request = urllib.request.Request(url, data=body or b"", method="POST")  # noqa: S310 - loopback
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310  # nosec B310  # the local stack's own http URL
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def mint_token(args: argparse.Namespace) -> int:
    """Print a session token signed with the running stack's development key."""
    local_dir = _local_dir()
    credentials = local_dir / "credentials.json"
    if not credentials.exists():
        print(
            f"no running local stack ({credentials} is missing): start it with `make dev`",
            file=sys.stderr,
        )
        return 2
    document = json.loads(credentials.read_text(encoding="utf-8"))
    clerk = document.get("clerk")
    if not clerk:
        print(
            "the running stack does not use its development Clerk issuer "
            "(ClerkIssuer was overridden)",
            file=sys.stderr,
        )
        return 2
    org_id = args.org
    if org_id is None:
        workspace = document.get("workspaces", {}).get(args.workspace)
        if not workspace or not workspace.get("org_id"):
            known = ", ".join(sorted(document.get("workspaces", {}))) or "none"
            print(
                f"unknown workspace {args.workspace!r} (seeded: {known}); or give --org org_…",
                file=sys.stderr,
            )
            return 2
        org_id = workspace["org_id"]
    if not 1 <= args.lifetime <= MAX_LIFETIME_S:
        print(f"--lifetime must be 1..{MAX_LIFETIME_S} seconds", file=sys.stderr)
        return 2
    issuer = DevIssuer.load(clerk["issuer"], local_dir / clerk.get("key_file", KEY_FILE))
    azp = args.azp or str(clerk["authorized_parties"]).split(",")[0] or None
    token = issuer.mint(
        None if args.no_org else org_id,
        args.user or demo_user_id(args.workspace, args.role),
        CLERK_ROLES[args.role],
        lifetime_s=args.lifetime,
        azp=azp,
        version=args.claims_version,
    )
    print(token)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="start the local stack (the default)")
    fire = commands.add_parser("fire", help="fire a Schedule/ScheduleV2 event on the running stack")
    fire.add_argument("function")
    fire.add_argument("event")
    fire.add_argument("--input", help="JSON event to send instead of the scheduled one")
    drain = commands.add_parser("drain", help="wait until stream and queue consumers caught up")
    drain.add_argument("--timeout", type=float, default=30.0)
    token = commands.add_parser(
        "token", help="print a dashboard session token signed by the running stack's issuer"
    )
    token.add_argument("--workspace", default="acme", help="seeded workspace (default acme)")
    token.add_argument("--org", help="organization id instead of a seeded workspace's")
    token.add_argument("--role", choices=("admin", "agent"), default="admin")
    token.add_argument("--user", help="Clerk user id (default user_local_<workspace>_<role>)")
    token.add_argument("--lifetime", type=int, default=12 * 3600, help="seconds (default 12 h)")
    token.add_argument("--azp", help="authorized party (default: the stack's origin)")
    token.add_argument("--no-org", action="store_true", help="no active organization")
    token.add_argument(
        "--claims-version", type=int, choices=(1, 2), default=2, help="Clerk token claims version"
    )
    args = parser.parse_args(argv)

    if args.command in (None, "run"):
        return run()
    if args.command == "token":
        return mint_token(args)
    try:
        if args.command == "fire":
            body = args.input.encode() if args.input else None
            status, payload = _post(f"/_local/schedules/{args.function}/{args.event}", 120, body)
        else:
            status, payload = _post(f"/_local/drain?timeout={args.timeout}", args.timeout + 10)
    except OSError as exc:
        print(f"the local stack is not reachable at {_api_url()}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(payload, indent=2))
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
