"""An answer that does not parse is never left in the file silently (issue 15, item 1).

When the answer is complete, the document with it in place is parsed and compared with the
document before the action (Python: the standard library; JavaScript and Go: the optional
tree-sitter extra, installed by the test set-up). New syntax errors get one repair turn in
the same session (its request carries the errors with their lines and the code produced),
streamed into the region; still broken, the original comes back and the message says where.
A document that was broken before the action is not blamed on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Session, open_session
from tests.loopback import LoopbackServer, Reply

PY_SOURCE = (
    "import os\n"
    "\n"
    "\n"
    "def total(xs):\n"
    "    s = 0\n"
    "    for x in xs:\n"
    "        s += x\n"
    "    return s\n"
    "\n"
    "\n"
    "print(total([1, 2]), os.sep)\n"
)
PY_FUNC = PY_SOURCE[PY_SOURCE.index("def total") : PY_SOURCE.index("\n\nprint") + 1]
PY_BROKEN = "def total(xs):\n    return sum(xs\n"  # line 5 of the file: '(' never closed
PY_FIXED = "def total(xs):\n    return sum(xs)\n"

JS_SOURCE = (
    "const base = 10;\n"
    "\n"
    "function total(xs) {\n"
    "  let s = 0;\n"
    "  for (const x of xs) s += x;\n"
    "  return s;\n"
    "}\n"
    "\n"
    "console.log(total([1, 2]) + base);\n"
)
JS_FUNC = JS_SOURCE[JS_SOURCE.index("function total") : JS_SOURCE.index("\n\nconsole") + 1]
JS_BROKEN = "function total(xs) {\n  return xs.reduce((a, b) => a +, 0);\n}\n"  # line 4
JS_FIXED = "function total(xs) {\n  return xs.reduce((a, b) => a + b, 0);\n}\n"

GO_SOURCE = (
    "package main\n"
    "\n"
    'import "fmt"\n'
    "\n"
    "func total(xs []int) int {\n"
    "\ts := 0\n"
    "\tfor _, x := range xs {\n"
    "\t\ts += x\n"
    "\t}\n"
    "\treturn s\n"
    "}\n"
    "\n"
    "func main() { fmt.Println(total([]int{1, 2})) }\n"
)
GO_FUNC = GO_SOURCE[GO_SOURCE.index("func total") : GO_SOURCE.index("\n\nfunc main") + 1]
GO_BROKEN = GO_FUNC.replace("s += x", "s += ")  # line 8 of the file
GO_BROKEN_AGAIN = "func total(xs []int) int {\n\treturn xs[\n}\n"

INSTRUCTION = "make it shorter"


def last_user_text(body: dict[str, Any]) -> str:
    message = [i for i in body["input"] if i.get("role") == "user"][-1]
    return "".join(part["text"] for part in message["content"])


def buffers_after_each_edit(session: Session, uri: str) -> list[str]:
    """The buffer after each workspace/applyEdit the editor applies (filled as they come)."""
    seen: list[str] = []
    apply = session.editor._on_apply_edit

    def recording(params: Any) -> Any:
        answer = apply(params)
        seen.append(session.text(uri))
        return answer

    session.editor._on_apply_edit = recording  # type: ignore[method-assign]
    return seen


async def rewrite(session: Session, uri: str, source: str, func: str) -> dict[str, Any]:
    start = source.index(func)
    rng = session.span(uri, start, start + len(func))
    return await session.run(uri, "edit-with-instruction", rng, instruction=INSTRUCTION)


async def test_python_broken_answer_gets_one_repair_turn_and_the_repair_lands(
    session: Session,
) -> None:
    # a chunk every 50 ms, slower than the 34 ms edit window: each goes out as it comes, so the
    # broken answer shows (at 40/s a late chunk could wait for a window after the stream's end)
    paced = {"chunks": 6, "pace_tps": 20}
    session.api.script(Reply.text(PY_BROKEN, **paced), Reply.text(PY_FIXED, **paced))
    uri = session.open("calc.py", PY_SOURCE)
    seen = buffers_after_each_edit(session, uri)
    result = await rewrite(session, uri, PY_SOURCE, PY_FUNC)
    assert result["outcome"] == "applied", result
    # the repair streamed in place of the broken code, never after it. The broken answer showed
    # ("return sum(" not closed by "xs)"); its last chunk ("xs\n") may never show: it arrives with
    # the end of the stream, and the repair can replace it before its edit window opens.
    assert any(re.search(r"return sum\((?!xs\))", text) for text in seen)
    assert max(text.count("def total(xs):") for text in seen) == 2  # new + original
    assert result["check"] == "repaired", result
    assert "repaired (syntax error at line 5" in result["message"], result
    assert session.text(uri) == PY_SOURCE.replace(PY_FUNC, PY_FIXED)
    requests = [r for r in session.api.requests if r.path.endswith("/responses")]
    assert len(requests) == 2
    repair = requests[1].body or {}
    asked = last_user_text(repair)
    assert "line 5: '(' was never closed" in asked, asked
    assert PY_BROKEN.rstrip("\n") in asked  # the code produced
    # the same conversation: the first question and the broken answer come before it
    texts = [str(item) for item in repair["input"]]
    assert any(INSTRUCTION in t for t in texts[:-1])
    assert any("return sum(xs" in t and "assistant" in t for t in texts[:-1])
    assert repair["prompt_cache_key"] == (requests[0].body or {})["prompt_cache_key"]


async def test_python_still_broken_after_the_repair_restores_the_original_and_says_where(
    session: Session,
) -> None:
    session.api.script(Reply.text(PY_BROKEN, chunks=6), Reply.text(PY_BROKEN, chunks=3))
    uri = session.open("calc.py", PY_SOURCE)
    result = await rewrite(session, uri, PY_SOURCE, PY_FUNC)
    assert result["outcome"] == "restored", result
    assert result["check"] == "restored"
    assert result["message"].startswith("responses-lsp: restored: syntax error at line 5 ")
    first = result["syntaxErrors"][0]  # (pygls hands nested objects over as named tuples)
    assert (first.line, first.message) == (4, "'(' was never closed")  # 0-based, as in LSP
    await session.editor.settle()
    assert session.text(uri) == PY_SOURCE
    assert any("restored: syntax error at line 5" in m for m in session.messages())
    assert len([r for r in session.api.requests if r.path.endswith("/responses")]) == 2


async def test_a_document_broken_before_the_action_is_not_blamed_on_it(session: Session) -> None:
    broken = PY_SOURCE.replace("os.sep)\n", "os.sep\n")  # line 11: '(' was never closed
    session.api.script(Reply.text(PY_FIXED, chunks=4))
    uri = session.open("calc.py", broken)
    result = await rewrite(session, uri, broken, PY_FUNC)
    assert (result["outcome"], result["check"]) == ("applied", "checked"), result
    assert result["message"].endswith("; checked")
    assert session.text(uri) == broken.replace(PY_FUNC, PY_FIXED)
    assert len(session.api.requests) == 1  # no repair turn


async def test_javascript_through_tree_sitter_repaired(session: Session) -> None:
    session.api.script(Reply.text(JS_BROKEN, chunks=5), Reply.text(JS_FIXED, chunks=5))
    uri = session.open("calc.js", JS_SOURCE, "javascript")
    result = await rewrite(session, uri, JS_SOURCE, JS_FUNC)
    assert (result["outcome"], result["check"]) == ("applied", "repaired"), result
    assert session.text(uri) == JS_SOURCE.replace(JS_FUNC, JS_FIXED)
    asked = last_user_text(session.request(1))
    assert "line 4:" in asked and "a +, 0" in asked, asked


async def test_go_through_tree_sitter_restored_when_the_repair_is_broken_too(
    session: Session,
) -> None:
    session.api.script(Reply.text(GO_BROKEN, chunks=5), Reply.text(GO_BROKEN_AGAIN, chunks=5))
    uri = session.open("calc.go", GO_SOURCE, "go")
    result = await rewrite(session, uri, GO_SOURCE, GO_FUNC)
    assert (result["outcome"], result["check"]) == ("restored", "restored"), result
    assert "restored: syntax error at line 6 " in result["message"], result
    assert "line 8:" in last_user_text(session.request(1))  # `s += ` on line 8 of the file
    await session.editor.settle()
    assert session.text(uri) == GO_SOURCE


async def test_keep_setting_keeps_the_broken_answer_and_warns(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.script(Reply.text(PY_BROKEN, chunks=4), Reply.text(PY_BROKEN, chunks=4))
    settings = {"syntaxCheck": "keep"}
    async with open_session("vscode", loopback, tmp_path, settings=settings) as session:
        uri = session.open("calc.py", PY_SOURCE)
        result = await rewrite(session, uri, PY_SOURCE, PY_FUNC)
        assert (result["outcome"], result["check"]) == ("applied", "kept"), result
        assert "kept with a syntax error at line 5" in result["message"]
        assert session.text(uri) == PY_SOURCE.replace(PY_FUNC, PY_BROKEN)
        assert any("kept with a syntax error" in m for m in session.messages())


async def test_off_setting_sends_no_repair_turn(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.script(Reply.text(PY_BROKEN, chunks=4))
    async with open_session("neovim", loopback, tmp_path, settings={"syntaxCheck": "off"}) as s:
        uri = s.open("calc.py", PY_SOURCE)
        result = await rewrite(s, uri, PY_SOURCE, PY_FUNC)
        assert (result["outcome"], result["check"]) == ("applied", "unchecked"), result
        assert s.text(uri) == PY_SOURCE.replace(PY_FUNC, PY_BROKEN)
        assert len(s.api.requests) == 1


async def test_a_javascript_document_broken_above_and_below_is_not_blamed(
    session: Session,
) -> None:
    broken = "const base = (10;\n" + JS_SOURCE.split("\n", 1)[1].replace("+ base);", "+ base;")
    session.api.script(Reply.text(JS_FIXED, chunks=4))
    uri = session.open("calc.js", broken, "javascript")
    result = await rewrite(session, uri, broken, JS_FUNC)
    assert (result["outcome"], result["check"]) == ("applied", "checked"), result
    assert session.text(uri) == broken.replace(JS_FUNC, JS_FIXED)
    assert len(session.api.requests) == 1  # no repair turn


async def test_a_document_too_large_to_check_says_it_was_not_checked(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    large = PY_SOURCE + "# padding, padding, padding, padding, padding, padding, padding\n" * 4000
    assert len(large) > 250_000
    loopback.script(Reply.text(PY_BROKEN, chunks=4))
    async with open_session("vscode", loopback, tmp_path) as session:
        uri = session.open("big.py", large)
        result = await rewrite(session, uri, large, PY_FUNC)
        assert (result["outcome"], result["check"]) == ("applied", "unchecked"), result
        assert "not syntax-checked (the document is over 250,000 characters)" in result["message"]
        assert len(session.api.requests) == 1
