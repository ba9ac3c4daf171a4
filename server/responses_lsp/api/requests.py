"""Request bodies for `POST /v1/responses` and `POST /v1/responses/compact`.

Only documented fields are modelled (the API answers unknown ones with 400
`unknown_parameter`); `body()` drops unset fields so the wire carries nothing extra.
Input items are plain dicts: they are either built by the prompt builder in the
documented shapes or replayed verbatim from earlier output (reasoning, compaction).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

InputItem = dict[str, Any]


class Reasoning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


class CompactionControl(BaseModel):
    """Server-side compaction (`context_management`), used as a fallback."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["compaction"] = "compaction"
    compact_threshold: int


class ResponseRequest(BaseModel):
    """Body of `POST /v1/responses`."""

    model_config = ConfigDict(extra="forbid")

    model: str
    input: str | list[InputItem]
    instructions: str | None = None
    stream: bool = True
    store: bool = False
    prompt_cache_key: str | None = None
    reasoning: Reasoning | None = None
    include: list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = None
    context_management: list[CompactionControl] | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class CompactRequest(BaseModel):
    """Body of `POST /v1/responses/compact` (documented fields only)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    input: list[InputItem]
    instructions: str | None = None
    prompt_cache_key: str | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def user_message(text: str) -> InputItem:
    """A user message item with one `input_text` part."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def reasoning_fields(effort: str | None) -> dict[str, Any]:
    """`reasoning` and the `include` that lets its items be replayed with store=false."""
    if not effort:
        return {}
    return {
        "reasoning": Reasoning.model_validate({"effort": effort}),
        "include": ["reasoning.encrypted_content"],
    }
