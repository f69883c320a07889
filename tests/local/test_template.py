"""Template loading: short tags, intrinsics, conditions, Globals and event sources."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import Template, TemplateError, load_template, parse_yaml
from tests.local.conftest import TEMPLATE


class FakeRefs:
    """Resource values as a ResourceMap would give them."""

    def ref(self, logical_id: str) -> str:
        return f"ref:{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> str:
        return f"att:{logical_id}.{attribute}"


def test_short_tags_become_the_json_form() -> None:
    data = parse_yaml(
        "A: !Ref X\n"
        "B: !GetAtt T.StreamArn\n"
        "C: !Sub ['${a}', {a: !Ref Y}]\n"
        "D: !If [Cond, !Join ['', [x]], !Ref AWS::NoValue]\n"
        "E: !Select [0, !GetAZs '']\n"
    )
    assert data == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["T", "StreamArn"]},
        "C": {"Fn::Sub": ["${a}", {"a": {"Ref": "Y"}}]},
        "D": {"Fn::If": ["Cond", {"Fn::Join": ["", ["x"]]}, {"Ref": "AWS::NoValue"}]},
        "E": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
    }


def test_globals_merge_into_functions_with_the_function_winning() -> None:
    template = load_template(TEMPLATE)
    env = template.function_environment("ApiFunction", FakeRefs())
    assert env["SHARED"] == "from-globals"
    assert env["OVERRIDDEN"] == "from-function"
    spec = template.functions["ApiFunction"]
    assert (spec.timeout, spec.memory_size, spec.runtime) == (5, 1024, "python3.13")
    assert template.functions["SlowFunction"].timeout == 1
    # Lists are additive in SAM's Globals: the function's layers come after the global ones.
    assert template.resources["ApiFunction"]["Properties"]["Layers"] == [{"Ref": "SharedLayer"}]


def test_intrinsics_resolve_with_defaults_and_pseudo_parameters() -> None:
    env = load_template(TEMPLATE).function_environment("ApiFunction", FakeRefs())
    assert env["EVENTS_TABLE"] == "ref:EventsTable"
    assert env["EVENTS_STREAM"] == "att:EventsTable.StreamArn"
    assert env["JOINED"] == "stage-dev"
    assert env["SUBBED"] == "yoosr-local/ref:EventsTable/us-east-1/${Literal}"
    assert env["SUB_LIST"] == "dev|https://b.example"
    assert env["SPLIT_SELECT"] == "r"
    assert env["CHOSEN"] == "dev-value"
    assert "ONLY_IN_PROD" not in env
    assert env["URL_SUFFIX"] == "amazonaws.com:aws:123456789012"


def test_parameters_and_conditions_follow_overrides() -> None:
    template = load_template(TEMPLATE, {"Stage": "prod"}, stack_name="other")
    env = template.function_environment("ApiFunction", FakeRefs())
    assert (env["CHOSEN"], env["ONLY_IN_PROD"], env["JOINED"]) == (
        "prod-value",
        "present",
        "stage-prod",
    )
    assert env["SUBBED"].startswith("other/")
    assert "ProdOnlyQueue" in template.resources
    assert "ProdOnlyQueue" not in load_template(TEMPLATE).resources
    assert template.condition("IsDev") is False


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(TemplateError, match="unknown parameters"):
        load_template(TEMPLATE, {"Stag": "prod"})


def test_resource_reference_without_resource_values_is_an_error() -> None:
    template = load_template(TEMPLATE)
    with pytest.raises(TemplateError):
        template.resolve({"Ref": "EventsTable"})


def test_routes_stream_queue_and_schedule_sources() -> None:
    template = load_template(TEMPLATE)
    routes = {r.route_key: r.function for r in template.routes}
    assert routes["POST /items/{item_id}"] == "ApiFunction"
    assert routes["ANY /files/{path+}"] == "ApiFunction"
    assert routes["GET /slow"] == "SlowFunction"

    (stream,) = template.stream_sources
    assert (stream.function, stream.table, stream.starting_position) == (
        "StreamConsumerFunction",
        "EventsTable",
        "TRIM_HORIZON",
    )
    assert (stream.batch_size, stream.maximum_retry_attempts) == (10, 2)
    assert stream.bisect_on_error and stream.report_batch_item_failures
    assert stream.filters == (
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["order"]}}}},
    )
    assert stream.on_failure_type == "SQS"
    assert stream.on_failure_destination == {"Fn::GetAtt": ["StreamFailuresDLQ", "Arn"]}

    queues = {q.event_name: q for q in template.sqs_sources}
    assert queues["Jobs"].queue_logical_id == "JobsQueue"
    assert queues["Jobs"].report_batch_item_failures
    assert not queues["Plain"].report_batch_item_failures
    assert queues["Plain"].filters == ({"body": {"wanted": [True]}},)

    schedules = {s.event_name: s for s in template.schedules}
    assert schedules["Nightly"].expression == "rate(1 day)"
    assert schedules["Cleanup"].input == '{"job": "cleanup"}'
    assert schedules["Cleanup"].enabled is False
    assert schedules["Reports"].kind == "ScheduleV2"


def test_the_project_template_loads() -> None:
    template = load_template(TEMPLATE.parents[3] / "template.yaml")
    assert template.routes, "template.yaml declares HttpApi routes"
    for function in template.functions.values():
        env: dict[str, Any] = template.function_environment(function.logical_id, FakeRefs())
        assert all(isinstance(v, str) for v in env.values())
    assert isinstance(template, Template)
