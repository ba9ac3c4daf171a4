"""Sessions and automatic compaction, end to end against the loopback endpoint.

The test keeps its own model of the history (the items every request must carry) and of
the token estimate (last usage + bytes/4 of what was added since), and checks every request
the server sends against it: the history is replayed verbatim, compaction happens exactly
when the estimate crosses the threshold, and what follows a compaction starts with the
compacted items as they came back.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Session, open_session
from tests.loopback import LoopbackServer, Reply

THRESHOLD = 2500
SETTINGS = {"compactThreshold": THRESHOLD, "contextChars": 300, "session": "workspace"}
FUNCTIONS = 12
SOURCE = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(FUNCTIONS))


def tokens(item: dict[str, Any]) -> int:
    return max(1, len(json.dumps(item, ensure_ascii=False).encode("utf-8")) // 4)


def replayable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Output items as they must come back: without server ids (store=false)."""
    return [
        item if item.get("type") == "compaction" else {k: v for k, v in item.items() if k != "id"}
        for item in items
    ]


def selection(body: dict[str, Any]) -> str:
    text = body["input"][-1]["content"][0]["text"]
    return text.split("<selection>\n")[1].split("</selection>")[0]


def rewrite(body: dict[str, Any], turn: int) -> str:
    """The scripted model: mark the selected function with the turn number."""
    code = re.sub(r"    # turn \d+\n", "", selection(body))
    head, rest = code.split("\n", 1)
    return f"{head}\n    # turn {turn}\n{rest}"


class Model:
    """What the test expects the server to send, request after request.

    The session remembers each turn as a short record of the request (the context around
    the code is sent fresh every time) followed by the model's output items, verbatim. Each
    request ends with its own record and then its full message (the record at the place the
    next request will have it: the prompt cache's prefix).
    """

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.last_total: int | None = None
        self.previous_output: list[dict[str, Any]] | None = None

    def check(self, items: list[dict[str, Any]]) -> None:
        """`items` is the known history, then the record of the last turn and its output."""
        known = len(self.history)
        assert items[:known] == self.history
        rest = items[known:]
        if self.previous_output is None:
            assert rest == []
        else:
            record, *output = rest
            text = record["content"][0]["text"]
            assert record["role"] == "user" and text.startswith("Request: Refactor to async")
            assert "funcs.py" in text and tokens(record) < 200
            assert output == replayable(self.previous_output)
        self.history = list(items)
        self.previous_output = None

    def estimate(self, new_items: list[dict[str, Any]]) -> int:
        if self.last_total is None:
            return sum(map(tokens, self.history)) + sum(map(tokens, new_items))
        return self.last_total + sum(map(tokens, new_items))

    def compacted(self, items: list[dict[str, Any]]) -> None:
        self.history = list(items)
        self.last_total = None

    def after_turn(self, request: Any) -> None:
        [done] = [e for e in request.sent_events if e["type"] == "response.completed"]
        self.last_total = done["response"]["usage"]["total_tokens"]
        self.previous_output = done["response"]["output"]


async def act(session: Session, uri: str, index: int) -> dict[str, Any]:
    cursor = SOURCE.index(f"return x + {index}\n")
    return await session.run(uri, "refactor-to-async", session.span(uri, cursor))


def requests_since(api: LoopbackServer, start: int) -> tuple[list[Any], list[Any]]:
    new = api.requests[start:]
    compacts = [r for r in new if r.path.endswith("/responses/compact")]
    responses = [r for r in new if r.path.endswith("/v1/responses")]
    return compacts, responses


async def test_sixty_actions_compact_exactly_when_the_estimate_crosses_the_threshold(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    turn = {"n": 0}

    def model(request: Any) -> Reply:
        turn["n"] += 1
        return Reply.text(rewrite(request.body, turn["n"]), reasoning=turn["n"] % 3 == 0)

    compacted_outputs: list[list[dict[str, Any]]] = []

    def compactor(request: Any) -> Reply:
        # the last user message and one opaque compaction item (small on purpose)
        users = [i for i in request.body["input"] if i.get("role") == "user"]
        output = [
            users[-1],
            {
                "type": "compaction",
                "id": f"cmp_{len(compacted_outputs)}",
                "encrypted_content": f"enc-{len(compacted_outputs)}",
            },
        ]
        compacted_outputs.append(output)
        return Reply.compacted(output)

    loopback.responder = model
    loopback.compact_responder = compactor
    expected = Model()
    cache_keys: set[str] = set()
    compactions = 0
    state = tmp_path / "state"
    text = SOURCE
    for half in (range(30), range(30, 60)):  # the server restarts in the middle
        async with open_session(
            "vscode", loopback, tmp_path, settings=SETTINGS, state_dir=state
        ) as s:
            uri = s.open("funcs.py", text)
            for k in half:
                seen = len(loopback.requests)
                result = await act(s, uri, k % FUNCTIONS)
                assert result["outcome"] == "applied", result
                compacts, [request] = requests_since(loopback, seen)
                new_items = request.body["input"][-2:]  # the turn's record, its message
                if compacts:
                    compactions += 1
                    [compact] = compacts
                    expected.check(compact.body["input"])  # the full history
                    estimate = expected.estimate(new_items)
                    assert estimate > THRESHOLD, (k, estimate)
                    assert request.body["input"] == compacted_outputs[-1] + new_items
                    expected.compacted(compacted_outputs[-1])
                    cache_keys.add(compact.body["prompt_cache_key"])
                else:
                    expected.check(request.body["input"][:-2])
                    estimate = expected.estimate(new_items)
                    assert not expected.history or estimate <= THRESHOLD, (k, estimate)
                cache_keys.add(request.body["prompt_cache_key"])
                expected.after_turn(request)
            text = s.editor.text(uri)
    assert compactions >= 3
    assert len(cache_keys) == 1
    # reasoning items (with their encrypted content) went back to the model verbatim
    replayed = [
        item
        for r in loopback.requests
        if r.path.endswith("/v1/responses")
        for item in r.body["input"]
        if item.get("type") == "reasoning"
    ]
    assert replayed and all(i["encrypted_content"].startswith("gAAAAB") for i in replayed)


async def test_fallbacks_when_the_compact_endpoint_is_missing(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    inline_calls = []

    def model(request: Any) -> Reply:
        body = request.body
        if body.get("context_management"):
            inline_calls.append(request)
            return Reply.items(
                [
                    {"type": "compaction", "encrypted_content": f"inline-{len(inline_calls)}"},
                    {"type": "message", "text": "OK"},
                ]
            )
        return Reply.text(rewrite(body, len(loopback.requests)))

    loopback.responder = model
    loopback.compact_responder = lambda _request: Reply.error(404)
    settings = {**SETTINGS, "compactThreshold": 900}
    async with open_session("vscode", loopback, tmp_path, settings=settings) as s:
        uri = s.open("funcs.py", SOURCE)
        for k in range(8):
            assert (await act(s, uri, k))["outcome"] == "applied"
    compact_calls = [r for r in loopback.requests if r.path.endswith("/compact")]
    assert len(compact_calls) == 1, "the missing endpoint is remembered after the first 404"
    assert len(inline_calls) >= 2
    after = [
        r
        for r in loopback.requests
        if r.path.endswith("/v1/responses") and not r.body.get("context_management")
    ]
    following = next(r for r in after if r.received_at > inline_calls[0].received_at)
    first_item = following.body["input"][0]
    assert first_item["type"] == "compaction" and first_item["encrypted_content"] == "inline-1"


async def test_local_summary_when_no_server_side_compaction_works(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    def model(request: Any) -> Reply:
        body = request.body
        last = json.dumps(body["input"][-1])
        if body.get("context_management"):
            return Reply.text("I cannot compact.")  # no compaction item: inline does not work
        if "CONTEXT CHECKPOINT COMPACTION" in last:
            return Reply.text("The user is adding turn markers to functions f0..f11.")
        return Reply.text(rewrite(body, len(loopback.requests)))

    loopback.responder = model
    loopback.compact_responder = lambda _request: Reply.error(404)
    settings = {**SETTINGS, "compactThreshold": 900}
    async with open_session("vscode", loopback, tmp_path, settings=settings) as s:
        uri = s.open("funcs.py", SOURCE)
        for k in range(6):
            assert (await act(s, uri, k))["outcome"] == "applied"
    summaries = [r for r in loopback.requests if "CONTEXT CHECKPOINT" in json.dumps(r.body or {})]
    assert summaries
    later = [
        r
        for r in loopback.requests
        if r.received_at > summaries[0].received_at
        and r.path.endswith("/v1/responses")
        and not r.body.get("context_management")
        and "CONTEXT CHECKPOINT" not in json.dumps(r.body["input"][-1])
    ]
    first = later[0].body["input"][0]
    assert first["role"] == "user"
    assert "turn markers" in first["content"][0]["text"]


async def test_context_length_exceeded_compacts_and_retries_once(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session("vscode", loopback, tmp_path, settings=SETTINGS) as s:
        uri = s.open("funcs.py", SOURCE)
        loopback.responder = lambda request: Reply.text(rewrite(request.body, 1))
        assert (await act(s, uri, 0))["outcome"] == "applied"
        history = list(loopback.requests[-1].body["input"])
        loopback.responder = None
        loopback.script(
            Reply.error(
                400, code="context_length_exceeded", message="Your input exceeds the context window"
            ),
        )
        loopback.default = Reply.text("def f1(x):\n    # turn 2\n    return x + 1\n")
        seen = len(loopback.requests)
        result = await act(s, uri, 1)
        assert result["outcome"] == "applied", result
        kinds = [r.path.rsplit("/", 1)[-1] for r in loopback.requests[seen:]]
        assert kinds == ["responses", "compact", "responses"]
        compact = loopback.requests[seen + 1]
        record, output = compact.body["input"]  # the whole history: turn 1 and its answer
        assert record["content"][0]["text"].startswith("Request: Refactor to async")
        assert output["role"] == "assistant" and "# turn 1" in output["content"][0]["text"]
        assert history[-1]["content"] != record["content"]  # the record, not the full prompt
        messages = [
            p.message
            for v in s.client.progress_reports.values()
            for p in v
            if getattr(p, "message", None)
        ]
        assert any("compacting session and retrying" in m for m in messages)


async def test_session_commands_show_reset_and_compact(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session("vscode", loopback, tmp_path, settings=SETTINGS) as s:
        uri = s.open("funcs.py", SOURCE)
        loopback.responder = lambda request: Reply.text(rewrite(request.body, 1))
        for k in range(2):
            assert (await act(s, uri, k))["outcome"] == "applied"
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        assert shown["turns"] == 2 and shown["estimatedTokens"] > 0 and shown["compactions"] == 0
        answer = await s.execute("responses-lsp.session.compact", {"uri": uri})
        compacted = await s.editor.job_result(answer)
        assert compacted["outcome"] == "compacted", compacted
        assert compacted["compacted"] is True and compacted["strategy"] == "endpoint"
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        assert shown["compactions"] == 1
        await s.execute("responses-lsp.session.reset", {"uri": uri})
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        assert shown["turns"] == 0 and shown["items"] == 0


def progress_values(s: Session, token: str) -> list[Any]:
    return list(s.client.progress_reports.get(token, []))


async def test_session_compact_answers_at_once_and_reports_its_end(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    """DESIGN I9: the compaction call may last the whole request timeout; the command does not."""
    async with open_session("vscode", loopback, tmp_path, settings=SETTINGS) as s:
        uri = s.open("funcs.py", SOURCE)
        loopback.responder = lambda request: Reply.text(rewrite(request.body, 1))
        for k in range(2):
            assert (await act(s, uri, k))["outcome"] == "applied"
        slow = 3.0
        loopback.compact_responder = lambda request: Reply.compaction_for(request.body).replace(
            header_delay=slow
        )
        loop = asyncio.get_running_loop()
        sent = loop.time()
        answer = await s.execute("responses-lsp.session.compact", {"uri": uri})
        answered = loop.time() - sent
        print(f"session.compact answered in {answered * 1000:.0f} ms (endpoint: {slow} s)")
        assert answered < 0.5, answered
        assert answer["outcome"] == "started" and answer["token"], answer
        # meanwhile the server answers other requests at once, and the job is listed
        sent = loop.time()
        status = await s.execute("responses-lsp.jobResult", {"jobId": answer["jobId"]})
        assert loop.time() - sent < 0.5
        assert s.editor.jobs_done.get(answer["jobId"]) is None
        assert status["state"] == "running", status
        result = await s.editor.job_result(answer, limit=30)
        done = loop.time() - sent
        assert done >= slow - 0.5, done  # the compaction itself really took its time
        assert result["outcome"] == "compacted" and result["compacted"] is True, result
        assert result["strategy"] == "endpoint" and result["action"] == (
            "responses-lsp.session.compact"
        )
        assert result["tokensAfter"] < result["tokensBefore"]
        assert result["message"] == (
            f"compacted: {result['tokensBefore']} → {result['tokensAfter']} tokens"
        )
        assert [r.path for r in loopback.requests].count("/v1/responses/compact") == 1
        values = progress_values(s, answer["token"])
        assert values[0].kind == "begin" and values[-1].kind == "end"
        assert values[-1].message == result["message"]
        status = await s.execute("responses-lsp.jobResult", {"jobId": answer["jobId"]})
        assert status["state"] == "done"
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        assert shown["compactions"] == 1


async def test_session_compact_failure_is_reported_not_answered(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session("vscode", loopback, tmp_path, settings=SETTINGS) as s:
        uri = s.open("funcs.py", SOURCE)
        loopback.responder = lambda request: Reply.text(rewrite(request.body, 1))
        assert (await act(s, uri, 0))["outcome"] == "applied"
        refused = Reply.error(401, message="Incorrect API key provided").replace(header_delay=1.0)
        loopback.compact_responder = lambda request: refused
        loopback.responder = lambda request: refused
        loop = asyncio.get_running_loop()
        sent = loop.time()
        answer = await s.execute("responses-lsp.session.compact", {"uri": uri})
        assert loop.time() - sent < 0.5
        result = await s.editor.job_result(answer, limit=30)
        assert result["outcome"] == "error" and result["errorKind"] == "api", result
        assert result["compacted"] is False and result["message"]
        assert result["message"] in s.messages()  # window/showMessage
        values = progress_values(s, answer["token"])
        assert values[-1].kind == "end" and values[-1].message == result["message"]
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        assert shown["compactions"] == 0 and shown["turns"] == 1


async def test_session_compact_is_cancelled_like_a_job(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session("vscode", loopback, tmp_path, settings=SETTINGS) as s:
        uri = s.open("funcs.py", SOURCE)
        loopback.responder = lambda request: Reply.text(rewrite(request.body, 1))
        assert (await act(s, uri, 0))["outcome"] == "applied"
        loopback.compact_responder = lambda request: Reply.compaction_for(request.body).replace(
            header_delay=8.0
        )
        answer = await s.execute("responses-lsp.session.compact", {"uri": uri})
        assert answer["outcome"] == "started", answer
        await s.wait_for(lambda: any(r.path.endswith("/compact") for r in loopback.requests))
        listed = await s.execute("responses-lsp.jobs")
        assert [j["action"] for j in listed] == ["responses-lsp.session.compact"]
        loop = asyncio.get_running_loop()
        sent = loop.time()
        assert (await s.execute("responses-lsp.cancel", {"jobId": answer["jobId"]}))[
            "cancelled"
        ] == 1
        result = await s.editor.job_result(answer, limit=5)
        assert loop.time() - sent < 2.0
        assert result["outcome"] == "cancelled", result
        assert progress_values(s, answer["token"])[-1].kind == "end"
        shown = await s.execute("responses-lsp.session.show", {"uri": uri})
        assert shown["compactions"] == 0 and shown["turns"] == 1


async def test_session_compact_with_nothing_to_compact_is_answered_with_the_result(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    async with open_session("vscode", loopback, tmp_path, settings=SETTINGS) as s:
        uri = s.open("funcs.py", SOURCE)
        answer = await s.execute("responses-lsp.session.compact", {"uri": uri})
        assert answer["outcome"] == "unchanged" and answer["compacted"] is False
        assert not loopback.requests


@pytest.mark.parametrize("scope", ["off", "document"])
async def test_session_scope_setting(loopback: LoopbackServer, tmp_path: Path, scope: str) -> None:
    loopback.responder = lambda request: Reply.text(rewrite(request.body, 1))
    async with open_session(
        "vscode", loopback, tmp_path, settings={**SETTINGS, "session": scope}
    ) as s:
        a = s.open("a.py", SOURCE)
        b = s.open("b.py", SOURCE)
        await act(s, a, 0)
        await act(s, b, 0)
        second = loopback.requests[-1].body
        # nothing from a.py's turn: without a session the message alone, with one b.py's
        # own record first
        assert len(second["input"]) == (1 if scope == "off" else 2)
        assert "a.py" not in json.dumps(second["input"])
        if scope == "off":
            assert "prompt_cache_key" not in second


async def test_follow_ups_refine_and_retry_the_last_edit_with_the_history(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    source = "import time\n\n\ndef wait(n):\n    time.sleep(n)\n    return n\n"
    first = "async def wait(n):\n    await asyncio.sleep(n)\n    return n\n"
    refined = "async def wait(n: float) -> float:\n    await asyncio.sleep(n)\n    return n\n"
    retried = "async def wait(n):\n    await asyncio.to_thread(time.sleep, n)\n    return n\n"
    async with open_session("vscode", loopback, tmp_path, settings=SETTINGS) as s:
        uri = s.open("w.py", source)
        cursor = source.index("time.sleep")
        ids = [a.command.arguments[0]["action"] for a in await s.actions(uri, s.span(uri, cursor))]
        assert "refine-last" not in ids and "retry-last" not in ids
        loopback.script(Reply.text(first), Reply.text(refined), Reply.text(retried))
        assert (await s.run(uri, "refactor-to-async", s.span(uri, cursor)))["outcome"] == "applied"
        assert s.editor.text(uri) == "import time\n\n\n" + first

        anywhere = s.span(uri, 0)  # a cursor elsewhere: the follow-up acts on the last edit
        ids = [a.command.arguments[0]["action"] for a in await s.actions(uri, anywhere)]
        assert "refine-last" in ids and "retry-last" in ids
        result = await s.run(uri, "refine-last", anywhere, instruction="add type hints")
        assert result["outcome"] == "applied", result
        assert s.editor.text(uri) == "import time\n\n\n" + refined
        body = loopback.requests[-1].body
        # the first turn (record + answer), then the new request (its record, its message)
        assert len(body["input"]) == 4
        assert "await asyncio.sleep(n)" in json.dumps(body["input"][1])
        assert "add type hints" in s.prompt()

        result = await s.run(uri, "retry-last", anywhere, instruction="keep time.sleep")
        assert result["outcome"] == "applied", result
        assert s.editor.text(uri) == "import time\n\n\n" + retried
        prompt = s.prompt()
        assert (
            "keep time.sleep" in prompt and "time.sleep(n)\n    return n" in prompt
        )  # the original
        assert len(loopback.requests[-1].body["input"]) == 6
