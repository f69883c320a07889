"""Bot flows: the versioned JSON a workspace saves, and its validation on save.

`validate_flow` turns untrusted JSON into a `Flow` or raises `ValidationFailed` (422) whose
details name the step at fault, e.g. `{"field": "steps[3].next", "message": "step 'ask_email':
next points to unknown step 'thanks'"}`.

Graph rules, checked once every step parses and every target exists:

- every step is reachable from `start_step`;
- no loop spins: the bot runs message, condition and set_attribute steps without waiting, so a
  cycle made only of those would run forever within one reply. Every cycle must pass through a
  step that waits for the visitor (buttons, collect or ai_answer);
- every loop has an exit: from every step some path leads to an *exit*, a handoff or close step.
  (ai_answer always has one through `on_no_answer`, which must be a handoff step.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from yoosr.errors import ValidationFailed

StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
AttributeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
BotText = Annotated[str, Field(min_length=1, max_length=2000)]
FieldKind = Literal["email", "phone", "name", "text"]

MAX_STEPS = 200
DEFAULT_HANDOFF_MESSAGE = "Let me connect you with someone from our team."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Step(_Strict):
    id: StepId

    def targets(self) -> Iterator[tuple[str, str]]:
        """(field path within the step, target step id) for every outgoing edge."""
        return iter(())


class MessageStep(_Step):
    type: Literal["message"] = "message"
    text: BotText
    next: StepId

    def targets(self) -> Iterator[tuple[str, str]]:
        yield "next", self.next


class ButtonOption(_Strict):
    label: Annotated[str, Field(min_length=1, max_length=40)]
    # What the widget sends back when the option is tapped; the label when omitted.
    value: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    next: StepId

    @property
    def reply_value(self) -> str:
        return self.value if self.value is not None else self.label


class ButtonsStep(_Step):
    type: Literal["buttons"] = "buttons"
    text: BotText
    options: Annotated[tuple[ButtonOption, ...], Field(min_length=1, max_length=10)]
    # Where typed text that matches no option goes (an ai_answer step, say); without it the
    # buttons are offered again.
    on_other: StepId | None = None

    @model_validator(mode="after")
    def _distinct_values(self) -> ButtonsStep:
        values = [option.reply_value.casefold() for option in self.options]
        if len(set(values)) != len(values):
            raise ValueError("two options send the same value")
        return self

    def targets(self) -> Iterator[tuple[str, str]]:
        for index, option in enumerate(self.options):
            yield f"options[{index}].next", option.next
        if self.on_other is not None:
            yield "on_other", self.on_other


class CollectStep(_Step):
    type: Literal["collect"] = "collect"
    field: FieldKind
    attribute: AttributeName
    prompt: BotText
    # Sent after an invalid answer; the prompt again when omitted.
    invalid_prompt: BotText | None = None
    max_attempts: Annotated[int, Field(ge=1, le=5)] = 3
    next: StepId
    on_fail: StepId

    def targets(self) -> Iterator[tuple[str, str]]:
        yield "next", self.next
        yield "on_fail", self.on_fail


class AttributeRule(_Strict):
    kind: Literal["attribute"] = "attribute"
    attribute: AttributeName
    op: Literal["equals", "not_equals", "contains", "exists", "missing"]
    value: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _value_when_compared(self) -> AttributeRule:
        compares = self.op in ("equals", "not_equals", "contains")
        if compares and self.value is None:
            raise ValueError(f"op {self.op!r} needs a value")
        if not compares and self.value is not None:
            raise ValueError(f"op {self.op!r} takes no value")
        return self


class BusinessHoursRule(_Strict):
    kind: Literal["business_hours_open"] = "business_hours_open"
    value: bool = True


class AgentsOnlineRule(_Strict):
    kind: Literal["agents_online"] = "agents_online"
    value: bool = True


Rule: TypeAlias = Annotated[
    AttributeRule | BusinessHoursRule | AgentsOnlineRule, Field(discriminator="kind")
]


class ConditionStep(_Step):
    type: Literal["condition"] = "condition"
    rules: Annotated[tuple[Rule, ...], Field(min_length=1, max_length=10)]
    match: Literal["all", "any"] = "all"
    then: StepId
    else_: StepId = Field(alias="else")

    def targets(self) -> Iterator[tuple[str, str]]:
        yield "then", self.then
        yield "else", self.else_


class SetAttributeStep(_Step):
    type: Literal["set_attribute"] = "set_attribute"
    attribute: AttributeName
    value: Annotated[str, Field(max_length=500)]
    next: StepId

    def targets(self) -> Iterator[tuple[str, str]]:
        yield "next", self.next


class AiAnswerStep(_Step):
    type: Literal["ai_answer"] = "ai_answer"
    # Sent on arrival when there is no question yet ("What would you like to know?").
    prompt: BotText | None = None
    # Without it the bot stays here and answers the next question too.
    next_on_answer: StepId | None = None
    # Must be a handoff step: a model that cannot answer always ends with a person.
    on_no_answer: StepId

    def targets(self) -> Iterator[tuple[str, str]]:
        if self.next_on_answer is not None:
            yield "next_on_answer", self.next_on_answer
        yield "on_no_answer", self.on_no_answer


class HandoffStep(_Step):
    type: Literal["handoff"] = "handoff"
    department_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    message: BotText = DEFAULT_HANDOFF_MESSAGE


class CloseStep(_Step):
    type: Literal["close"] = "close"
    message: BotText


Step: TypeAlias = Annotated[
    MessageStep
    | ButtonsStep
    | CollectStep
    | ConditionStep
    | SetAttributeStep
    | AiAnswerStep
    | HandoffStep
    | CloseStep,
    Field(discriminator="type"),
]

STEP_TYPES: dict[str, type[_Step]] = {
    "message": MessageStep,
    "buttons": ButtonsStep,
    "collect": CollectStep,
    "condition": ConditionStep,
    "set_attribute": SetAttributeStep,
    "ai_answer": AiAnswerStep,
    "handoff": HandoffStep,
    "close": CloseStep,
}
# Steps the engine runs straight through; every other step waits for the visitor or ends.
AUTO_STEPS = (MessageStep, ConditionStep, SetAttributeStep)
EXIT_STEPS = (HandoffStep, CloseStep)


class _FlowHeader(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    version: Annotated[int, Field(ge=1)]
    start_step: StepId
    # Where a visitor who asks for a person goes, and what the bot says then.
    default_department_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    handoff_message: BotText = DEFAULT_HANDOFF_MESSAGE


class Flow(_FlowHeader):
    steps: Annotated[tuple[Step, ...], Field(min_length=1, max_length=MAX_STEPS)]

    _by_id: dict[str, Step] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._by_id = {step.id: step for step in self.steps}

    def step(self, step_id: str) -> Step | None:
        return self._by_id.get(step_id)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _pydantic_errors(error: ValidationError, prefix: str, label: str) -> list[dict[str, str]]:
    found = error.errors()
    out = []
    for item in found:
        loc = tuple(item["loc"])
        # A list whose items failed also reports itself as too short; the item errors say more.
        if item["type"] == "too_short" and any(
            len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc
            for other in found
        ):
            continue
        message = item["msg"].removeprefix("Value error, ")
        out.append(_error(f"{prefix}{_path(loc)}".lstrip("."), f"{label}{message}"))
    return out


def _label(raw: Mapping[str, Any], index: int) -> str:
    step_id = raw.get("id")
    return f"step {step_id!r}" if isinstance(step_id, str) and step_id else f"step {index}"


def _structure_errors(data: Mapping[str, Any]) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    header = {key: value for key, value in data.items() if key != "steps"}
    try:
        _FlowHeader.model_validate(header)
    except ValidationError as error:
        errors += _pydantic_errors(error, "", "")

    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        return [*errors, _error("steps", "a flow needs a non-empty list of steps")]
    if len(raw_steps) > MAX_STEPS:
        return [*errors, _error("steps", f"a flow has at most {MAX_STEPS} steps")]

    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_steps):
        prefix = f"steps[{index}]"
        if not isinstance(raw, Mapping):
            errors.append(_error(prefix, f"step {index}: a step must be an object"))
            continue
        label = _label(raw, index)
        kind = raw.get("type")
        model = STEP_TYPES.get(kind) if isinstance(kind, str) else None
        if model is None:
            known = ", ".join(STEP_TYPES)
            errors.append(_error(f"{prefix}.type", f"{label}: unknown step type; use {known}"))
        else:
            try:
                model.model_validate(raw)
            except ValidationError as error:
                errors += _pydantic_errors(error, prefix, f"{label}: ")
        step_id = raw.get("id")
        if isinstance(step_id, str):
            if step_id in seen:
                errors.append(
                    _error(
                        f"{prefix}.id",
                        f"{label}: duplicate id (also steps[{seen[step_id]}])",
                    )
                )
            else:
                seen[step_id] = index
    return errors


def _edge_errors(flow: Flow) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    if flow.step(flow.start_step) is None:
        errors.append(_error("start_step", f"start_step {flow.start_step!r} is not a step"))
    for index, step in enumerate(flow.steps):
        for field, target in step.targets():
            where = f"steps[{index}].{field}"
            found = flow.step(target)
            if found is None:
                errors.append(
                    _error(where, f"step {step.id!r}: {field} points to unknown step {target!r}")
                )
            elif field == "on_no_answer" and not isinstance(found, HandoffStep):
                errors.append(
                    _error(
                        where,
                        f"step {step.id!r}: on_no_answer must be a handoff step, "
                        f"{target!r} is {found.type}",
                    )
                )
    return errors


def _edges(flow: Flow) -> dict[str, list[str]]:
    return {step.id: [target for _, target in step.targets()] for step in flow.steps}


def _reachable(edges: Mapping[str, list[str]], roots: list[str]) -> set[str]:
    seen = set(roots)
    stack = list(roots)
    while stack:
        for target in edges[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _cycles(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components that contain a cycle (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in targets:
                    found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def _graph_errors(flow: Flow) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    position = {step.id: index for index, step in enumerate(flow.steps)}
    edges = _edges(flow)

    reached = _reachable(edges, [flow.start_step])
    for index, step in enumerate(flow.steps):
        if step.id not in reached:
            errors.append(
                _error(
                    f"steps[{index}]",
                    f"step {step.id!r} is unreachable from start_step {flow.start_step!r}",
                )
            )

    auto = {step.id for step in flow.steps if isinstance(step, AUTO_STEPS)}
    auto_edges = {node: [t for t in edges[node] if t in auto] for node in auto}
    for component in _cycles(auto_edges):
        members = sorted(component, key=position.__getitem__)
        names = ", ".join(repr(member) for member in members)
        errors.append(
            _error(
                f"steps[{position[members[0]]}]",
                f"step {members[0]!r}: steps {names} form a loop that never waits for the "
                "visitor (add a buttons, collect or ai_answer step to it)",
            )
        )

    reverse: dict[str, list[str]] = {step.id: [] for step in flow.steps}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].append(source)
    exits = [step.id for step in flow.steps if isinstance(step, EXIT_STEPS)]
    can_exit = _reachable(reverse, exits)
    for index, step in enumerate(flow.steps):
        if step.id in reached and step.id not in can_exit:
            errors.append(
                _error(
                    f"steps[{index}]",
                    f"step {step.id!r} is in a loop without an exit: no path from it "
                    "reaches a handoff or close step",
                )
            )
    return errors


def validate_flow(data: Any) -> Flow:
    """Parse and check a flow as saved by an admin; raises ValidationFailed naming each step."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            "The flow failed validation.",
            details=[_error("body", "a flow must be a JSON object")],
        )
    errors = _structure_errors(data)
    if not errors:
        flow = Flow.model_validate(data)
        errors = _edge_errors(flow)
        # Graph rules only make sense once every edge lands on a real step.
        if not errors:
            errors = _graph_errors(flow)
    if errors:
        raise ValidationFailed("The flow failed validation.", details=errors)
    return flow
