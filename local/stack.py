"""The local stack: moto, resources from the template, function workers, pollers and the API."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import os
import shlex
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

import boto3

from local import model
from local.apigw import Router
from local.clerk import ISSUER_PATH, JWKS_PATH, KEY_FILE, DevIssuer, session_tokens
from local.moto_server import MotoServer, port_is_free
from local.pollers import Poller, drain
from local.queues import QueuePoller
from local.resources import ResourceMap, create_resources
from local.schedules import schedule_arn, scheduled_event
from local.server import ApiServer
from local.streams import StreamPoller, StreamReader
from local.template import Route, Template, load_template
from local.workers import INIT_TIMEOUT_S, FunctionPool, FunctionRuntime, Invocation, LogSink

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
# The template parameter naming the OpenRouter key's SSM parameter, and the environment
# variable through which a function receives it (the functions that call OpenRouter).
KEY_PARAMETER = "OpenRouterApiKeyParameter"
KEY_PARAMETER_VARIABLE = "YOOSR_OPENROUTER_API_KEY_PARAMETER"
BASE_URL_VARIABLE = "YOOSR_OPENROUTER_BASE_URL"
# Email: functions that send it (YOOSR_PRIVACY_EMAIL_FROM) reach SES at this stack, which
# records what they send (GET /_local/outbox) instead of delivering it, and refuses any sender
# but the template's identity, as SES does.
EMAIL_SENDER_VARIABLE = "YOOSR_PRIVACY_EMAIL_FROM"
SES_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_SES"
SES_PATH = "/_local/ses"
EMAIL_IDENTITY_PARAMETER = "PrivacyEmailIdentity"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class StackConfig:
    """Settings of one local stack; `from_env` reads the YOOSR_* variables."""

    template_path: Path = REPO_ROOT / "template.yaml"
    local_dir: Path = REPO_ROOT / ".yoosr-local"
    host: str = "127.0.0.1"
    port: int = 3000
    moto_port: int = 3001
    moto_port_fallback: bool = True
    concurrency: int = 4
    parameters: dict[str, str] = field(default_factory=dict)
    stack_name: str = "yoosr-local"
    seed: bool = True
    prewarm: bool = True
    log_files: bool = True
    sqs_wait_s: int = 0
    reload: bool = False
    retry_delay_s: float = 0.5
    console: IO[str] | None = None
    # The bot's model (local.model.MODES): off, the local stand-in, or OpenRouter with this key.
    model: str = "off"
    openrouter_api_key: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> StackConfig:
        env = dict(os.environ if environ is None else environ)
        config = cls()
        config.port = int(env.get("YOOSR_PORT", config.port))
        if "YOOSR_MOTO_PORT" in env:
            config.moto_port = int(env["YOOSR_MOTO_PORT"])
            config.moto_port_fallback = False
        if env.get("YOOSR_LOCAL_DIR"):
            config.local_dir = Path(env["YOOSR_LOCAL_DIR"]).resolve()
        config.concurrency = max(1, int(env.get("YOOSR_LOCAL_CONCURRENCY", config.concurrency)))
        for pair in shlex.split(env.get("YOOSR_LOCAL_PARAMETERS", "")):
            key, _, value = pair.partition("=")
            config.parameters[key] = value
        config.prewarm = env.get("YOOSR_LOCAL_PREWARM", "1") != "0"
        config.reload = env.get("YOOSR_LOCAL_RELOAD", "1") != "0"
        config.log_files = env.get("YOOSR_LOCAL_LOG_FILES", "1") != "0"
        config.sqs_wait_s = min(20, max(0, int(env.get("YOOSR_LOCAL_SQS_WAIT_S", "0"))))
        config.model, config.openrouter_api_key = model_from_env(env)
        return config


def model_from_env(env: dict[str, str]) -> tuple[str, str]:
    """(mode, key) from YOOSR_LOCAL_MODEL and OPENROUTER_API_KEY: an explicit mode wins; without
    one, a set OPENROUTER_API_KEY means the real OpenRouter, else no model. Raises ValueError
    for an unknown mode, or `openrouter` without a key."""
    key = env.get("OPENROUTER_API_KEY", "").strip()
    mode = env.get("YOOSR_LOCAL_MODEL", "").strip().lower() or ("openrouter" if key else "off")
    if mode not in model.MODES:
        raise ValueError(f"YOOSR_LOCAL_MODEL must be one of {', '.join(model.MODES)}, not {mode!r}")
    if mode == "openrouter" and not key:
        raise ValueError("YOOSR_LOCAL_MODEL=openrouter needs OPENROUTER_API_KEY")
    return mode, key if mode == "openrouter" else ""


class Stack:
    """Everything `python -m local` runs; `start()` returns once the API is serving."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.template: Template = load_template(
            config.template_path, config.parameters, stack_name=config.stack_name
        )
        self.routes: list[Route] = self.template.routes
        self.router = Router(self.routes)
        self.sink = LogSink(config.local_dir / "logs" if config.log_files else None, config.console)
        self.pools: dict[str, FunctionPool] = {}
        self.pollers: list[Poller] = []
        self._resources: ResourceMap | None = None
        self.workspaces: dict[str, Any] = {}
        self.dev_issuer: DevIssuer | None = None
        # The bot's model as wired (config.model, or "off" when the template cannot take a key).
        self.model = "off"
        self._model_key: tuple[str, str] | None = None  # (SSM parameter name, key) to store
        self._stop = threading.Event()
        self._sent: list[dict[str, Any]] = []  # emails the functions sent (the local SES)
        self._sent_lock = threading.Lock()
        self._moto: MotoServer | None = None
        self._api: ApiServer | None = None
        self._api_thread: threading.Thread | None = None
        self._stopped = False

    # ------------------------------------------------------------ addresses

    @property
    def aws_endpoint_url(self) -> str:
        assert self._moto is not None, "start() first"
        return self._moto.endpoint_url

    @property
    def api_url(self) -> str:
        assert self._api is not None, "start() first"
        host, port = self._api.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def resources(self) -> ResourceMap:
        """Physical names and attributes of the created resources."""
        assert self._resources is not None, "start() first"
        return self._resources

    @property
    def api_id(self) -> str:
        apis = self.template.resources_of_type("AWS::Serverless::HttpApi")
        return str(self.resources.ref(next(iter(apis)))) if apis else "local"

    @property
    def credentials_path(self) -> Path:
        return self.config.local_dir / "credentials.json"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start moto, create resources, workers, pollers and the API, then write credentials."""
        config = self.config
        config.local_dir.mkdir(parents=True, exist_ok=True)
        # Bind the API port first: a port clash should fail before anything else starts.
        self._api = ApiServer((config.host, config.port), self)
        self._configure_dev_issuer()
        self._configure_model()
        moto_port = config.moto_port
        if config.moto_port_fallback and moto_port and not port_is_free(config.host, moto_port):
            self.sink.write("stack", f"port {moto_port} is busy; moto takes a free port")
            moto_port = 0
        self._moto = MotoServer(config.host, moto_port)
        self._moto.start()
        clients = self._clients()
        self._resources = create_resources(self.template, clients, config.stack_name)
        self._store_model_key(clients)
        for logical_id in self.template.functions:
            self.pools[logical_id] = FunctionPool(
                self._runtime(logical_id), self.sink, size=config.concurrency
            )
        self._start_pollers(clients)
        if config.seed:
            self.workspaces = self._seed()
            self._add_dashboard_tokens()
        self._api_thread = threading.Thread(
            target=self._api.serve_forever, name="api", kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._api_thread.start()
        if config.prewarm:
            # Ready means warm: the first request should not pay for a cold start.
            warmers = [threading.Thread(target=p.prewarm, daemon=True) for p in self.pools.values()]
            for warmer in warmers:
                warmer.start()
            for warmer in warmers:
                warmer.join(INIT_TIMEOUT_S + 5)
        if config.reload:
            threading.Thread(target=self._watch_code, name="reload", daemon=True).start()
        self._write_credentials()

    def stop(self) -> None:
        """Stop everything this stack started; safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(FileNotFoundError):
            self.credentials_path.unlink()
        self._stop.set()
        for poller in self.pollers:
            poller.wake()
        if self._api is not None:
            if self._api_thread is not None:
                self._api.shutdown()
            self._api.server_close()
        for pool in self.pools.values():
            pool.close()
        for poller in self.pollers:
            poller.join(timeout=5)
        if self._moto is not None:
            self._moto.stop()
        self.sink.close()

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ operations

    def invoke(self, function: str, event: Any) -> Invocation:
        """Invoke a function synchronously, as Lambda's RequestResponse invoke would."""
        return self.pools[function].invoke(event)

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every stream and queue poller has caught up (see `local.pollers.drain`)."""
        return drain(self.pollers, timeout_s)

    def fire_schedule(self, function: str, event_name: str, payload: Any = None) -> Invocation:
        """Fire a Schedule/ScheduleV2 event now; `payload` replaces the event when given."""
        for source in self.template.schedules:
            if source.function == function and source.event_name == event_name:
                event = payload
                if event is None:
                    event = scheduled_event(
                        source,
                        stack_name=self.template.stack_name,
                        region=self.template.region,
                        account_id=self.template.account_id,
                    )
                return self.invoke(function, event)
        raise KeyError(f"{function}/{event_name}")

    def schedule_listing(self) -> list[dict[str, Any]]:
        template = self.template
        return [
            {
                "function": s.function,
                "event": s.event_name,
                "type": s.kind,
                "schedule": s.expression,
                "enabled": s.enabled,
                "arn": schedule_arn(s, template.stack_name, template.region, template.account_id),
                "fire": f"POST /_local/schedules/{s.function}/{s.event_name}",
            }
            for s in template.schedules
        ]

    # ------------------------------------------------------------ dashboard identity

    @property
    def origins(self) -> list[str]:
        """The stack's own origin under both loopback names (dashboards served from it)."""
        port = self._api.server_address[1] if self._api is not None else self.config.port
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]

    @property
    def clerk_issuer(self) -> str:
        return f"{self.api_url}{ISSUER_PATH}"

    def _configure_dev_issuer(self) -> None:
        """A development Clerk issuer on this stack: its key pair (made at first start and
        kept in the local dir), its JWKS served at /_local/clerk/.well-known/jwks.json, and
        the template parameters that make the functions trust it. Parameters given in
        YOOSR_LOCAL_PARAMETERS win (to try a real Clerk instance)."""
        self.dev_issuer = DevIssuer.load_or_create(
            self.clerk_issuer, self.config.local_dir / KEY_FILE
        )
        declared = self.template.raw.get("Parameters", {})
        automatic = {
            "ClerkIssuer": self.clerk_issuer,
            "ClerkAuthorizedParties": ",".join(self.origins),
        }
        for name, value in automatic.items():
            if name in declared and name not in self.config.parameters:
                self.template.parameters[name] = value

    @property
    def dev_issuer_trusted(self) -> bool:
        """Whether the functions verify tokens against this stack's development issuer."""
        declared = self.template.raw.get("Parameters", {})
        return (
            self.dev_issuer is not None
            and "ClerkIssuer" in declared
            and self.template.parameter_value("ClerkIssuer") == self.clerk_issuer
        )

    def jwks(self) -> dict[str, Any]:
        assert self.dev_issuer is not None, "start() first"
        return self.dev_issuer.jwks()

    def _add_dashboard_tokens(self) -> None:
        """An admin's and an agent's session token for each seeded workspace."""
        if not self.dev_issuer_trusted:
            return
        assert self.dev_issuer is not None
        for name, workspace in self.workspaces.items():
            if isinstance(workspace, dict) and workspace.get("org_id"):
                workspace.update(
                    session_tokens(self.dev_issuer, name, workspace["org_id"], self.origins[0])
                )

    # ------------------------------------------------------------ the bot's model

    @property
    def model_base_url(self) -> str:
        """Where the local stand-in for OpenRouter answers (local/model.py)."""
        return f"{self.api_url}{model.BASE_PATH}"

    def _configure_model(self) -> None:
        """Wire the bot's model (StackConfig.model): `off` leaves OpenRouterApiKeyParameter
        empty (the bot answers from the knowledge base and hands off); `local` and
        `openrouter` set it to LOCAL_KEY_PARAMETER (unless YOOSR_LOCAL_PARAMETERS names
        another), where `_store_model_key` puts the key as a SecureString in moto: the stand-in's
        key, or OPENROUTER_API_KEY. With `local`, `_local_environment` also points the functions
        that read the key at the stand-in on this stack."""
        mode = self.config.model
        if mode == "off" or KEY_PARAMETER not in self.template.raw.get("Parameters", {}):
            return
        name = self.config.parameters.get(KEY_PARAMETER)
        if name is None:
            name = self.template.parameters[KEY_PARAMETER] = model.LOCAL_KEY_PARAMETER
        if not name:  # YOOSR_LOCAL_PARAMETERS asked for no key parameter at all
            return
        key = model.LOCAL_API_KEY if mode == "local" else self.config.openrouter_api_key
        self._model_key = (name, key)
        self.model = mode

    def _store_model_key(self, clients: dict[str, Any]) -> None:
        if self._model_key is None:
            return
        name, key = self._model_key
        clients["ssm"].put_parameter(Name=name, Value=key, Type="SecureString", Overwrite=True)

    def _local_environment(self, environment: dict[str, str]) -> dict[str, str]:
        """The one local-only addition to a function's environment (never in the template):
        with the `local` model, a function that reads the OpenRouter key parameter calls the
        stand-in on this stack instead of openrouter.ai."""
        extra = {}
        if self.model == "local" and environment.get(KEY_PARAMETER_VARIABLE):
            extra[BASE_URL_VARIABLE] = self.model_base_url
        if environment.get(EMAIL_SENDER_VARIABLE):
            extra[SES_ENDPOINT_VARIABLE] = f"{self.api_url}{SES_PATH}"
        return extra

    # ------------------------------------------------------------ email (a local SES)

    def receive_email(self, body: bytes) -> tuple[int, str]:
        """SES SendEmail as the functions call it (query protocol, at SES_PATH): refused
        unless sent as the template's identity (an address, or an address of its domain),
        then kept for `outbox`. Returns (HTTP status, XML body)."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        if form.get("Action") != "SendEmail":
            return 400, _ses_error("InvalidAction", "only SendEmail is served locally")
        source = form.get("Source", "")
        identity = str(self.template.parameter_value(EMAIL_IDENTITY_PARAMETER) or "")
        address = source.rsplit("<", 1)[-1].rstrip(">").strip()
        if identity not in (address, address.rsplit("@", 1)[-1]) or not identity:
            return 400, _ses_error("MessageRejected", f"Email address is not verified: {address}")
        message_id = str(uuid.uuid4())
        to = [v for k, v in sorted(form.items()) if k.startswith("Destination.ToAddresses.member.")]
        with self._sent_lock:
            self._sent.append(
                {
                    "id": message_id,
                    "from": source,
                    "to": to,
                    "subject": form.get("Message.Subject.Data", ""),
                    "body": form.get("Message.Body.Text.Data", ""),
                }
            )
        self.sink.write("ses", f"SendEmail -> kept in the outbox ({len(to)} recipient(s))")
        return 200, (
            '<SendEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">'
            f"<SendEmailResult><MessageId>{message_id}</MessageId></SendEmailResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</SendEmailResponse>"
        )

    def outbox(self, recipient: str | None = None) -> list[dict[str, Any]]:
        """The emails the functions sent, oldest first (only those to `recipient`)."""
        with self._sent_lock:
            sent = list(self._sent)
        if recipient is None:
            return sent
        return [m for m in sent if recipient.lower() in {a.lower() for a in m["to"]}]

    # ------------------------------------------------------------ wiring

    def _clients(self) -> dict[str, Any]:
        session = boto3.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=self.template.region,
        )
        services = ("dynamodb", "dynamodbstreams", "sqs", "s3", "secretsmanager", "sns", "ssm")
        return {
            name: session.client(name, endpoint_url=self.aws_endpoint_url)  # type: ignore[call-overload]
            for name in services
        }

    def _layer_dirs(self, logical_id: str) -> tuple[Path, ...]:
        """Source folders of the function's local layers that hold Python code directly."""
        root = self.template.root
        props = self.template.resources[logical_id].get("Properties", {})
        dirs: list[Path] = []
        for layer in props.get("Layers", []) or []:
            target = layer.get("Ref") if isinstance(layer, dict) else None
            resource = self.template.resources.get(str(target), {})
            content = resource.get("Properties", {}).get("ContentUri")
            if resource.get("Type") != "AWS::Serverless::LayerVersion" or not isinstance(
                content, str
            ):
                continue
            folder = (root / content).resolve()
            # The deps layer is only a requirements file locally: its packages are in the venv.
            if (folder / "python").is_dir():
                dirs.append(folder / "python")
            elif any(p.suffix == ".py" or (p / "__init__.py").exists() for p in folder.iterdir()):
                dirs.append(folder)
        return tuple(dirs)

    def _runtime(self, logical_id: str) -> FunctionRuntime:
        spec = self.template.functions[logical_id]
        props = self.template.resources[logical_id].get("Properties", {})
        function_name = self.resources.ref(logical_id)
        log_group = self.resources.resolve(
            (props.get("LoggingConfig") or {}).get("LogGroup", f"/aws/lambda/{function_name}")
        )
        environment = self.template.function_environment(logical_id, self.resources)
        environment.update(self._local_environment(environment))
        environment.update(FAKE_CREDENTIALS)
        environment.update(
            {
                "AWS_ENDPOINT_URL": self.aws_endpoint_url,
                "AWS_REGION": self.template.region,
                "AWS_DEFAULT_REGION": self.template.region,
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            }
        )
        return FunctionRuntime(
            logical_id=logical_id,
            function_name=function_name,
            function_arn=self.resources.get_att(logical_id, "Arn"),
            handler=spec.handler,
            code_dir=(self.template.root / spec.code_uri).resolve(),
            layer_dirs=self._layer_dirs(logical_id),
            timeout_s=float(spec.timeout),
            memory_mb=spec.memory_size,
            environment=environment,
            log_group=str(log_group),
            runtime=spec.runtime,
        )

    def _start_pollers(self, clients: dict[str, Any]) -> None:
        resources = self.resources
        region = self.template.region

        def send_failure(kind: str | None, destination: Any, record: dict[str, Any]) -> None:
            arn = str(resources.resolve(destination))
            body = json.dumps(record)
            if kind == "SNS":
                clients["sns"].publish(TopicArn=arn, Message=body)
                return
            logical_id = resources.logical_id_for("Arn", arn)
            url = (
                resources.ref(logical_id)
                if logical_id
                else clients["sqs"].get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
            )
            clients["sqs"].send_message(QueueUrl=url, MessageBody=body)

        # One reader per stream and starting position, started before its consumers.
        readers: dict[tuple[str, str], StreamReader] = {}
        consumers: list[Poller] = []
        for stream in self.template.stream_sources:
            if not stream.enabled:
                continue
            stream_arn = str(resources.resolve(stream.stream))
            key = (stream_arn, stream.starting_position)
            if key not in readers:
                readers[key] = StreamReader(
                    stream_arn=stream_arn,
                    streams_client=clients["dynamodbstreams"],
                    stop=self._stop,
                    region=region,
                    starting_position=stream.starting_position,
                )
            consumers.append(
                StreamPoller(
                    stream,
                    stream_arn=stream_arn,
                    function_arn=resources.get_att(stream.function, "Arn"),
                    streams_client=clients["dynamodbstreams"],
                    invoke=self.invoke,
                    send_failure=send_failure,
                    stop=self._stop,
                    region=region,
                    retry_delay_s=self.config.retry_delay_s,
                    reader=readers[key],
                )
            )
        self.pollers.extend(readers.values())
        self.pollers.extend(consumers)
        for queue in self.template.sqs_sources:
            if not queue.enabled:
                continue
            queue_arn = str(resources.resolve(queue.queue))
            logical_id = queue.queue_logical_id or resources.logical_id_for("Arn", queue_arn)
            queue_url = (
                resources.ref(logical_id)
                if logical_id
                else clients["sqs"].get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])[
                    "QueueUrl"
                ]
            )
            self.pollers.append(
                QueuePoller(
                    queue,
                    queue_url=queue_url,
                    queue_arn=queue_arn,
                    sqs_client=clients["sqs"],
                    invoke=self.invoke,
                    stop=self._stop,
                    region=region,
                    wait_time_s=self.config.sqs_wait_s,
                )
            )
        for poller in self.pollers:
            poller.start()

    def _code_fingerprint(self) -> tuple[int, float]:
        folders = {p.code_dir for p in (pool.runtime for pool in self.pools.values())}
        folders |= {d for pool in self.pools.values() for d in pool.runtime.layer_dirs}
        count, newest = 0, 0.0
        for folder in folders:
            for path in folder.rglob("*.py"):
                count += 1
                with contextlib.suppress(OSError):
                    newest = max(newest, path.stat().st_mtime)
        return count, newest

    def _watch_code(self) -> None:
        """Restart workers when function or layer code changes (template changes need a restart)."""
        seen = self._code_fingerprint()
        while not self._stop.wait(1.0):
            current = self._code_fingerprint()
            if current != seen:
                seen = current
                self.sink.write("stack", "code changed: functions reload on their next invocation")
                for pool in self.pools.values():
                    pool.recycle()

    def _seed(self) -> dict[str, Any]:
        # The seed hook provisions through the shared package, like the functions do.
        for logical_id in self.template.functions:
            for folder in self._layer_dirs(logical_id):
                if str(folder) not in sys.path:
                    sys.path.append(str(folder))
        try:
            seed: Any = importlib.import_module("local.seed")
        except ModuleNotFoundError as exc:
            if exc.name != "local.seed":
                raise
            self.sink.write("stack", "no local/seed.py: nothing seeded")
            return {}
        seed_demo = seed.seed_demo
        if "api_url" in inspect.signature(seed_demo).parameters:
            workspaces = seed_demo(self.aws_endpoint_url, self.resources, api_url=self.api_url)
        else:
            workspaces = seed_demo(self.aws_endpoint_url, self.resources)
        return dict(workspaces or {})

    def _write_credentials(self) -> None:
        document: dict[str, Any] = {
            "api_url": self.api_url,
            "aws_endpoint_url": self.aws_endpoint_url,
            "workspaces": self.workspaces,
            "model": self.model,
        }
        if self.dev_issuer_trusted:
            document["clerk"] = {
                "issuer": self.clerk_issuer,
                "jwks_url": f"{self.api_url}{JWKS_PATH}",
                "authorized_parties": self.template.parameter_value("ClerkAuthorizedParties"),
                "key_file": KEY_FILE,
            }
        path = self.credentials_path
        temporary = path.with_suffix(".tmp")
        # Written last and renamed into place: its existence means "ready".
        with os.fdopen(
            os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8"
        ) as handle:
            json.dump(document, handle, indent=2)
        temporary.replace(path)


def _ses_error(code: str, message: str) -> str:
    return (
        '<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error>'
        f"<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
