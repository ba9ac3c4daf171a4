"""What an action cost: the tokens of its responses, and their price.

`UsageTotals` sums the `usage` of every response a job (or a session) was answered with —
input, cached input, output and reasoning tokens — and counts the responses that reported no
usage at all: an endpoint that says nothing is "usage not reported", never 0 tokens. `cost`
prices the totals with the user's `responsesLsp.prices` entry for the model (USD per million
tokens: input, cached input, output; reasoning tokens are output tokens and are billed as
such). There are no built-in prices: a price table in the code would go stale without anyone
noticing, so without an entry the cost is "no price for <model>".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

NOT_REPORTED = "usage not reported"


class _Usage(Protocol):  # api.events.Usage, without importing pydantic models here
    input_tokens: int
    output_tokens: int

    @property
    def cached_tokens(self) -> int: ...


class Price(Protocol):
    input: float
    cached_input: float | None
    output: float


@dataclass
class UsageTotals:
    """Token counts summed over responses; `reported` / `unreported` count the responses."""

    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    reported: int = 0
    unreported: int = 0
    cost: float | None = None
    """USD, summed over the responses that could be priced; None when none could."""
    model: str | None = None
    """The model asked (named when it has no price)."""

    def add(self, usage: _Usage | None, price: Price | None = None, model: str = "") -> None:
        """One response's usage (None: the endpoint reported none) priced with `price`."""
        self.model = model or self.model
        if usage is None:
            self.unreported += 1
            return
        details = getattr(usage, "output_tokens_details", None)
        reasoning = int(getattr(details, "reasoning_tokens", 0) or 0) if details else 0
        self.add_counts(usage.input_tokens, usage.cached_tokens, usage.output_tokens, reasoning)
        if price is not None:
            cost = price_of(price, usage.input_tokens, usage.cached_tokens, usage.output_tokens)
            self.cost = (self.cost or 0.0) + cost

    def add_counts(self, input_tokens: int, cached: int, output: int, reasoning: int) -> None:
        self.input_tokens += input_tokens
        self.cached_tokens += min(cached, input_tokens)
        self.output_tokens += output
        self.reasoning_tokens += reasoning
        self.reported += 1

    def merge(self, other: UsageTotals) -> None:
        self.model = other.model or self.model
        for spec in fields(self):
            if spec.name in ("cost", "model"):
                continue
            setattr(self, spec.name, getattr(self, spec.name) + getattr(other, spec.name))
        if other.cost is not None:
            self.cost = (self.cost or 0.0) + other.cost

    @property
    def any(self) -> bool:
        return bool(self.reported or self.unreported)

    def as_json(self) -> dict[str, Any]:
        """The camelCase form of job results and `session.show`; `reported: false` when no
        response reported usage (the counts are then unknown, not 0)."""
        known = self.reported > 0
        return {
            "reported": known,
            "inputTokens": self.input_tokens if known else None,
            "cachedInputTokens": self.cached_tokens if known else None,
            "outputTokens": self.output_tokens if known else None,
            "reasoningTokens": self.reasoning_tokens if known else None,
            "responses": self.reported + self.unreported,
            "responsesWithoutUsage": self.unreported,
            "costUsd": round(self.cost, 6) if self.cost is not None else None,
            "text": self.text(),
        }

    def to_record(self) -> dict[str, Any]:
        """The session file's form (snake_case, every field)."""
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict[str, Any] | None) -> UsageTotals:
        if not data:
            return cls()
        known = {spec.name for spec in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def text(self) -> str:
        """One line: "1,234 input tokens (1,000 cached), 56 output (20 reasoning), $0.0012"."""
        if not self.reported:
            return NOT_REPORTED if self.unreported else "no responses yet"
        cached = f" ({self.cached_tokens:,} cached)" if self.cached_tokens else ""
        reasoning = f" ({self.reasoning_tokens:,} reasoning)" if self.reasoning_tokens else ""
        line = (
            f"{self.input_tokens:,} input tokens{cached}, {self.output_tokens:,} output{reasoning}"
        )
        if self.cost is not None:
            line += f", {format_cost(self.cost)}"
        elif self.model:
            line += f", no price for {self.model}"
        if self.unreported:
            line += (
                f"; {self.unreported} response{'' if self.unreported == 1 else 's'} without usage"
            )
        return line


def price_of(price: Price, input_tokens: int, cached: int, output: int) -> float:
    """USD for one response: uncached input, cached input and output at their prices."""
    cached = min(cached, input_tokens)
    cached_price = price.cached_input if price.cached_input is not None else price.input
    return (
        (input_tokens - cached) * price.input + cached * cached_price + output * price.output
    ) / 1_000_000


def format_cost(cost: float) -> str:
    """USD: "$0.0156" below a dollar, "$1.23" from a dollar up."""
    return f"${cost:.4f}" if cost < 1 else f"${cost:,.2f}"
