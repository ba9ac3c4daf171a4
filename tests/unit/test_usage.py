"""Usage totals and cost (issue 15, item 3): sums, prices, the "not reported" case, and the
session file's totals (files written before them load; bad totals are an invalid file)."""

from __future__ import annotations

import json

import pytest

from responses_lsp.api.events import Usage
from responses_lsp.sessions.schema import InvalidSession, Session, parse_session
from responses_lsp.settings import ModelPrice, resolve_settings
from responses_lsp.usage import NOT_REPORTED, UsageTotals, format_cost, price_of

PRICE = ModelPrice(input=2.0, cached_input=0.5, output=10.0)


def usage(inp: int, cached: int, out: int, reasoning: int = 0) -> Usage:
    return Usage.model_validate(
        {
            "input_tokens": inp,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": inp + out,
        }
    )


def test_totals_sum_every_response_and_price_them() -> None:
    totals = UsageTotals()
    totals.add(usage(1000, 0, 100, 40), PRICE, "m")
    totals.add(usage(3000, 2048, 200), PRICE, "m")
    assert (totals.input_tokens, totals.cached_tokens) == (4000, 2048)
    assert (totals.output_tokens, totals.reasoning_tokens) == (300, 40)
    expected = (1000 * 2 + 100 * 10 + 952 * 2 + 2048 * 0.5 + 200 * 10) / 1e6
    assert totals.cost == pytest.approx(expected)
    assert totals.text() == (
        "4,000 input tokens (2,048 cached), 300 output (40 reasoning), $0.0079"
    )


def test_no_usage_is_not_reported_never_zero() -> None:
    totals = UsageTotals()
    totals.add(None, PRICE, "m")
    data = totals.as_json()
    assert data["reported"] is False and data["inputTokens"] is None and data["costUsd"] is None
    assert totals.text() == NOT_REPORTED
    totals.add(usage(10, 0, 5), PRICE, "m")  # some responses reported, one did not
    assert totals.text().endswith("; 1 response without usage")


def test_cached_input_defaults_to_the_input_price_and_cost_formats() -> None:
    no_discount = ModelPrice(input=2.0, output=10.0)
    assert price_of(no_discount, 1_000_000, 500_000, 0) == pytest.approx(2.0)
    assert format_cost(0.01564) == "$0.0156" and format_cost(1234.5) == "$1,234.50"
    assert "no price for gpt-x" in UsageTotals(reported=1, model="gpt-x").text()


def test_prices_come_from_settings_or_the_environment_never_built_in() -> None:
    assert resolve_settings(env={}).settings.price() is None
    env = {"RESPONSES_LSP_PRICES": json.dumps({"m": {"input": 1, "output": 4}})}
    resolved = resolve_settings(env=env, init_options={"model": "m"})
    assert resolved.settings.price() == ModelPrice(input=1, output=4)
    bad = resolve_settings(env={"RESPONSES_LSP_PRICES": "{not json"})
    assert bad.settings.prices == {} and any("prices" in p for p in bad.problems)


def test_session_files_without_totals_load_and_keep_them_after() -> None:
    old = {"format": 1, "key": "k", "id": "abc", "items": [], "turns": 3}
    session = parse_session(json.dumps(old).encode())
    assert session.spent is None and UsageTotals.from_record(session.spent).text() == (
        "no responses yet"
    )
    totals = UsageTotals()
    totals.add(usage(100, 0, 10), PRICE, "m")
    session.spent = totals.to_record()
    again = parse_session(json.dumps(session.to_json()).encode())
    assert UsageTotals.from_record(again.spent) == totals


def test_negative_totals_are_an_invalid_file() -> None:
    bad = {"format": 1, "key": "k", "id": "a", "items": [], "spent": {"input_tokens": -1}}
    with pytest.raises(InvalidSession, match=r"spent\.input_tokens"):
        Session.from_json(bad)
