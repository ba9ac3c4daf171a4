"""Settings: one camelCase model merged from workspace > initializationOptions > env > defaults;
bad values fall back to their own defaults with one message; the key is found and never shown."""

from __future__ import annotations

from typing import Any

import pytest

from responses_lsp.redaction import mask, redact
from responses_lsp.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    Settings,
    problems_message,
    resolve_settings,
    settings_keys,
)

KEY = "sk-settings-SECRET-0987654321"

# ------------------------------------------------------------------------------ merge order

# (scenario, workspace, initializationOptions, env, expected model, expected baseUrl)
MERGE_CASES: list[tuple[str, Any, Any, dict[str, str], str, str]] = [
    ("nothing set: defaults", None, None, {}, DEFAULT_MODEL, DEFAULT_BASE_URL),
    (
        "env over defaults",
        None,
        None,
        {"OPENAI_BASE_URL": "https://env.example", "RESPONSES_LSP_MODEL": "env-model"},
        "env-model",
        "https://env.example",
    ),
    (
        "initializationOptions over env",
        None,
        {"responsesLsp": {"model": "init-model", "baseUrl": "https://init.example"}},
        {"OPENAI_BASE_URL": "https://env.example", "RESPONSES_LSP_MODEL": "env-model"},
        "init-model",
        "https://init.example",
    ),
    (
        "workspace over initializationOptions",
        {"responsesLsp": {"model": "ws-model"}},
        {"responsesLsp": {"model": "init-model", "baseUrl": "https://init.example"}},
        {"OPENAI_BASE_URL": "https://env.example"},
        "ws-model",
        "https://init.example",
    ),
    (
        "workspace over everything, per key",
        {"baseUrl": "https://ws.example"},
        {"model": "init-model"},
        {"OPENAI_BASE_URL": "https://env.example", "RESPONSES_LSP_MODEL": "env-model"},
        "init-model",
        "https://ws.example",
    ),
    (
        "bare sections work like wrapped ones",
        {"model": "ws-model"},
        {"baseUrl": "https://init.example"},
        {},
        "ws-model",
        "https://init.example",
    ),
    (
        "editor nulls are ignored, not applied",
        {"responsesLsp": {"model": None, "baseUrl": None}},
        {"responsesLsp": {"model": "init-model"}},
        {"OPENAI_BASE_URL": "https://env.example"},
        "init-model",
        "https://env.example",
    ),
    (
        "a null section is ignored",
        {"responsesLsp": None},
        {"responsesLsp": {"model": "init-model"}},
        {},
        "init-model",
        DEFAULT_BASE_URL,
    ),
    (
        "an empty OPENAI_BASE_URL is not a value",
        None,
        None,
        {"OPENAI_BASE_URL": ""},
        DEFAULT_MODEL,
        DEFAULT_BASE_URL,
    ),
]


@pytest.mark.parametrize(
    ("workspace", "init", "env", "model", "base_url"),
    [case[1:] for case in MERGE_CASES],
    ids=[case[0] for case in MERGE_CASES],
)
def test_merge_order(
    workspace: Any, init: Any, env: dict[str, str], model: str, base_url: str
) -> None:
    resolved = resolve_settings(workspace=workspace, init_options=init, env=env)
    assert resolved.settings.model == model
    assert resolved.settings.base_url == base_url
    assert resolved.problems == ()


def test_every_key_is_read_from_its_camel_case_name() -> None:
    values = {
        "baseUrl": "http://127.0.0.1:9999",
        "apiKeyEnv": "MY_KEY",
        "model": "m",
        "reasoningEffort": "high",
        "requestTimeout": 5.5,
        "streamIdleTimeout": 7,
        "maxRetries": 0,
        "flushIntervalMs": 40,
        "session": "document",
        "compactThreshold": 5_000,
        "contextWindow": 10_000,
        "contextChars": 100,
        "actions": [{"id": "doc", "title": "Add docs", "prompt": "Document {selection}"}],
        "keepPartialOnCancel": True,
        "logLevel": "debug",
    }
    resolved = resolve_settings(workspace={"responsesLsp": values}, env={})
    s = resolved.settings
    assert resolved.problems == ()
    assert (s.base_url, s.api_key_env, s.model, s.reasoning_effort) == (
        "http://127.0.0.1:9999",
        "MY_KEY",
        "m",
        "high",
    )
    assert (s.request_timeout, s.stream_idle_timeout, s.max_retries, s.flush_interval_ms) == (
        5.5,
        7.0,
        0,
        40,
    )
    assert (s.session, s.compact_threshold, s.context_window, s.context_chars) == (
        "document",
        5_000,
        10_000,
        100,
    )
    assert s.keep_partial_on_cancel is True and s.log_level == "debug"
    assert [(a.id, a.title, a.kind, a.languages) for a in s.actions] == [
        ("doc", "Add docs", "refactor.rewrite", None)
    ]
    assert s.effective_compact_threshold == 5_000


def test_compact_threshold_defaults_to_80_percent_of_the_window() -> None:
    s = resolve_settings(workspace={"contextWindow": 100_000}, env={}).settings
    assert s.effective_compact_threshold == 80_000


# ------------------------------------------------------------------------------ the key


@pytest.mark.parametrize(
    ("workspace", "env", "key", "source"),
    [
        ({}, {"OPENAI_API_KEY": KEY}, KEY, "environment variable OPENAI_API_KEY"),
        ({"apiKeyEnv": "CORP_KEY"}, {"CORP_KEY": KEY}, KEY, "environment variable CORP_KEY"),
        (
            {"apiKeyEnv": "CORP_KEY"},
            {"OPENAI_API_KEY": "sk-not-this-one-000"},
            None,
            "none",
        ),
        (
            {"apiKey": KEY},
            {"OPENAI_API_KEY": "sk-env-loses-000000"},
            KEY,
            "settings (responsesLsp.apiKey)",
        ),
        ({"apiKey": ""}, {"OPENAI_API_KEY": KEY}, KEY, "environment variable OPENAI_API_KEY"),
        ({}, {}, None, "none"),
        ({}, {"OPENAI_API_KEY": ""}, None, "none"),
    ],
    ids=[
        "OPENAI_API_KEY by default",
        "custom apiKeyEnv",
        "custom apiKeyEnv replaces the default variable",
        "apiKey setting wins over env",
        "empty apiKey setting falls through to env",
        "no key anywhere",
        "empty env variable is no key",
    ],
)
def test_key_lookup(
    workspace: dict[str, Any], env: dict[str, str], key: str | None, source: str
) -> None:
    resolved = resolve_settings(workspace=workspace, env=env)
    assert resolved.api_key == key
    assert resolved.has_key is (key is not None)
    assert resolved.key_source == source


def test_the_key_is_masked_and_redacted_everywhere_it_could_show() -> None:
    resolved = resolve_settings(workspace={"apiKey": KEY}, env={})
    assert KEY not in repr(resolved.settings)
    assert KEY not in str(resolved.settings.model_dump())
    assert KEY not in repr(resolved)  # the dataclass holding the plain key
    assert KEY not in resolved.key_source
    # resolving registered the key: any text that carries it is cleaned
    assert redact(f"upstream said: bad key {KEY}!") == "upstream said: bad key ****!"
    assert mask(KEY) == "sk-****4321"
    assert mask(None) == "(none)" and mask("") == "(none)"
    assert mask("short-key") == "****"  # too short to show any of it


def test_a_key_from_the_environment_is_registered_for_redaction() -> None:
    env_key = "sk-from-env-SECRET-5555"
    resolve_settings(env={"OPENAI_API_KEY": env_key})
    assert env_key not in redact(f"echo {env_key}")


def test_reads_os_environ_when_no_env_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    resolved = resolve_settings()
    assert resolved.settings.base_url == "https://proxy.example"
    assert resolved.api_key == KEY


# ------------------------------------------------------------------------------ bad values


# (scenario, key, bad value, attribute, default value)
INVALID_CASES: list[tuple[str, str, Any, str, Any]] = [
    ("wrong type", "maxRetries", "many", "max_retries", 3),
    ("wrong type (list for a string)", "model", ["a"], "model", DEFAULT_MODEL),
    ("negative timeout", "requestTimeout", -1, "request_timeout", 60.0),
    ("zero idle timeout", "streamIdleTimeout", 0, "stream_idle_timeout", 120.0),
    ("unknown enum (effort)", "reasoningEffort", "huge", "reasoning_effort", None),
    ("unknown enum (session)", "session", "global", "session", "workspace"),
    ("unknown enum (logLevel)", "logLevel", "verbose", "log_level", "info"),
    ("bad env var name", "apiKeyEnv", "MY-KEY", "api_key_env", "OPENAI_API_KEY"),
    ("out of range", "maxRetries", 99, "max_retries", 3),
    ("fractional int", "flushIntervalMs", 1.5, "flush_interval_ms", 34),
    (
        "duplicate custom action ids",
        "actions",
        [
            {"id": "a", "title": "A", "prompt": "p"},
            {"id": "a", "title": "B", "prompt": "q"},
        ],
        "actions",
        (),
    ),
    (
        "malformed custom action (no prompt)",
        "actions",
        [{"id": "a", "title": "A"}],
        "actions",
        (),
    ),
    (
        "malformed custom action (bad id, bad kind)",
        "actions",
        [{"id": "a b", "title": "A", "prompt": "p", "kind": "source.fixAll"}],
        "actions",
        (),
    ),
    ("actions not a list", "actions", "doc", "actions", ()),
]


@pytest.mark.parametrize(
    ("key", "bad", "attribute", "default"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_an_invalid_value_falls_back_to_its_default_only(
    key: str, bad: Any, attribute: str, default: Any
) -> None:
    good = {"model": "kept-model", "contextWindow": 50_000, "logLevel": "warning"}
    good.pop(key, None)
    resolved = resolve_settings(workspace={"responsesLsp": {**good, key: bad}}, env={})
    assert getattr(resolved.settings, attribute) == default
    for other, value in good.items():
        field = {"model": "model", "contextWindow": "context_window", "logLevel": "log_level"}
        assert getattr(resolved.settings, field[other]) == value
    assert len(resolved.problems) >= 1
    assert all(p.startswith(key) for p in resolved.problems), resolved.problems


def test_all_problems_make_exactly_one_message() -> None:
    resolved = resolve_settings(
        workspace={
            "responsesLsp": {
                "model": "kept-model",
                "requestTimeout": -5,
                "baseUrl": "ftp://example",
                "reasoningEffort": "huge",
                "maxRetries": "many",
                "actions": [
                    {"id": "a", "title": "A", "prompt": "p"},
                    {"id": "a", "title": "B", "prompt": "q"},
                ],
                "colour": "blue",
            }
        },
        env={"OPENAI_API_KEY": KEY},
    )
    s = resolved.settings
    assert s.model == "kept-model"
    # an invalid base URL is kept (every request then fails): never the default host
    assert (s.request_timeout, s.base_url, s.reasoning_effort, s.max_retries, s.actions) == (
        60.0,
        "ftp://example",
        None,
        3,
        (),
    )
    assert resolved.api_key == KEY  # the key is still found
    message = problems_message(resolved.problems)
    assert message is not None
    assert message.startswith("responses-lsp: some settings were invalid and use their defaults")
    assert "\n" not in message
    for key in ("requestTimeout", "baseUrl", "reasoningEffort", "maxRetries", "actions", "colour"):
        assert message.count(key) == 1, key
    assert KEY not in message


@pytest.mark.parametrize("bad", ["api.openai.com", "localhost:8080", "https://", "ftp://x"])
def test_an_invalid_base_url_is_kept_and_reported_never_replaced_by_the_default(bad: str) -> None:
    # issue 11: a scheme-less OPENAI_BASE_URL silently became https://api.openai.com
    resolved = resolve_settings(env={"OPENAI_BASE_URL": bad, "OPENAI_API_KEY": KEY})
    assert resolved.settings.base_url == bad
    assert [p.split(":")[0] for p in resolved.problems] == ["baseUrl"]
    assert "every request fails" in resolved.problems[0]


def test_problems_from_every_source_are_reported() -> None:
    resolved = resolve_settings(
        workspace={"maxRetries": -1},
        init_options={"responsesLsp": {"logLevel": "loud"}},
        env={"OPENAI_BASE_URL": "localhost:8080"},
    )
    assert {p.split(":")[0] for p in resolved.problems} == {"maxRetries", "logLevel", "baseUrl"}


def test_an_invalid_api_key_setting_does_not_echo_the_value() -> None:
    resolved = resolve_settings(workspace={"apiKey": 12345678901234}, env={"OPENAI_API_KEY": KEY})
    assert resolved.api_key == KEY
    assert [p.split(":")[0] for p in resolved.problems] == ["apiKey"]
    assert "12345678901234" not in (problems_message(resolved.problems) or "")


def test_unknown_keys_are_reported_and_ignored() -> None:
    resolved = resolve_settings(
        workspace={"responsesLsp": {"model": "m", "temperature": 0.2, "baseURL": "https://x"}},
        env={},
    )
    assert resolved.settings.model == "m"
    assert resolved.settings.base_url == DEFAULT_BASE_URL
    assert resolved.problems == (
        "unknown setting 'baseURL' ignored",
        "unknown setting 'temperature' ignored",
    )


def test_no_problems_no_message() -> None:
    assert problems_message(()) is None
    assert problems_message([]) is None
    assert resolve_settings(env={}).problems == ()


def test_garbage_layers_never_crash() -> None:
    for layer in (None, [], "text", 42, {"responsesLsp": "text"}, {"responsesLsp": [1, 2]}):
        resolved = resolve_settings(workspace=layer, init_options=layer, env={})  # type: ignore[arg-type]
        assert resolved.settings == Settings()


# ------------------------------------------------------------------------------ the key list


def test_settings_keys_lists_every_camel_case_key_with_its_default() -> None:
    assert settings_keys() == {
        "baseUrl": "https://api.openai.com",
        "apiKey": None,
        "apiKeyEnv": "OPENAI_API_KEY",
        "apiKeyHeader": "Authorization",
        "extraHeaders": {},
        "applyPatchForm": "auto",
        "model": DEFAULT_MODEL,
        "reasoningEffort": None,
        "requestTimeout": 60.0,
        "streamIdleTimeout": 120.0,
        "maxRetries": 3,
        "flushIntervalMs": 34,
        "session": "workspace",
        "compactThreshold": None,
        "contextWindow": 272_000,
        "contextChars": 6_000,
        "actions": [],
        "keepPartialOnCancel": False,
        "syntaxCheck": "restore",
        "denyPatterns": [],
        "maxToolSteps": 12,
        "prices": {},
        "logLevel": "info",
    }


def test_settings_keys_match_the_model_fields() -> None:
    keys = settings_keys()
    assert len(keys) == len(Settings.model_fields)
    assert all(key[0].islower() and "_" not in key for key in keys)
    # every listed key is accepted back without a problem
    assert resolve_settings(workspace=keys, env={}).problems == ()
