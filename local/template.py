"""Read a SAM template the way CloudFormation would, for the local stack.

`load_template` parses template.yaml (CloudFormation short tags included), merges SAM
`Globals.Function` into every function and evaluates Conditions. Intrinsics are resolved on
demand with `Template.resolve`, given something that answers `!Ref` / `!GetAtt` for resources
(a `local.resources.ResourceMap`).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "yoosr-local"

NO_VALUE = object()
"""Marker for `!Ref AWS::NoValue`: the enclosing key or list item disappears."""


class TemplateError(ValueError):
    """The template uses something the local stack cannot evaluate."""


class RefResolver(Protocol):
    """Answers `!Ref` and `!GetAtt` for resources (not parameters or pseudo parameters)."""

    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...


# ---------------------------------------------------------------- YAML with short tags

_FN_TAGS = (
    "Base64", "Cidr", "FindInMap", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub",
    "Transform", "And", "Equals", "If", "Not", "Or", "Length", "ToJsonString", "ForEach",
)  # fmt: skip


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that turns `!Tag value` into CloudFormation's JSON form (`{"Fn::Tag": value}`)."""


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unexpected YAML node {node!r}")


def _fn_constructor(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _construct_node(loader, node)}

    return construct


def _ref_constructor(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _construct_node(loader, node)}


def _condition_constructor(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _construct_node(loader, node)}


def _getatt_constructor(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct_node(loader, node)
    if isinstance(value, str):
        # Short form "Resource.Attribute"; attribute names may contain dots themselves.
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    return {"Fn::GetAtt": value}


for _name in _FN_TAGS:
    _CfnLoader.add_constructor(f"!{_name}", _fn_constructor(_name))
_CfnLoader.add_constructor("!Ref", _ref_constructor)
_CfnLoader.add_constructor("!GetAtt", _getatt_constructor)
_CfnLoader.add_constructor("!Condition", _condition_constructor)


def parse_yaml(text: str) -> dict[str, Any]:
    """Parse CloudFormation YAML (or JSON) into its JSON form."""
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506  # nosec B506  # SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError("template is not a mapping")
    return data


# ---------------------------------------------------------------- event sources


@dataclass(frozen=True)
class Route:
    """One HttpApi event: `method` is upper case or ANY; `path` uses {param} and {param+}."""

    method: str
    path: str
    function: str
    event_name: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event source of a function (values resolved except the ARN)."""

    function: str
    event_name: str
    stream: Any
    table: str | None
    starting_position: str = "LATEST"
    batch_size: int = 100
    maximum_batching_window_s: float = 0.0
    maximum_retry_attempts: int = -1
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    filters: tuple[dict[str, Any], ...] = ()
    on_failure_type: str | None = None
    on_failure_destination: Any = None
    enabled: bool = True


@dataclass(frozen=True)
class SqsSource:
    """An SQS event source of a function."""

    function: str
    event_name: str
    queue: Any
    queue_logical_id: str | None
    batch_size: int = 10
    maximum_batching_window_s: float = 0.0
    report_batch_item_failures: bool = False
    filters: tuple[dict[str, Any], ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class ScheduleSource:
    """A Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler) event."""

    function: str
    event_name: str
    kind: str
    expression: str
    input: str | None
    name: str | None
    enabled: bool


@dataclass(frozen=True)
class FunctionSpec:
    """An AWS::Serverless::Function after the Globals merge; `environment` is unresolved."""

    logical_id: str
    code_uri: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: Mapping[str, Any]
    events: Mapping[str, Any]
    function_name: Any = None


@dataclass
class Template:
    """A loaded SAM template with parameter values and pseudo parameters fixed."""

    path: Path | None
    raw: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    stack_name: str = STACK_NAME
    region: str = REGION
    account_id: str = ACCOUNT_ID

    @property
    def root(self) -> Path:
        """The directory CodeUri paths are relative to."""
        return self.path.parent if self.path else Path.cwd()

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """Resources whose Condition holds, with SAM Globals merged into functions."""
        out: dict[str, dict[str, Any]] = {}
        for logical_id, declared in self.raw.get("Resources", {}).items():
            condition = declared.get("Condition")
            if condition is not None and not self.condition(condition):
                continue
            if declared.get("Type") == "AWS::Serverless::Function":
                out[logical_id] = _merge_function_globals(self.raw.get("Globals", {}), declared)
            else:
                out[logical_id] = declared
        return out

    def resources_of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") in types}

    def pseudo_parameters(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/"
                f"{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
            "AWS::NotificationARNs": [],
        }

    # ------------------------------------------------------------ intrinsics

    def condition(self, name: str) -> bool:
        """Evaluate a named condition from the Conditions section."""
        conditions = self.raw.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name!r}")
        return bool(self.resolve(conditions[name]))

    def resolve(self, value: Any, refs: RefResolver | None = None) -> Any:
        """Resolve every intrinsic in `value`; resource references go to `refs`."""
        result = self._resolve(value, refs)
        return None if result is NO_VALUE else result

    def _resolve(self, value: Any, refs: RefResolver | None) -> Any:
        if isinstance(value, list):
            items = [self._resolve(v, refs) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg, refs)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg, refs)
        out = {}
        for k, v in value.items():
            resolved = self._resolve(v, refs)
            if resolved is not NO_VALUE:
                out[k] = resolved
        return out

    def _ref(self, name: Any, refs: RefResolver | None) -> Any:
        name = self._resolve(name, refs)
        if name == "AWS::NoValue":
            return NO_VALUE
        pseudo = self.pseudo_parameters()
        if name in pseudo:
            return pseudo[name]
        if name in self.raw.get("Parameters", {}):
            return self.parameter_value(name)
        if refs is None:
            raise TemplateError(f"!Ref {name} needs resource values")
        return refs.ref(name)

    def parameter_value(self, name: str) -> Any:
        spec = self.raw["Parameters"][name]
        value = self.parameters.get(name, spec.get("Default"))
        if value is None:
            raise TemplateError(f"parameter {name} has no value and no default")
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            if isinstance(value, list):
                return [str(v) for v in value]
            return [v.strip() for v in str(value).split(",")] if str(value) else [""]
        return str(value) if not isinstance(value, str) else value

    def _get_att(self, logical_id: str, attribute: str, refs: RefResolver | None) -> Any:
        if refs is None:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute} needs resource values")
        return refs.get_att(logical_id, attribute)

    def _function(self, name: str, arg: Any, refs: RefResolver | None) -> Any:
        if name == "GetAtt":
            parts = self._resolve(arg, refs)
            if isinstance(parts, str):
                parts = parts.split(".", 1)
            return self._get_att(parts[0], ".".join(parts[1:]), refs)
        if name == "If":
            condition, if_true, if_false = arg
            branch = if_true if self.condition(condition) else if_false
            return self._resolve(branch, refs)
        if name == "Sub":
            return self._sub(arg, refs)
        args = self._resolve(arg, refs)
        if name == "Equals":
            left, right = args
            return str(left) == str(right) if not isinstance(left, list) else left == right
        if name == "And":
            return all(bool(a) for a in args)
        if name == "Or":
            return any(bool(a) for a in args)
        if name == "Not":
            return not bool(args[0])
        if name == "Join":
            delimiter, items = args
            return str(delimiter).join(str(i) for i in items)
        if name == "Select":
            index, items = args
            return items[int(index)]
        if name == "Split":
            delimiter, text = args
            return str(text).split(str(delimiter))
        if name == "GetAZs":
            region = args or self.region
            return [f"{region}{zone}" for zone in "abc"]
        if name == "FindInMap":
            map_name, top, second = args[:3]
            try:
                return self.raw["Mappings"][map_name][top][second]
            except KeyError:
                if len(args) > 3 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
                    return args[3]["DefaultValue"]
                raise TemplateError(f"no mapping {map_name}/{top}/{second}") from None
        if name == "Base64":
            return base64.b64encode(str(args).encode()).decode()
        if name == "Length":
            return len(args)
        if name == "ToJsonString":
            return json.dumps(args, separators=(",", ":"))
        raise TemplateError(f"Fn::{name} is not supported by the local stack")

    _SUB_VAR = re.compile(r"\$\{([^}]*)\}")

    def _sub(self, arg: Any, refs: RefResolver | None) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self._resolve(arg[1] if len(arg) > 1 else {}, refs)
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _as_text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return _as_text(self._get_att(logical_id, attribute, refs))
            return _as_text(self._ref(name, refs))

        return self._SUB_VAR.sub(replace, str(text))

    # ------------------------------------------------------------ SAM views

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        """AWS::Serverless::Function resources by logical id."""
        out = {}
        for logical_id, resource in self.resources_of_type("AWS::Serverless::Function").items():
            props = resource.get("Properties", {})
            code_uri = self.resolve(props.get("CodeUri", "."))
            if not isinstance(code_uri, str):
                raise TemplateError(f"{logical_id}: only local CodeUri paths are supported")
            out[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_uri=code_uri,
                handler=str(self.resolve(props.get("Handler", ""))),
                runtime=str(self.resolve(props.get("Runtime", "python3"))),
                timeout=int(self.resolve(props.get("Timeout", 3))),
                memory_size=int(self.resolve(props.get("MemorySize", 128))),
                environment=props.get("Environment", {}).get("Variables", {}) or {},
                events=props.get("Events", {}) or {},
                function_name=props.get("FunctionName"),
            )
        return out

    def function_environment(self, logical_id: str, refs: RefResolver) -> dict[str, str]:
        """The function's environment variables with every intrinsic resolved."""
        variables = self.resolve(self.functions[logical_id].environment, refs) or {}
        return {str(k): _as_text(v) for k, v in variables.items()}

    @property
    def routes(self) -> list[Route]:
        """HttpApi events of every function."""
        out = []
        for fn in self.functions.values():
            for event_name, event in fn.events.items():
                if event.get("Type") != "HttpApi":
                    continue
                props = self.resolve(_without(event.get("Properties", {}), "ApiId")) or {}
                method = str(props.get("Method", "ANY")).upper()
                method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
                path = str(props.get("Path", "$default"))
                out.append(Route(method, path, fn.logical_id, event_name))
        return out

    @property
    def stream_sources(self) -> list[StreamSource]:
        """DynamoDB (stream) events of every function."""
        out = []
        for fn in self.functions.values():
            for event_name, event in fn.events.items():
                if event.get("Type") != "DynamoDB":
                    continue
                raw = event.get("Properties", {})
                props = self.resolve(_without(raw, "Stream", "DestinationConfig")) or {}
                on_failure = raw.get("DestinationConfig", {}).get("OnFailure", {})
                out.append(
                    StreamSource(
                        function=fn.logical_id,
                        event_name=event_name,
                        stream=raw.get("Stream"),
                        table=_getatt_target(raw.get("Stream"), "StreamArn"),
                        starting_position=str(props.get("StartingPosition", "LATEST")),
                        batch_size=int(props.get("BatchSize", 100)),
                        maximum_batching_window_s=float(
                            props.get("MaximumBatchingWindowInSeconds", 0)
                        ),
                        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                        bisect_on_error=_truthy(props.get("BisectBatchOnFunctionError", False)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in (props.get("FunctionResponseTypes") or []),
                        filters=_filter_patterns(props.get("FilterCriteria")),
                        on_failure_type=self.resolve(on_failure.get("Type")),
                        on_failure_destination=on_failure.get("Destination"),
                        enabled=_truthy(props.get("Enabled", True)),
                    )
                )
        return out

    @property
    def sqs_sources(self) -> list[SqsSource]:
        """SQS events of every function."""
        out = []
        for fn in self.functions.values():
            for event_name, event in fn.events.items():
                if event.get("Type") != "SQS":
                    continue
                raw = event.get("Properties", {})
                props = self.resolve(_without(raw, "Queue")) or {}
                out.append(
                    SqsSource(
                        function=fn.logical_id,
                        event_name=event_name,
                        queue=raw.get("Queue"),
                        queue_logical_id=_getatt_target(raw.get("Queue"), "Arn"),
                        batch_size=int(props.get("BatchSize", 10)),
                        maximum_batching_window_s=float(
                            props.get("MaximumBatchingWindowInSeconds", 0)
                        ),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in (props.get("FunctionResponseTypes") or []),
                        filters=_filter_patterns(props.get("FilterCriteria")),
                        enabled=_truthy(props.get("Enabled", True)),
                    )
                )
        return out

    @property
    def schedules(self) -> list[ScheduleSource]:
        """Schedule and ScheduleV2 events of every function."""
        out = []
        for fn in self.functions.values():
            for event_name, event in fn.events.items():
                kind = event.get("Type")
                if kind not in ("Schedule", "ScheduleV2"):
                    continue
                props = self.resolve(event.get("Properties", {})) or {}
                enabled = _truthy(props.get("Enabled", True))
                if "State" in props:
                    enabled = str(props["State"]).upper() == "ENABLED"
                out.append(
                    ScheduleSource(
                        function=fn.logical_id,
                        event_name=event_name,
                        kind=str(kind),
                        expression=str(props.get("Schedule", props.get("ScheduleExpression", ""))),
                        input=_input_text(props.get("Input")),
                        name=props.get("Name"),
                        enabled=enabled,
                    )
                )
        return out


# ---------------------------------------------------------------- helpers


def load_template(
    path: str | Path = "template.yaml",
    parameters: Mapping[str, Any] | None = None,
    *,
    stack_name: str = STACK_NAME,
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
) -> Template:
    """Load a SAM template; `parameters` override the template's parameter defaults."""
    path = Path(path).resolve()
    raw = parse_yaml(path.read_text(encoding="utf-8"))
    unknown = set(parameters or {}) - set(raw.get("Parameters", {}))
    if unknown:
        raise TemplateError(f"unknown parameters: {sorted(unknown)}")
    return Template(
        path=path,
        raw=raw,
        parameters=dict(parameters or {}),
        stack_name=stack_name,
        region=region,
        account_id=account_id,
    )


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge (local wins), lists concatenate, scalars are replaced."""
    if _is_intrinsic(global_value) or _is_intrinsic(local_value):
        return copy.deepcopy(local_value)
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = copy.deepcopy(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(merged[key], value) if key in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return copy.deepcopy(global_value) + copy.deepcopy(local_value)
    return copy.deepcopy(local_value)


def _merge_function_globals(globals_: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(resource)
    merged["Properties"] = _merge_globals(
        globals_.get("Function", {}) or {}, resource.get("Properties", {}) or {}
    )
    return merged


def _without(mapping: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def _getatt_target(value: Any, attribute: str) -> str | None:
    """The logical id in `!GetAtt X.<attribute>`, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        parts = value["Fn::GetAtt"]
        if isinstance(parts, str):
            parts = parts.split(".", 1)
        if len(parts) == 2 and parts[1] == attribute and isinstance(parts[0], str):
            return parts[0]
    return None


def _filter_patterns(criteria: Any) -> tuple[dict[str, Any], ...]:
    if not criteria:
        return ()
    patterns = []
    for entry in criteria.get("Filters", []) or []:
        pattern = entry.get("Pattern")
        if isinstance(pattern, str):
            pattern = json.loads(pattern)
        if not isinstance(pattern, dict):
            raise TemplateError("a FilterCriteria pattern must be a JSON object")
        patterns.append(pattern)
    return tuple(patterns)


def _input_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
