"""Tokens sent per request over a long session, with and without automatic compaction.

Drives the real session code (SessionManager, Compactor, ResponsesClient) against the
loopback Responses server for N turns of realistic size. Each turn sends the full prompt of
the action's template with ~1.5 KB of context and a 30-line function; the answer is the
rewritten function (~1.2 KB) after a reasoning item carrying 3 KB of `encrypted_content`
(what reasoning models send back). `/responses/compact` answers like the real endpoint: all
the user messages of the history, then one compaction item (8 KB: a summary's worth). The
loopback reports `usage.input_tokens` as bytes/4 of what it received, in both runs.

    python bench/compaction.py [--turns 200] [--threshold 20000] [--png bench/compaction.png]

Targets (issue 4): with compaction, input tokens per request never exceed the threshold;
total input tokens over the run at most 40% of the run without compaction.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from responses_lsp.actions.catalog import all_actions, find_action
from responses_lsp.actions.prompts import (
    PromptInput,
    build_history_message,
    build_instructions,
    build_user_message,
)
from responses_lsp.api.client import ClientConfig, ResponsesClient
from responses_lsp.api.events import OutputItemDone, ResponseCompleted
from responses_lsp.api.requests import ResponseRequest, user_message
from responses_lsp.loopback import LoopbackServer, Reply
from responses_lsp.sessions.manager import SessionManager
from responses_lsp.sessions.store import SessionStore

CONTEXT = "".join(
    f"def helper_{i}(value):\n    return value * {i} + offset_{i}\n\n" for i in range(30)
)


def function(turn: int) -> str:
    body = "".join(f"    step_{k} = fetch(url, {k})  # turn {turn}\n" for k in range(30))
    return f"def task_{turn}(url):\n{body}    return step_29\n"


def answer(turn: int) -> Reply:
    code = function(turn).replace("def ", "async def ").replace("fetch(", "await fetch(")
    reasoning = {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAB" + "r" * 3000}
    return Reply.items([reasoning, {"type": "message", "text": code}])


def compacted(request: Any) -> Reply:
    users = [i for i in request.body["input"] if i.get("role") == "user"]
    return Reply.compacted([*users, {"type": "compaction", "encrypted_content": "c" * 8000}])


async def run(turns: int, threshold: int | None, state: Path) -> list[dict[str, Any]]:
    action = find_action(all_actions(()), "refactor-to-async")
    assert action is not None
    rows: list[dict[str, Any]] = []
    with LoopbackServer() as api:
        api.responder = lambda _request: answer(len(api.requests))
        api.compact_responder = compacted
        client = ResponsesClient(
            ClientConfig(base_url=api.base_url, api_key="sk-bench-000000", model="m")
        )
        manager = SessionManager(
            SessionStore(state), scope=lambda: "workspace", folders=lambda: ["file:///ws"]
        )
        session = manager.session_for("file:///ws/app.py")
        assert session is not None
        instructions = build_instructions()
        for turn in range(turns):
            prompt = PromptInput(
                action=action,
                file_path="app.py",
                language_id="python",
                selection=function(turn),
                before=CONTEXT[: len(CONTEXT) * 2 // 3],
                after=CONTEXT[len(CONTEXT) * 2 // 3 :],
                first_line=40,
            )
            new_items = [user_message(build_user_message(prompt))]
            compactions = session.compactions
            history = await manager.prepare(
                session,
                new_items,
                client=client,
                base_url=api.base_url,
                model="m",
                instructions=instructions,
                threshold=threshold or 10**12,
            )
            request = ResponseRequest(
                model="m",
                input=history,
                instructions=instructions,
                prompt_cache_key=session.cache_key,
            )
            output: list[dict[str, Any]] = []
            usage: dict[str, Any] | None = None
            async for event in client.stream(request):
                if isinstance(event, OutputItemDone):
                    output.append(event.item.as_input())
                elif isinstance(event, ResponseCompleted) and event.response.usage is not None:
                    usage = event.response.usage.model_dump(mode="json")
            assert usage is not None
            manager.record(session, [user_message(build_history_message(prompt))], output, usage)
            rows.append(
                {
                    "turn": turn + 1,
                    "input_tokens": usage["input_tokens"],
                    "compacted": session.compactions > compactions,
                }
            )
        await client.aclose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--threshold", type=int, default=20_000)
    parser.add_argument("--png", default=str(Path(__file__).with_name("compaction.png")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        plain = asyncio.run(run(args.turns, None, Path(a)))
        compacted = asyncio.run(run(args.turns, args.threshold, Path(b)))
    total_plain = sum(r["input_tokens"] for r in plain)
    total_compacted = sum(r["input_tokens"] for r in compacted)
    peak = max(r["input_tokens"] for r in compacted)
    print("| turn | input tokens, no compaction | input tokens, compaction | compacted before it |")
    print("|---|---|---|---|")
    for p, c in zip(plain, compacted, strict=True):
        if p["turn"] % 20 == 0 or p["turn"] == 1 or c["compacted"]:
            mark = "yes" if c["compacted"] else ""
            print(f"| {p['turn']} | {p['input_tokens']:,} | {c['input_tokens']:,} | {mark} |")
    ratio = total_compacted / total_plain
    print()
    print(
        f"threshold: {args.threshold:,} tokens; turns: {args.turns}; "
        f"compactions: {sum(r['compacted'] for r in compacted)}"
    )
    print(
        f"max input tokens per request with compaction: {peak:,} "
        f"({'PASS' if peak <= args.threshold else 'FAIL'}: <= threshold)"
    )
    print(
        f"total input tokens: {total_compacted:,} vs {total_plain:,} without = {ratio:.1%} "
        f"({'PASS' if ratio <= 0.40 else 'FAIL'}: <= 40%)"
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot; pip install -e '.[bench]')")
        return 0
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot([r["turn"] for r in plain], [r["input_tokens"] for r in plain], label="no compaction")
    ax.plot(
        [r["turn"] for r in compacted],
        [r["input_tokens"] for r in compacted],
        label="automatic compaction",
    )
    ax.axhline(args.threshold, color="grey", linestyle="--", linewidth=1, label="threshold")
    ax.set_xlabel("turn")
    ax.set_ylabel("input tokens per request")
    ax.set_title(f"Session of {args.turns} actions: tokens sent per request")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(f"plot: {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
