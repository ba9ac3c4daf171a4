"""The one settings model, and how its sources are merged.

Keys are camelCase under `responsesLsp`. Sources, highest first:
`workspace/configuration` > `initializationOptions` > environment variables > defaults.
`OPENAI_API_KEY` (or the variable named by `apiKeyEnv`) and `OPENAI_BASE_URL` are honoured
as defaults, the openai SDK convention. A bad value never crashes anything: that key falls
back to its default and the problem is reported once, in one message — except `baseUrl`:
an invalid one is kept (and reported), so every request fails with `InvalidBaseUrl` instead
of sending the key to a default host.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from responses_lsp.errors import InvalidBaseUrl
from responses_lsp.redaction import register_secret

SECTION = "responsesLsp"
DEFAULT_BASE_URL = "https://api.openai.com"
DEFAULT_MODEL = "gpt-5.2-codex"

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
SessionScope = Literal["workspace", "document", "off"]
LogLevel = Literal["error", "warning", "info", "debug"]
ApplyPatchForm = Literal["auto", "custom", "function"]
SyntaxCheck = Literal["restore", "keep", "off"]
_HEADER_NAME = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"
ActionKind = Literal[
    "refactor.rewrite", "refactor", "quickfix", "refactor.extract", "refactor.inline"
]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )


class CustomAction(_Model):
    """A user-defined code action."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    """Stable id, used in the command arguments (letters, digits, `_ . -`)."""
    title: str = Field(min_length=1)
    """What the code-action menu shows."""
    kind: ActionKind = "refactor.rewrite"
    """The LSP code action kind."""
    prompt: str = Field(min_length=1)
    """Prompt template with {selection} {language} {file_path} {diagnostics} {instruction}."""
    languages: tuple[str, ...] | None = None
    """Language ids the action is offered for (all when absent)."""


class ModelPrice(_Model):
    """What one model costs, in USD per million tokens (from your provider's price page)."""

    input: float = Field(ge=0)
    """Input tokens not served from the prompt cache."""
    cached_input: float | None = Field(default=None, ge=0)
    """Input tokens served from the prompt cache (default: the input price)."""
    output: float = Field(ge=0)
    """Output tokens, reasoning tokens included."""


class Settings(_Model):
    """Everything the server can be told; each field documents its key."""

    base_url: str = DEFAULT_BASE_URL
    """Endpoint host, e.g. https://api.openai.com; /v1/responses is appended."""
    api_key: SecretStr | None = None
    """API key. Prefer the environment variable named by apiKeyEnv."""
    api_key_env: str = Field(default="OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Name of the environment variable that holds the API key."""
    api_key_header: str = Field(default="Authorization", pattern=_HEADER_NAME)
    """Header that carries the key: Authorization (as Bearer <key>) or e.g. api-key (bare key)."""
    extra_headers: dict[str, str] = {}
    """Extra HTTP headers sent with every request (for gateways that route or check by header)."""
    apply_patch_form: ApplyPatchForm = "auto"
    """How apply_patch is offered: auto (freeform, function where custom tools are rejected)."""
    model: str = Field(default=DEFAULT_MODEL, min_length=1)
    """Model id sent with every request."""
    reasoning_effort: ReasoningEffort | None = None
    """Reasoning effort (none, minimal, low, medium, high, xhigh); unset = the model's default."""
    request_timeout: float = Field(default=60.0, gt=0, le=3600)
    """Seconds to wait for the endpoint to answer a request (headers or JSON body)."""
    stream_idle_timeout: float = Field(default=120.0, gt=0, le=3600)
    """Seconds without any stream event before the stream counts as stalled."""
    max_retries: int = Field(default=3, ge=0, le=10)
    """Retries after a retryable failure (429, 5xx, network, broken stream)."""
    # 34: at most 29.4 edits a second, each one a didChange for every language server attached
    # to the buffer; a slower stream's tokens still go out the moment they arrive.
    flush_interval_ms: int = Field(default=34, ge=0, le=1000)
    """Minimum milliseconds between two streamed edits of one document."""
    session: SessionScope = "workspace"
    """Conversation scope: one per workspace folder, one per document, or none."""
    compact_threshold: int | None = Field(default=None, gt=0)
    """Compact the session above this many estimated tokens (default: 80% of contextWindow)."""
    context_window: int = Field(default=272_000, ge=1_000)
    """The model's context window in tokens."""
    context_chars: int = Field(default=6_000, ge=0, le=200_000)
    """Characters of surrounding code sent around the selection."""
    actions: tuple[CustomAction, ...] = ()
    """User-defined actions: id, title, kind, prompt template, languages."""
    keep_partial_on_cancel: bool = False
    """Keep the partial output when a job is cancelled (default: restore the original)."""
    syntax_check: SyntaxCheck = "restore"
    """Edits that parse worse get a repair turn, then: `restore` the original, `keep` it; `off`."""
    deny_patterns: tuple[str, ...] = ()
    """Extra glob patterns of files the model may never read or change (secrets always are)."""
    max_tool_steps: int = Field(default=12, ge=1, le=50)
    """Tool-call rounds a multi-file action may take before it stops."""
    prices: dict[str, ModelPrice] = {}
    """Cost per model id: {input, cachedInput, output} in USD per million tokens."""
    log_level: LogLevel = "info"
    """Level of the messages sent to the editor's log (window/logMessage)."""

    @field_validator("base_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()  # checked when used (InvalidBaseUrl), never replaced by a default

    @field_validator("extra_headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not re.match(_HEADER_NAME, name):
                raise ValueError(f"{name!r} is not a valid header name")
            if not text.isascii() or any(c in text for c in "\r\n"):
                raise ValueError(f"the value of {name!r} must be one line of ASCII")
        return value

    @field_validator("actions")
    @classmethod
    def _unique_ids(cls, value: tuple[CustomAction, ...]) -> tuple[CustomAction, ...]:
        ids = [a.id for a in value]
        if len(ids) != len(set(ids)):
            raise ValueError("action ids must be unique")
        return value

    def price(self, model: str | None = None) -> ModelPrice | None:
        """The price entry of `model` (default: the configured model), if the user set one."""
        return self.prices.get(model or self.model)

    @property
    def effective_compact_threshold(self) -> int:
        return self.compact_threshold or int(self.context_window * 0.8)


def settings_keys() -> dict[str, Any]:
    """The camelCase keys and their defaults (JSON form): what editors must list."""
    defaults = Settings()
    out: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        alias = info.alias or name
        value = getattr(defaults, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, tuple):
            value = list(value)
        out[alias] = value
    return out


@dataclass(frozen=True)
class ResolvedSettings:
    """Validated settings plus the key and where it came from."""

    settings: Settings
    api_key: str | None = field(repr=False)  # never in a repr (logs, tracebacks)
    key_source: str
    problems: tuple[str, ...] = field(default=())

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


def _unwrap(layer: Mapping[str, Any] | None) -> dict[str, Any]:
    """Accept both `{"responsesLsp": {...}}` and the bare section; drop editor nulls."""
    if not isinstance(layer, Mapping):
        return {}
    inner = layer.get(SECTION, layer)
    if not isinstance(inner, Mapping):
        return {}
    return {str(k): v for k, v in inner.items() if v is not None}


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    if env.get("OPENAI_BASE_URL"):
        layer["baseUrl"] = env["OPENAI_BASE_URL"]
    if env.get("RESPONSES_LSP_MODEL"):
        layer["model"] = env["RESPONSES_LSP_MODEL"]
    if env.get("RESPONSES_LSP_PRICES"):  # JSON, as the `prices` setting (the CLI's way to it)
        try:
            layer["prices"] = json.loads(env["RESPONSES_LSP_PRICES"])
        except ValueError:
            layer["prices"] = env["RESPONSES_LSP_PRICES"]  # reported as an invalid setting
    return layer


def _validate(merged: dict[str, Any]) -> tuple[Settings, list[str]]:
    """Validate, dropping each offending key (back to its default) until it passes."""
    problems: list[str] = []
    known = {info.alias or name for name, info in Settings.model_fields.items()} | set(
        Settings.model_fields
    )
    for key in sorted(set(merged) - known):
        problems.append(f"unknown setting {key!r} ignored")
        merged.pop(key)
    for _ in range(len(merged) + 1):
        try:
            return Settings.model_validate(merged), problems
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "settings"
                problems.append(f"{loc}: {err['msg']}")
            if not bad & set(merged):
                break
            for key in bad:
                merged.pop(key, None)
    return Settings(), problems


def resolve_settings(
    *,
    workspace: Mapping[str, Any] | None = None,
    init_options: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> ResolvedSettings:
    """Merge the sources (workspace > initializationOptions > env > defaults) and find the key."""
    environ = os.environ if env is None else env
    merged: dict[str, Any] = {}
    for layer in (_env_layer(environ), _unwrap(init_options), _unwrap(workspace)):
        merged.update(layer)
    settings, problems = _validate(merged)
    base_url_problem = _base_url_problem(settings.base_url)
    if base_url_problem:
        problems.append(base_url_problem)

    key: str | None = None
    source = "none"
    if settings.api_key is not None and settings.api_key.get_secret_value():
        key = settings.api_key.get_secret_value()
        source = "settings (responsesLsp.apiKey)"
    elif environ.get(settings.api_key_env):
        key = environ[settings.api_key_env]
        source = f"environment variable {settings.api_key_env}"
    register_secret(key)
    return ResolvedSettings(
        settings=settings, api_key=key, key_source=source, problems=tuple(problems)
    )


def check_base_url(base_url: str) -> str:
    """The base URL, stripped; `InvalidBaseUrl` unless it is http(s)://host[:port][/path]."""
    url = base_url.strip()
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise InvalidBaseUrl(url, "it cannot be parsed as a URL") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidBaseUrl(url, "it must start with http:// or https://")
    if not parts.hostname or not port_ok:
        raise InvalidBaseUrl(url, "it has no host")
    if parts.query or parts.fragment:
        raise InvalidBaseUrl(url, "it must not have a query or fragment")
    return url


def _base_url_problem(url: str) -> str | None:
    try:
        check_base_url(url)
    except InvalidBaseUrl as exc:
        return f"baseUrl: {url!r} is not valid: {exc.reason}; every request fails until it is fixed"
    return None


def problems_message(problems: tuple[str, ...] | list[str]) -> str | None:
    """One clear message for all settings problems, or None."""
    if not problems:
        return None
    return "responses-lsp: some settings were invalid and use their defaults: " + "; ".join(
        problems
    )
