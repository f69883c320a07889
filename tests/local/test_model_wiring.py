"""How the local stack wires the bot's model: YOOSR_LOCAL_MODEL / OPENROUTER_API_KEY, the key
parameter, the stand-in's base URL for the functions that call OpenRouter, and the stand-in's
route on the local API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from local import model
from local.stack import REPO_ROOT, Stack, StackConfig

BOT = "BotReplyEventsFunction"
BASE_URL = "http://127.0.0.1:3999/_local/openrouter/api/v1"


class FakeRefs:
    """Physical names for !Ref / !GetAtt, enough to resolve function environments."""

    def ref(self, logical_id: str) -> str:
        return f"phys-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> str:
        return f"arn:phys-{logical_id}.{attribute}"


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ("off", "")),
        ({"YOOSR_LOCAL_MODEL": "local"}, ("local", "")),
        ({"YOOSR_LOCAL_MODEL": " LOCAL "}, ("local", "")),
        ({"OPENROUTER_API_KEY": "sk-or-v1-real"}, ("openrouter", "sk-or-v1-real")),
        (
            {"YOOSR_LOCAL_MODEL": "openrouter", "OPENROUTER_API_KEY": "sk-or-v1-real"},
            ("openrouter", "sk-or-v1-real"),
        ),
        # An explicit mode wins over a key in the environment, which is then never used.
        ({"YOOSR_LOCAL_MODEL": "off", "OPENROUTER_API_KEY": "sk-or-v1-real"}, ("off", "")),
        ({"YOOSR_LOCAL_MODEL": "local", "OPENROUTER_API_KEY": "sk-or-v1-real"}, ("local", "")),
    ],
)
def test_the_model_mode_comes_from_the_environment(
    environ: dict[str, str], expected: tuple[str, str]
) -> None:
    config = StackConfig.from_env(environ)
    assert (config.model, config.openrouter_api_key) == expected


def test_the_key_never_shows_in_the_config_repr() -> None:
    config = StackConfig.from_env({"OPENROUTER_API_KEY": "sk-or-v1-very-secret"})
    assert "very-secret" not in repr(config)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"YOOSR_LOCAL_MODEL": "gpt"}, "YOOSR_LOCAL_MODEL must be one of off, local, openrouter"),
        ({"YOOSR_LOCAL_MODEL": "openrouter"}, "needs OPENROUTER_API_KEY"),
    ],
)
def test_a_bad_model_setting_is_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackConfig.from_env(environ)


# ---------------------------------------------------------------- wiring (no stack started)


def configured(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Stack:
    monkeypatch.setattr(Stack, "model_base_url", property(lambda self: BASE_URL))
    stack = Stack(StackConfig(template_path=REPO_ROOT / "template.yaml", **settings))
    stack._configure_model()
    return stack


def environment(stack: Stack, logical_id: str) -> dict[str, str]:
    env = stack.template.function_environment(logical_id, FakeRefs())
    env.update(stack._local_environment(env))
    return env


def test_off_leaves_the_bot_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = configured(monkeypatch)
    assert stack.model == "off"
    env = environment(stack, BOT)
    assert env["YOOSR_OPENROUTER_API_KEY_PARAMETER"] == ""
    assert "YOOSR_OPENROUTER_BASE_URL" not in env


def test_local_points_the_bot_at_the_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = configured(monkeypatch, model="local")
    assert stack.model == "local"
    assert stack._model_key == (model.LOCAL_KEY_PARAMETER, model.LOCAL_API_KEY)
    env = environment(stack, BOT)
    assert env["YOOSR_OPENROUTER_API_KEY_PARAMETER"] == model.LOCAL_KEY_PARAMETER
    assert env["YOOSR_OPENROUTER_BASE_URL"] == BASE_URL
    # Only functions that read the key parameter get the base URL.
    assert "YOOSR_OPENROUTER_BASE_URL" not in environment(stack, "WidgetIngestFunction")


def test_openrouter_stores_the_real_key_and_keeps_the_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = configured(monkeypatch, model="openrouter", openrouter_api_key="sk-or-v1-real")
    assert stack.model == "openrouter"
    assert stack._model_key == (model.LOCAL_KEY_PARAMETER, "sk-or-v1-real")
    env = environment(stack, BOT)
    assert env["YOOSR_OPENROUTER_API_KEY_PARAMETER"] == model.LOCAL_KEY_PARAMETER
    assert "YOOSR_OPENROUTER_BASE_URL" not in env


def test_a_key_parameter_given_in_local_parameters_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    mine = {"OpenRouterApiKeyParameter": "/mine/openrouter"}
    stack = configured(monkeypatch, model="local", parameters=dict(mine))
    assert stack._model_key == ("/mine/openrouter", model.LOCAL_API_KEY)
    assert environment(stack, BOT)["YOOSR_OPENROUTER_API_KEY_PARAMETER"] == "/mine/openrouter"

    # An empty one means no model at all, whatever the mode.
    stack = configured(monkeypatch, model="local", parameters={"OpenRouterApiKeyParameter": ""})
    assert (stack.model, stack._model_key) == ("off", None)
    assert "YOOSR_OPENROUTER_BASE_URL" not in environment(stack, BOT)


# ---------------------------------------------------------------- the stand-in's route


def test_the_stand_in_answers_on_the_local_api(fixture_stack: Stack) -> None:
    # The fixture template has no OpenRouter parameter: the model is off, the route still
    # answers (a development tool, like the Clerk issuer's JWKS).
    assert fixture_stack.model == "off"
    url = f"{fixture_stack.api_url}{model.COMPLETIONS_PATH}"
    body = {
        "model": "openai/gpt-4o-mini",
        "provider": {"data_collection": "deny"},
        "messages": [
            {"role": "system", "content": "Knowledge entries:\n[Hours]\nOpen 9-5. Closed Sunday."},
            {"role": "user", "content": "What are your opening hours?"},
        ],
    }
    auth = {"Authorization": f"Bearer {model.LOCAL_API_KEY}"}
    answered = httpx.post(url, json=body, headers=auth, timeout=10)
    assert answered.status_code == 200
    assert answered.headers["content-type"] == "application/json"
    content = json.loads(answered.json()["choices"][0]["message"]["content"])
    assert content == {"answer": "Open 9-5. Closed Sunday.", "handoff": False, "confidence": 0.8}

    assert httpx.post(url, json=body, timeout=10).status_code == 401
    leaky = {**body, "provider": {"data_collection": "allow"}}
    assert httpx.post(url, json=leaky, headers=auth, timeout=10).status_code == 400
    assert httpx.get(url, headers=auth, timeout=10).status_code == 404
    other = f"{fixture_stack.api_url}{model.BASE_PATH}/models"
    assert httpx.post(other, json={}, headers=auth, timeout=10).status_code == 404
