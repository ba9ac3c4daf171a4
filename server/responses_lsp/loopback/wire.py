"""Wire-format building blocks for the loopback server: ids, usage, `Response` objects, the error
envelope and SSE framing.

Stdlib only. This is an independent reading of the Responses API wire format
(`shared/reference/responses-api.md` §3 response object, §4 SSE events, §7 errors); it must not
import the project's own client models, so the two implementations can check each other.
"""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from typing import Any

JSON = dict[str, Any]

DEFAULT_MODEL = "gpt-5.2-codex"


def new_id(prefix: str) -> str:
    """A fresh opaque id in the API's `prefix_hex` style (`resp_…`, `msg_…`, `call_…`)."""
    return f"{prefix}_{uuid.uuid4().hex}"


def dumps(obj: object) -> str:
    """Compact JSON with real UTF-8 characters (multi-byte sequences travel as such on the wire)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def estimate_tokens(text: str | bytes | int) -> int:
    """Tokens ≈ bytes / 4, rounded up (the same estimate Codex uses)."""
    size = text if isinstance(text, int) else len(text.encode() if isinstance(text, str) else text)
    return math.ceil(size / 4)


def usage_object(
    input_tokens: int,
    output_tokens: int,
    *,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
    overrides: JSON | None = None,
) -> JSON:
    """A `ResponseUsage` dict; `overrides` replace top-level keys (total recomputed if absent)."""
    usage: JSON = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }
    if overrides:
        usage.update(overrides)
        if "total_tokens" not in overrides:
            usage["total_tokens"] = int(usage["input_tokens"]) + int(usage["output_tokens"])
    return usage


def response_object(
    *,
    response_id: str,
    model: str,
    status: str,
    output: list[JSON],
    usage: JSON | None,
    created_at: int,
    error: JSON | None = None,
    incomplete_details: JSON | None = None,
) -> JSON:
    """A `Response` object as sent in `response.*` lifecycle events and non-streaming replies."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": False,
        "previous_response_id": None,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    }


def error_envelope(
    message: str, *, error_type: str, code: str | None, param: str | None = None
) -> JSON:
    """The OpenAI HTTP error body: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def rate_limit_message(retry_seconds: float | None) -> str:
    """The 429 / `rate_limit_exceeded` message, with the "Please try again in Ns." hint."""
    hint = "1s" if retry_seconds is None else f"{retry_seconds:g}s"
    return (
        f"Rate limit reached for {DEFAULT_MODEL} in organization org-loopback on tokens per min "
        f"(TPM): Limit 30000, Used 30000, Requested 512. Please try again in {hint}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more."
    )


# code -> (status, type, param, message): codes whose envelope differs from their status' default.
_CODE_DEFAULTS: dict[str, tuple[int, str, str | None, str]] = {
    "insufficient_quota": (
        429,
        "insufficient_quota",
        None,
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    "context_length_exceeded": (
        400,
        "invalid_request_error",
        "input",
        "Your input exceeds the context window of this model. "
        "Please adjust your input and try again.",
    ),
}

# status -> (type, code, message)
_STATUS_DEFAULTS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "model_not_found",
        f"Project does not have access to model `{DEFAULT_MODEL}`.",
    ),
    404: ("invalid_request_error", "unknown_url", "Invalid URL."),
    408: ("timeout", None, "Request timed out."),
    429: ("tokens", "rate_limit_exceeded", rate_limit_message(None)),
    500: (
        "server_error",
        "server_error",
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}


def default_error(status: int, code: str | None) -> tuple[str, str | None, str | None, str]:
    """Default (type, code, param, message) for an HTTP error `status` and optional `code`."""
    if code in _CODE_DEFAULTS:
        _, error_type, param, message = _CODE_DEFAULTS[code]
        return error_type, code, param, message
    fallback = ("server_error", None, "Upstream error.") if status >= 500 else None
    error_type, default_code, message = _STATUS_DEFAULTS.get(
        status, fallback or ("invalid_request_error", None, "Request failed.")
    )
    return error_type, code if code is not None else default_code, None, message


def sse_frame(event: JSON) -> bytes:
    """One SSE frame, `event: <type>` + `data: <json>` + blank line (`type` equals the name)."""
    return f"event: {event['type']}\ndata: {dumps(event)}\n\n".encode()


def now() -> int:
    """Unix seconds, for `created_at`."""
    return int(time.time())


def message_item(text: str, **extra: Any) -> JSON:
    """An assistant `message` output item with one `output_text` part (id filled in per request)."""
    item: JSON = {"type": "message", "status": "completed", "role": "assistant"}
    item.update(extra)
    item["content"] = [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}]
    return item


def reasoning_item(summary: str) -> JSON:
    """A `reasoning` output item with one summary part and opaque `encrypted_content`."""
    secret = base64.b64encode(new_id("reasoning").encode()).decode()
    return {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": summary}],
        "encrypted_content": "gAAAAB" + secret,
    }


def compaction_output(request_body: JSON | None) -> list[JSON]:
    """What `/responses/compact` returns for a request: its user messages (as output items), then
    one opaque `compaction` item whose content records how many items were compacted."""
    raw_input = (request_body or {}).get("input")
    items: list[Any] = raw_input if isinstance(raw_input, list) else []
    if isinstance(raw_input, str):
        items = [{"role": "user", "content": raw_input}]
    output: list[JSON] = []
    for item in items:
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                content = [{"type": "input_text", "text": content}]
            message = {"type": "message", "status": "completed", "role": "user", "content": content}
            output.append({"id": new_id("msg"), **message})
    summary = dumps({"loopback_compaction": True, "items": len(items)}).encode()
    encrypted = base64.b64encode(summary).decode()
    output.append({"id": new_id("cmp"), "type": "compaction", "encrypted_content": encrypted})
    return output
