"""Sessions: the token estimate, the compaction decision and strategies, persistence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from responses_lsp.api.client import ClientConfig, ResponsesClient
from responses_lsp.errors import AuthenticationError
from responses_lsp.sessions.compaction import (
    Compactor,
    estimate_tokens,
    item_tokens,
    replayable,
    should_compact,
    trim,
)
from responses_lsp.sessions.manager import SessionManager
from responses_lsp.sessions.store import Session, SessionStore, file_name
from tests.loopback import LoopbackServer, Reply


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


# ----------------------------------------------------------------- estimate and decision


def test_item_tokens_is_json_bytes_over_four() -> None:
    item = user("x" * 400)
    assert item_tokens(item) == len(json.dumps(item).encode()) // 4
    assert (
        item_tokens(user("é" * 100))
        == len(json.dumps(user("é" * 100), ensure_ascii=False).encode()) // 4
    )


@pytest.mark.parametrize(
    ("last_total", "measured", "expected_extra_items"),
    [(None, 0, 3), (1000, 3, 0), (1000, 2, 1), (1000, 0, 3)],
)
def test_estimate_is_last_usage_plus_items_added_since(
    last_total: int | None, measured: int, expected_extra_items: int
) -> None:
    items = [user("a" * 40), user("b" * 80), user("c" * 120)]
    new = [user("new")]
    base = last_total if last_total is not None else 0
    added = items[len(items) - expected_extra_items :] if expected_extra_items else []
    expected = base + sum(map(item_tokens, added)) + item_tokens(new[0])
    assert (
        estimate_tokens(items, last_total=last_total, measured_items=measured, new_items=new)
        == expected
    )


@pytest.mark.parametrize(
    ("estimate", "threshold", "history", "decision"),
    [(999, 1000, 5, False), (1000, 1000, 5, False), (1001, 1000, 5, True), (5000, 1000, 0, False)],
)
def test_compact_only_above_the_threshold_and_with_history(
    estimate: int, threshold: int, history: int, decision: bool
) -> None:
    assert should_compact(estimate, threshold, history_items=history) is decision


def test_replayable_drops_ids_but_keeps_compaction_items_verbatim() -> None:
    items = [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
        {"type": "reasoning", "id": "rs_2", "summary": []},
        {"type": "compaction", "id": "cmp_1", "encrypted_content": "enc"},
    ]
    assert replayable(items) == [
        {"type": "message", "role": "assistant", "status": "completed", "content": []},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
        {"type": "compaction", "id": "cmp_1", "encrypted_content": "enc"},
    ]


def test_settings_default_threshold_is_eighty_percent_of_the_window() -> None:
    from responses_lsp.settings import Settings

    assert Settings(context_window=100_000).effective_compact_threshold == 80_000
    assert (
        Settings(context_window=100_000, compact_threshold=5_000).effective_compact_threshold
        == 5_000
    )


# ----------------------------------------------------------------- strategies


@pytest.fixture
def api() -> Any:
    with LoopbackServer() as server:
        yield server


def client_for(server: LoopbackServer) -> ResponsesClient:
    async def no_sleep(_seconds: float) -> None:
        return None

    return ResponsesClient(
        ClientConfig(
            base_url=server.base_url, api_key="sk-test-1234567890", model="m", max_retries=0
        ),
        sleep=no_sleep,
    )


async def test_compactor_prefers_the_endpoint_and_remembers_fallbacks(api: LoopbackServer) -> None:
    history = [user("turn one"), {"type": "message", "role": "assistant", "content": []}]
    client = client_for(api)
    compactor = Compactor()
    result = await compactor.compact(
        client,
        base_url=api.base_url,
        model="m",
        items=history,
        instructions=None,
        cache_key="k",
        tokens_before=99,
        threshold=10,
    )
    assert result.strategy == "endpoint"
    assert result.items[-1]["type"] == "compaction"
    assert api.requests[-1].body["input"] == history

    api.compact_responder = lambda _r: Reply.error(404)
    api.responder = lambda _r: Reply.items([{"type": "compaction", "encrypted_content": "x"}])
    result = await compactor.compact(
        client,
        base_url=api.base_url,
        model="m",
        items=history,
        instructions=None,
        cache_key="k",
        tokens_before=99,
        threshold=10,
    )
    assert result.strategy == "inline" and result.items[0]["encrypted_content"] == "x"
    assert compactor.order(api.base_url)[0] == "inline"
    await client.aclose()


def gateway_like(api: LoopbackServer, *, summary: Reply | None = None) -> None:
    """What LiteLLM answers (responses-api.md §10): compact -> 500, context_management -> 400;
    a plain request (the summary turn) works."""
    api.compact_responder = lambda _r: Reply.error(
        500, message="COMPACT responses is not supported for openai/stand-in"
    )

    def respond(request: Any) -> Reply:
        if request.body and "context_management" in request.body:
            return Reply.error(
                400, code="400", message="UnsupportedParamsError: context_management"
            )
        return summary or Reply.text("We made fetch async.")

    api.responder = respond


async def compact_once(compactor: Compactor, client: ResponsesClient, api: LoopbackServer) -> Any:
    return await compactor.compact(
        client,
        base_url=api.base_url,
        model="m",
        items=[user("turn one"), {"type": "message", "role": "assistant", "content": []}],
        instructions=None,
        cache_key=None,
        tokens_before=1000,
        threshold=100,
    )


async def test_compactor_moves_on_at_once_and_remembers_per_base_url(api: LoopbackServer) -> None:
    # issue 11: behind LiteLLM the 500 stopped the chain (after 3 retries), killing the session
    gateway_like(api)
    client = ResponsesClient(
        ClientConfig(base_url=api.base_url, api_key="sk-test-1234567890", model="m", max_retries=3)
    )
    compactor = Compactor()
    result = await compact_once(compactor, client, api)
    assert result.strategy == "summary"
    assert result.items[0]["content"][0]["text"].endswith("We made fetch async.")
    assert [f.split(":")[0] for f in result.failures] == ["endpoint", "inline"]
    paths = [r.path for r in api.requests]
    assert paths == ["/v1/responses/compact", "/v1/responses", "/v1/responses"]  # no retries
    for _ in range(3):  # later compactions go straight to the summary
        assert (await compact_once(compactor, client, api)).strategy == "summary"
    assert [r.path for r in api.requests][3:] == ["/v1/responses"] * 3
    await client.aclose()


async def test_compactor_raises_key_problems(api: LoopbackServer) -> None:
    api.compact_responder = lambda _r: Reply.error(401)
    client = client_for(api)
    with pytest.raises(AuthenticationError):
        await compact_once(Compactor(), client, api)
    await client.aclose()


async def test_when_every_strategy_fails_the_oldest_turns_go_and_the_user_is_told_once(
    api: LoopbackServer,
) -> None:
    gateway_like(api, summary=Reply.error(500))
    told: list[str] = []
    compactor = Compactor(notify=told.append)
    client = client_for(api)
    items = [user(f"turn {i} " + "x" * 400) for i in range(10)]
    for _ in range(2):
        result = await compactor.compact(
            client,
            base_url=api.base_url,
            model="m",
            items=items,
            instructions=None,
            cache_key=None,
            tokens_before=2000,
            threshold=400,
        )
        assert result.strategy == "trim"
        assert result.items == items[-len(result.items) :] and 0 < len(result.items) < 10
        assert result.tokens_after <= 200 or len(result.items) == 1
    assert len(told) == 1 and "oldest turns were dropped" in told[0]
    await client.aclose()


def test_trim_keeps_whole_turns() -> None:
    call = {"type": "function_call", "call_id": "c", "name": "read_file", "arguments": "{}"}
    out = {"type": "function_call_output", "call_id": "c", "output": "y" * 40}
    items = [user("a" * 400), call, out, user("b"), call, out]
    kept = trim(items, sum(item_tokens(i) for i in items[2:]) - 1)  # cuts inside a tool turn
    assert kept[0] == user("b") and kept == items[3:]


# ----------------------------------------------------------------- persistence


def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    session = store.get("file:///ws")
    session.items.append(user("hello é😀"))
    session.last_usage = {"total_tokens": 10}
    store.save(session)
    again = SessionStore(tmp_path).get("file:///ws")
    assert again.items == session.items
    assert again.id == session.id and again.cache_key == session.cache_key
    assert again.last_usage == {"total_tokens": 10}


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"format": 99}', b"[]", b'{"format": 1, "key": "file:///ws"}']
)
def test_a_corrupt_file_is_moved_aside_and_reported(tmp_path: Path, content: bytes) -> None:
    problems: list[str] = []
    store = SessionStore(tmp_path, on_problem=problems.append)
    (tmp_path / file_name("file:///ws")).write_bytes(content)
    session = store.get("file:///ws")
    assert session.items == []
    assert problems and "moved aside" in problems[0]
    assert list(tmp_path.glob("*.corrupt-*"))
    assert not (tmp_path / file_name("file:///ws")).exists()


def test_a_write_interrupted_midway_leaves_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problems: list[str] = []
    store = SessionStore(tmp_path, on_problem=problems.append)
    session = store.get("file:///ws")
    session.items.append(user("first"))
    store.save(session)
    session.items.append(user("second"))

    def crash(self: Path, target: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", crash)
    store.save(session)  # the rename never happens
    monkeypatch.undo()
    assert problems and "could not save" in problems[0]
    # a half-written temporary file is never read: the previous version is what loads
    (tmp_path / f".{file_name('file:///ws')}.999.tmp").write_text('{"format": 1, "key"')
    assert [i["content"][0]["text"] for i in SessionStore(tmp_path).get("file:///ws").items] == [
        "first"
    ]


def test_the_size_bound_drops_the_oldest_turns(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, max_bytes=2_000)
    session = store.get("k")
    for n in range(10):
        session.items.append(user(f"turn {n} " + "x" * 300))
        session.items.append({"type": "message", "role": "assistant", "content": []})
    store.save(session)
    assert (tmp_path / file_name("k")).stat().st_size <= 2_000
    assert session.items[0]["content"][0]["text"].startswith("turn ")
    assert session.items[-2]["content"][0]["text"].startswith("turn 9")


def test_reset_forgets_the_history_and_the_file(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    session = store.get("k")
    old_id = session.id
    session.items.append(user("x"))
    store.save(session)
    fresh = store.reset("k")
    assert fresh.items == [] and fresh.id != old_id
    # the file now holds the empty session, so another process does not bring the turns back
    again = SessionStore(tmp_path).get("k")
    assert again.items == [] and again.id == fresh.id


def test_session_keys_follow_the_scope(tmp_path: Path) -> None:
    scope = {"value": "workspace"}
    manager = SessionManager(
        SessionStore(tmp_path),
        scope=lambda: scope["value"],
        folders=lambda: ["file:///ws", "file:///ws/sub"],
    )
    assert manager.key_for("file:///ws/sub/a.py") == "file:///ws/sub"
    assert manager.key_for("file:///ws/b.py") == "file:///ws"
    assert manager.key_for("file:///elsewhere/c.py") == "workspace:file:///elsewhere"
    scope["value"] = "document"
    assert manager.key_for("file:///ws/b.py") == "file:///ws/b.py"
    scope["value"] = "off"
    assert manager.session_for("file:///ws/b.py") is None


def test_session_json_round_trip() -> None:
    session = Session(
        key="k",
        items=[user("a")],
        turns=3,
        compactions=1,
        last_action={
            "action": "x",
            "uri": "file:///a.py",
            "start_line": 1,
            "end_line": 2,
            "original": "",
        },
    )
    assert Session.from_json(json.loads(json.dumps(session.to_json()))) == session
