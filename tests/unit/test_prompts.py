"""The prompt builder: what the model is told (instructions) and shown (context, selection).

The instructions demand code only; the user message renders the action's template safely
(braces in code are code), marks the selection unambiguously, and carries as much nearby
context as the budget allows, at a cost that depends on the budget, not the document.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responses_lsp.actions.catalog import BUILTIN_ACTIONS, ActionSpec, find_action
from responses_lsp.actions.prompts import (
    PromptInput,
    build_agent_instructions,
    build_instructions,
    build_user_message,
    context_around,
    format_diagnostic,
    language_name,
    render_template,
)
from responses_lsp.editing.document import Document


def action(action_id: str) -> ActionSpec:
    spec = find_action(BUILTIN_ACTIONS, action_id)
    assert spec is not None
    return spec


def custom(template: str) -> ActionSpec:
    return ActionSpec("mine", "Mine", "refactor.rewrite", template, "selection", builtin=False)


SELECTION = "    def get(self, url):\n        return requests.get(url).json()\n"


def prompt(spec: ActionSpec, **fields: object) -> PromptInput:
    values: dict[str, object] = {
        "action": spec,
        "file_path": "pkg/client.py",
        "language_id": "python",
        "selection": SELECTION,
        "before": "class Client:\n",
        "after": "\n    def close(self):\n        pass\n",
    }
    values.update(fields)
    return PromptInput(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- instructions


def test_instructions_demand_the_replacement_code_only() -> None:
    text = build_instructions()
    for phrase in [
        "Output only the replacement code for the selection",
        "no Markdown code fences",
        "no explanations",
        "never repeat the surrounding context",
        "base indentation",
    ]:
        assert phrase in text


def test_instructions_are_the_same_bytes_for_every_language_for_prompt_caching() -> None:
    # issue 15: the language in the instructions made every change of file type a cache miss
    # from the first bytes on; the user message names the language instead
    assert build_instructions() == build_instructions()
    assert "Python" not in build_instructions() and "Go" not in build_instructions()
    assert "Python" not in build_agent_instructions()


@pytest.mark.parametrize(
    ("language_id", "name"),
    [("typescriptreact", "TypeScript (TSX)"), ("cpp", "C++"), ("zig", "zig"), ("", "plain text")],
)
def test_language_ids_read_as_names(language_id: str, name: str) -> None:
    assert language_name(language_id) == name


# ---------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("template", "fields", "expected"),
    [
        ("Port {language} in {file_path}", {}, "Port Python in pkg/client.py"),
        ("Fix:\n{diagnostics}", {"diagnostics": ("line 3: error: x",)}, "Fix:\n- line 3: error: x"),
        ("Fix:\n{diagnostics}", {}, "Fix:\n(none)"),
        ("Do {instruction}.", {"instruction": "  add retries \n"}, "Do add retries."),
        ("Untitled: {file_path}", {"file_path": ""}, "Untitled: untitled"),
        ("Keep {unknown} and {{double}} and {0}", {}, "Keep {unknown} and {{double}} and {0}"),
        ("Review {selection}", {"selection": "x = {'a': 1}\r\n"}, "Review x = {'a': 1}\n"),
        # text put in for one placeholder is never scanned for another
        (
            "Do {instruction} to {selection}",
            {"instruction": "{selection}"},
            f"Do {{selection}} to {SELECTION}",
        ),
        (
            "{selection}|{instruction}",
            {"selection": "{instruction}", "instruction": "I"},
            "{instruction}|I",
        ),
    ],
)
def test_placeholders_are_replaced_in_one_safe_pass(
    template: str, fields: dict[str, object], expected: str
) -> None:
    assert render_template(prompt(custom(template), **fields)) == expected


def test_braces_in_code_do_not_break_the_message() -> None:
    code = "function f() { return `${a}` + '{selection}' + '{0}'; }\n"
    message = build_user_message(
        prompt(custom("Tidy {language}"), selection=code, language_id="javascript")
    )
    assert "Tidy JavaScript" in message
    assert f"<selection>\n{code}</selection>" in message


def test_the_selection_is_between_tags_and_the_context_around_it() -> None:
    message = build_user_message(prompt(action("refactor-to-async"), first_line=2))
    assert "<before>\nclass Client:\n</before>" in message
    assert f"<selection>\n{SELECTION}</selection>" in message
    assert "<after>\n\n    def close(self):\n        pass\n</after>" in message
    assert message.index("<before>") < message.index("<selection>") < message.index("<after>")
    assert "File: pkg/client.py (Python), selection = lines 2-3" in message
    assert message.rstrip().endswith(
        "Reply with the new code for <selection> only: no fences, no explanations."
    )
    assert message.startswith("Refactor the selected Python code to be asynchronous.")


def test_empty_context_sections_are_left_out() -> None:
    message = build_user_message(prompt(action("add-type-hints"), before="", after=""))
    assert "<before>" not in message and "<after>" not in message
    assert f"<selection>\n{SELECTION}</selection>" in message


def test_code_that_contains_a_tag_gets_other_tags() -> None:
    html = "<p>not </selection> nor <before> here</p>"
    message = build_user_message(prompt(custom("Fix"), selection=html, language_id="html"))
    assert f"<selection-2>\n{html}\n</selection-2>" in message
    assert "<before-2>\nclass Client:\n</before-2>" in message
    assert "Reply with the new code for <selection-2> only" in message


def test_crlf_code_is_sent_with_lf_breaks() -> None:
    message = build_user_message(
        prompt(custom("Fix"), selection="a = 1\r\nb = 2\r\n", before="x\r\n", after="y\r")
    )
    assert "\r" not in message
    assert "<selection>\na = 1\nb = 2\n</selection>" in message


def test_diagnostics_reach_the_model_even_without_a_placeholder() -> None:
    diags = ("line 2: error: Name 'requests' is not defined (Pyright reportUndefinedVariable)",)
    message = build_user_message(prompt(custom("Improve this"), diagnostics=diags))
    assert "Problems reported in the selection (lines of the whole file):\n- " + diags[0] in message


def test_fix_diagnostics_lists_each_problem_once() -> None:
    diags = ("line 2: error: a", "line 3: warning: b")
    message = build_user_message(prompt(action("fix-diagnostics"), diagnostics=diags))
    assert "- line 2: error: a\n- line 3: warning: b" in message
    assert message.count("line 2: error: a") == 1


def test_an_instruction_reaches_the_model_even_without_a_placeholder() -> None:
    message = build_user_message(prompt(custom("Rewrite"), instruction="use pathlib"))
    assert "Instruction:\nuse pathlib" in message
    spec = action("edit-with-instruction")
    message = build_user_message(prompt(spec, instruction="use pathlib"))
    assert "following this instruction:\nuse pathlib" in message
    assert message.count("use pathlib") == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((12, "error", "Undefined name `x`"), "line 12: error: Undefined name `x`"),
        (
            (3, "warning", "unused\n  import", "ruff", "F401"),
            "line 3: warning: unused import (ruff F401)",
        ),
        ((1, "hint", "h", None, 7), "line 1: hint: h (7)"),
    ],
)
def test_diagnostics_are_one_line_each(args: tuple[object, ...], expected: str) -> None:
    assert format_diagnostic(*args) == expected  # type: ignore[arg-type]


# ---------------------------------------------------------------- context


def numbered(count: int, width: int = 9) -> Document:
    """Lines "000001…\\n" of `width` characters plus the break."""
    return Document("file:///n.py", "".join(f"{i:0{width}d}\n" for i in range(count)), 1, "python")


@pytest.mark.parametrize(
    ("lines", "start", "end", "budget"),
    [
        (1000, 500, 510, 600),
        (1000, 500, 510, 6000),
        (1000, 0, 10, 600),  # at the top: the budget goes below
        (1000, 990, 1000, 600),  # at the bottom: the budget goes above
        (30, 10, 20, 6000),  # the whole file fits
        (1000, 500, 510, 7),  # smaller than any line
        (1000, 500, 510, 0),
    ],
)
def test_context_respects_the_budget_in_whole_lines(
    lines: int, start: int, end: int, budget: int
) -> None:
    doc = numbered(lines)
    before, after = context_around(doc, (start, 0), (end, 0), budget)
    assert len(before) + len(after) <= budget
    assert before == "" or before.endswith("\n")
    assert all(len(line) == 9 or line.startswith("...") for line in before.splitlines())
    assert all(len(line) == 9 for line in after.splitlines())
    if after:
        assert after.startswith(f"{end:09d}\n")  # nearest lines first
    if before:
        assert before.endswith(f"{start - 1:09d}\n")


def test_context_is_split_about_two_thirds_above_and_one_third_below() -> None:
    before, after = context_around(numbered(1000), (500, 0), (510, 0), 3000)
    near = before.split("lines omitted) ...\n")[-1]
    assert len(before) == pytest.approx(2000, abs=20)
    assert len(after) == pytest.approx(1000, abs=20)
    assert len(near) > len(after)


def test_a_side_that_runs_out_of_file_gives_its_share_to_the_other() -> None:
    before, after = context_around(numbered(1000), (2, 0), (3, 0), 3000)
    assert before == "000000000\n000000001\n"
    assert len(after) == pytest.approx(3000 - 20, abs=10)
    before, after = context_around(numbered(1000), (997, 0), (998, 0), 3000)
    assert after == "000000998\n000000999\n"
    assert len(before) == pytest.approx(3000 - 20, abs=10)


def test_the_file_head_is_kept_when_the_nearest_lines_do_not_reach_it() -> None:
    before, _ = context_around(numbered(1000), (500, 0), (510, 0), 3000)
    lines = before.splitlines()
    assert lines[0] == "000000000"  # imports and module docstring live here
    marker = next(line for line in lines if line.startswith("..."))
    head = lines[: lines.index(marker)]
    near = lines[lines.index(marker) + 1 :]
    assert marker == f"... ({int(near[0]) - len(head)} lines omitted) ..."
    assert near[-1] == "000000499"
    assert near == [f"{i:09d}" for i in range(int(near[0]), 500)]


def test_the_whole_file_fits_without_a_marker() -> None:
    doc = numbered(30)
    before, after = context_around(doc, (10, 0), (20, 0), 6000)
    assert before == doc.slice((0, 0), (10, 0))
    assert after == doc.slice((20, 0), doc.end())


def test_partial_lines_around_a_selection_are_context_too() -> None:
    doc = Document("file:///a.js", "a\nlet x = f(y);\nb\n", 1, "javascript")
    before, after = context_around(doc, (1, 8), (1, 12), 100)
    assert before == "a\nlet x = "
    assert after == ";\nb\n"


def test_crlf_context_keeps_its_lines_whole() -> None:
    doc = Document("file:///w.py", "a\r\nb\r\nc\r\nd\r\ne\r\n", 1, "python")
    before, after = context_around(doc, (2, 0), (3, 0), 9)
    assert (before, after) == ("a\r\nb\r\n", "d\r\n")


def test_context_costs_the_budget_not_the_document() -> None:
    class CountingLines(list[str]):
        touched = 0

        def __getitem__(self, index):  # type: ignore[no-untyped-def]
            item = super().__getitem__(index)
            CountingLines.touched += len(item) if isinstance(index, slice) else 1
            return item

    doc = numbered(100_000)
    doc.lines = CountingLines(doc.lines)
    before, after = context_around(doc, (50_000, 0), (50_040, 0), 6000)
    assert len(before) + len(after) <= 6000
    # 600 lines of context (10 characters each), each looked at a few times; not 100,000
    assert CountingLines.touched < 4 * 600

    plain = numbered(100_000)
    best = min(
        _timed(lambda: context_around(plain, (50_000, 0), (50_040, 0), 6000)) for _ in range(5)
    )
    assert best < 0.005


def _timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


def test_prompt_input_is_a_value() -> None:
    p = prompt(action("add-docstrings"))
    assert replace(p, instruction="x") != p


@settings(max_examples=300, deadline=None)
@given(
    line_lengths=st.lists(st.integers(0, 40), min_size=1, max_size=80),
    crlf=st.booleans(),
    data=st.data(),
)
def test_any_context_is_within_budget_and_made_of_the_document(
    line_lengths: list[int], crlf: bool, data: st.DataObject
) -> None:
    brk = "\r\n" if crlf else "\n"
    text = brk.join("é" * n for n in line_lengths)
    doc = Document("file:///p.txt", text, 1, "plaintext")
    start_line = data.draw(st.integers(0, doc.line_count - 1))
    end_line = data.draw(st.integers(start_line, doc.line_count - 1))
    start, end = sorted(
        [
            (start_line, data.draw(st.integers(0, len(doc.line(start_line))))),
            (end_line, data.draw(st.integers(0, len(doc.line(end_line))))),
        ]
    )
    budget = data.draw(st.integers(0, 400))

    before, after = context_around(doc, start, end, budget)
    assert len(before) + len(after) <= budget
    assert doc.slice(end, doc.end()).startswith(after)
    above = doc.slice((0, 0), start)
    head, marker, near = before.rpartition(" lines omitted) ...\n")
    if marker:
        head = head[: head.rindex("... (")]
        assert above.startswith(head) and above.endswith(near)
        assert above.count("\n") - near.count("\n") - head.count("\n") == int(
            before.split("... (")[-1].split(" ")[0]
        )
    else:
        assert above.endswith(before)
