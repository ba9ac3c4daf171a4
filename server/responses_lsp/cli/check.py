"""`responses-lsp check`: what the server would use, and one call to prove it works.

Prints the base URL (and the `/v1/responses` URL the server calls), the model, and where
the API key came from, masked. Then it calls the endpoint once with the server's own API
client and no retries: `GET /v1/models`; when that path does not exist (404), or the
model is not in the list, a tiny streamed `POST /v1/responses` (16 output tokens) with the
model. A failure is explained in the words the server uses (DESIGN §8), with where to fix it.
When the endpoint works, it reports which compaction strategies and which `apply_patch`
forms work there (`cli/capabilities.py`), and what the server will use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
from typing import Any

from responses_lsp.api.client import ClientConfig, ResponsesClient, api_root, endpoint
from responses_lsp.api.events import OutputTextDelta
from responses_lsp.api.requests import ResponseRequest
from responses_lsp.cli.capabilities import compaction_probes, tool_form_probes
from responses_lsp.cli.console import (
    EXIT_API,
    EXIT_CODES_HELP,
    EXIT_OK,
    CommandError,
    guarded,
    model_argument,
    say,
    url_argument,
)
from responses_lsp.errors import (
    ApiConnectionError,
    ApiStatusError,
    ApiTimeoutError,
    AuthenticationError,
    InvalidBaseUrl,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseIncomplete,
    ResponsesLspError,
    ServerError,
)
from responses_lsp.jobs import syntax
from responses_lsp.redaction import mask
from responses_lsp.settings import ResolvedSettings, check_base_url, resolve_settings

TINY_OUTPUT_TOKENS = 16
"""`max_output_tokens` of the test request (the API's minimum)."""
MAX_TIMEOUT = 30.0
"""Seconds: the check waits at most this long for an answer, whatever requestTimeout says."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="show the endpoint, model and key the server would use, and call it once",
        description=(
            "Show what the language server would use (base URL, the /v1/responses URL it\n"
            "calls, model, where the API key comes from, masked), then call the endpoint\n"
            "once (GET /v1/models, or a tiny POST /v1/responses) and explain any failure."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--base-url", type=url_argument, metavar="URL", help="endpoint host (default: settings)"
    )
    parser.add_argument(
        "--model", type=model_argument, metavar="MODEL", help="model id (default: settings)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks on failure")
    return parser


def run(args: argparse.Namespace) -> int:
    return guarded("check", args.verbose, lambda: asyncio.run(_check(args)))


async def _check(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.base_url is not None:
        overrides["baseUrl"] = args.base_url
    if args.model is not None:
        overrides["model"] = args.model
    resolved = resolve_settings(init_options=overrides)
    settings = resolved.settings
    say("responses-lsp check")
    for problem in resolved.problems:  # from the environment: the options are checked
        kept = problem.startswith("baseUrl:")
        say(f"  warning   {problem}" + ("" if kept else " (the default is used)"))
    bad = {problem.split(":")[0] for problem in resolved.problems}
    url_source = (
        "--base-url"
        if args.base_url
        else "OPENAI_BASE_URL"
        if os.environ.get("OPENAI_BASE_URL")
        else "default"
    )
    model_source = (
        "--model"
        if args.model
        else "RESPONSES_LSP_MODEL"
        if os.environ.get("RESPONSES_LSP_MODEL") and "model" not in bad
        else "default"
    )
    say(f"  base URL  {settings.base_url} (from {url_source})")
    try:
        check_base_url(settings.base_url)
    except InvalidBaseUrl as exc:
        raise CommandError(
            exc.user_message().removeprefix("responses-lsp: "),
            hint="a base URL is http(s)://host, optionally with a path prefix",
            code=EXIT_API,
        ) from exc
    say(f"  calls     {endpoint(settings.base_url, 'responses')}")
    given = settings.base_url.strip().rstrip("/")
    if given.endswith(("/responses", "/responses/compact", "/chat/completions")):
        dropped = given[len(api_root(given)) - len("/v1") :]
        say(f"  note      the base URL should be the host only; {dropped} is ignored")
    say(f"  model     {settings.model} (from {model_source})")
    if resolved.has_key:
        say(f"  API key   {mask(resolved.api_key)} (from {resolved.key_source})")
    else:
        say(f"  API key   none ({settings.api_key_env} is not set)")
    say(f"  syntax    {syntax_summary()}")
    say("  (an editor can override these with its responsesLsp.* settings)")
    say()
    if not resolved.has_key:
        raise CommandError(
            f"the API key is missing; set {settings.api_key_env} (or responsesLsp.apiKey "
            "in the editor's settings)",
            hint=f"export {settings.api_key_env}=... in the shell that starts the editor",
            code=EXIT_API,
        )
    config = dataclasses.replace(
        ClientConfig.from_settings(resolved),
        request_timeout=min(settings.request_timeout, MAX_TIMEOUT),
        stream_idle_timeout=min(settings.stream_idle_timeout, MAX_TIMEOUT),
        max_retries=0,
    )
    client = ResponsesClient(config)
    try:
        await _probe(client, resolved)
        say("OK: the endpoint answers, the key is accepted and the model is available.")
        say()
        await _capabilities(client, settings.apply_patch_form)
    finally:
        await client.aclose()
    return EXIT_OK


def syntax_summary() -> str:
    """Which languages' edits are parse-checked (`syntaxCheck`), and which are not for want
    of the optional `parse` extra."""
    found = syntax.available()
    line = "checked: python (standard library)"
    others = [name for name in found["checked"] if name not in syntax.PYTHON]
    if others:
        line += ", " + ", ".join(others) + " (tree-sitter)"
    if found["missing"]:
        line += (
            "; NOT checked: " + ", ".join(found["missing"]) + f" (no parser: {syntax.EXTRA_HINT})"
        )
    return line


async def _capabilities(client: ResponsesClient, apply_patch_form: str) -> None:
    say("compaction (tried in this order; the first that works is used):")
    probes = await compaction_probes(client)
    for probe in probes:
        say(f"  {probe.name:<9} {'works' if probe.works else 'fails'}: {probe.detail}")
    chosen = next((p.name for p in probes if p.works), None)
    say(
        f"  -> {chosen}"
        if chosen
        else "  -> none: the oldest turns are dropped when a session grows too long"
    )
    say("apply_patch (multi-file actions):")
    forms = await tool_form_probes(client)
    for probe in forms:
        say(f"  {probe.name:<9} {'works' if probe.works else 'fails'}: {probe.detail}")
    if apply_patch_form != "auto":
        say(f"  -> {apply_patch_form} (responsesLsp.applyPatchForm)")
    else:
        form = next((p.name for p in forms if p.works), None)
        say(f"  -> {form}" if form else "  -> neither: multi-file actions will fail here")


async def _probe(client: ResponsesClient, resolved: ResolvedSettings) -> None:
    config = client.config
    models_url = endpoint(config.base_url, "models")
    try:
        models = await client.list_models()
    except NotFoundError:
        say(f"GET {models_url}: not found (404); trying a tiny POST /v1/responses instead")
    except ResponsesLspError as exc:
        raise explain(exc, resolved, f"GET {models_url}") from exc
    else:
        count = f"{len(models)} model{'' if len(models) == 1 else 's'}"
        if config.model in models:
            say(f"GET {models_url}: {count}, {config.model} among them")
            return
        listed = f"{count}, {config.model} not among them" if models else "no models"
        say(f"GET {models_url}: {listed}; trying a tiny request with it")
    await _tiny_request(client, resolved)


async def _tiny_request(client: ResponsesClient, resolved: ResolvedSettings) -> None:
    config = client.config
    url = endpoint(config.base_url, "responses")
    request = ResponseRequest(
        model=config.model,
        input="Reply with the single word OK.",
        stream=True,
        store=False,
        max_output_tokens=TINY_OUTPUT_TOKENS,
    )
    deltas = 0
    try:
        async with contextlib.aclosing(client.stream_once(request)) as events:
            async for event in events:
                if isinstance(event, OutputTextDelta):
                    deltas += 1
    except ResponseIncomplete:
        pass  # cut at max_output_tokens, as asked: the model answered
    except ResponsesLspError as exc:
        raise explain(exc, resolved, f"POST {url}") from exc
    say(f"POST {url}: streamed an answer from {config.model} ({deltas} text deltas)")


def explain(error: ResponsesLspError, resolved: ResolvedSettings, call: str) -> CommandError:
    """The error as the user should read it (DESIGN §8), with where to fix it."""

    settings = resolved.settings
    message = error.user_message()
    hint: str | None = None
    if isinstance(error, AuthenticationError):
        message = f"{call}: {error.reason()} (the key came from {resolved.key_source})"
        hint = (
            f"set a valid key in {settings.api_key_env} (or responsesLsp.apiKey in the "
            "editor's settings)"
        )
    elif isinstance(error, PermissionDeniedError):
        message = f"{call} answered 403: the API key has no access to model '{settings.model}'"
        hint = (
            "check the key's group or permissions, or choose another model "
            "(--model, RESPONSES_LSP_MODEL or responsesLsp.model)"
        )
    elif isinstance(error, NotFoundError) and error.code == "model_not_found":
        message = f"{call} answered 404: the model '{settings.model}' does not exist here"
        hint = "choose another model (--model, RESPONSES_LSP_MODEL or responsesLsp.model)"
    elif isinstance(error, NotFoundError):
        message = (
            f"{call} answered {error.status_code}: endpoint not found; the base URL must be "
            "the host only (we call /v1/responses)"
        )
        hint = "set OPENAI_BASE_URL (or responsesLsp.baseUrl) to e.g. https://api.openai.com"
    elif isinstance(error, RateLimitError):
        message = f"{call} answered 429: {error.user_message().removeprefix('responses-lsp: ')}"
        if type(error) is RateLimitError:
            message = f"{call} answered 429: rate limited; the key works, but not right now"
            hint = "try again later; the server retries 429s with backoff"
    elif isinstance(error, ServerError):
        message = f"{call}: upstream error ({error.detail()})"
        hint = "the endpoint or the service behind it is failing; try again later"
    elif isinstance(error, ApiTimeoutError):
        message = f"{call}: no answer in time ({error.message})"
        hint = "is the base URL right, and is the endpoint up?"
    elif isinstance(error, ApiConnectionError):
        message = f"{call}: could not reach the endpoint ({error.message})"
        hint = "is the base URL right (OPENAI_BASE_URL), and is the endpoint up?"
    elif isinstance(error, ApiStatusError):
        message = f"{call}: {message.removeprefix('responses-lsp: ')}"
    return CommandError(message, hint=hint, code=EXIT_API)
