"""The Codex patch format: what parses, what applies, and what the model is told when it doesn't.

`apply_patch` is pure: it takes the current texts through `read` and returns `FileChange`s.
The property at the end writes a patch from a difflib diff of random files and checks it
applies back to exactly the new text, line endings and final newline included.
"""

from __future__ import annotations

import difflib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from responses_lsp.tools.definitions import summarize_changes
from responses_lsp.tools.errors import PatchError, ToolError
from responses_lsp.tools.patch import (
    AddFile,
    Chunk,
    DeleteFile,
    FileChange,
    UpdateFile,
    apply_patch,
    parse_patch,
)

API = """import asyncio


def fetch_user(uid):
    return {"id": uid}


class A:
    def run(self):
        return fetch_user(1)


class B:
    def run(self):
        return fetch_user(1)
"""


def patch_of(*body: str) -> str:
    return "\n".join(["*** Begin Patch", *body, "*** End Patch", ""])


def apply_one(text: str, *body: str, path: str = "pkg/api.py") -> str:
    (change,) = apply_patch(parse_patch(patch_of(*body)), {path: text}.get)
    assert change.new_text is not None
    return change.new_text


# -- parsing -----------------------------------------------------------------------------------


def test_a_patch_with_every_kind_of_section() -> None:
    patch = parse_patch(
        patch_of(
            "*** Add File: pkg/new.py",
            "+def new():",
            "+    return 1",
            "*** Delete File: pkg/old.py",
            "*** Update File: pkg/api.py",
            "*** Move to: pkg/users.py",
            "@@ class B:",
            "     def run(self):",
            "-        return fetch_user(1)",
            "+        return await fetch_user(1)",
            "@@",
            " last",
            "+appended",
            "*** End of File",
        )
    )
    assert patch == (
        AddFile("pkg/new.py", "def new():\n    return 1\n"),
        DeleteFile("pkg/old.py"),
        UpdateFile(
            "pkg/api.py",
            "pkg/users.py",
            (
                Chunk(
                    "class B:",
                    ("    def run(self):", "        return fetch_user(1)"),
                    ("    def run(self):", "        return await fetch_user(1)"),
                    False,
                ),
                Chunk(None, ("last",), ("last", "appended"), True),
            ),
        ),
    )


def test_forgiving_where_models_slip() -> None:
    text = (
        "\n\n*** Begin Patch  \r\n"
        "*** Update File: a.py\r\n"
        "\r\n"
        "@@ -1,3 +1,3 @@ def f():\r\n"  # a unified-diff header keeps its trailing text as anchor
        "     x = 1\r\n"
        "\r\n"  # a bare empty line is an empty context line
        "-    y = 2\r\n"
        "+    y = 3\r\n"
        "\r\n"  # blank lines between sections are separators
        "*** Add File: b.py\r\n"
        "+b\r\n"
        "*** End Patch\r\n\r\n"
    )
    update, add = parse_patch(text)
    assert update == UpdateFile(
        "a.py",
        None,
        (Chunk("def f():", ("    x = 1", "", "    y = 2"), ("    x = 1", "", "    y = 3"), False),),
    )
    assert add == AddFile("b.py", "b\n")


def test_the_first_hunk_may_omit_its_header_and_anchors_may_nest() -> None:
    (update,) = parse_patch(
        patch_of(
            "*** Update File: a.py", "-x", "+y", "@@ class B:", "@@     def run(self):", "-a", "+b"
        )
    )
    assert isinstance(update, UpdateFile)
    first, second = update.chunks
    assert first == Chunk(None, ("x",), ("y",), False)
    assert (second.outer_anchors, second.anchor) == (("class B:",), "    def run(self):")


def test_a_pure_rename_needs_no_hunks() -> None:
    assert parse_patch(patch_of("*** Update File: a.py", "*** Move to: b.py")) == (
        UpdateFile("a.py", "b.py", ()),
    )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", None, "the patch is empty"),
        ("*** Update File: a.py\n-x\n+y\n*** End Patch\n", 1, "expected '*** Begin Patch'"),
        ("*** Begin Patch\n*** Update File: a.py\n-x\n+y\n", 4, "expected '*** End Patch'"),
        ("*** Begin Patch\n*** End Patch\n", 2, "no file sections"),
        (patch_of("*** Update File: a.py", "@@", " x", "!y"), 5, "expected a hunk line"),
        (patch_of("*** Update File: a.py"), 2, "'*** Update File: a.py' has no hunks"),
        (patch_of("*** Update File: a.py", "*** Add File: b.py", "+b"), 2, "has no hunks"),
        (patch_of("*** Rename File: a.py"), 2, "unknown header '*** Rename File: a.py'"),
        (patch_of("*** Update File: a.py", "@@ def f():", " x", " y"), 3, "hunk has no changes"),
        (patch_of("*** Add File: "), 2, "missing path after '*** Add File:'"),
        (patch_of("*** Add File: a.py", "+a", "", "+b"), 5, "every line of an added file"),
        (patch_of("*** Update File: a.py", "-x", "*** End of File", "+y"), 5, "expected '@@'"),
        (
            patch_of("*** Delete File: a.py", "*** End Patch", "x"),
            3,
            "'*** End Patch' before the end",
        ),
        (patch_of("hello"), 2, "expected a file header"),
    ],
)
def test_malformed_patches_name_the_line_and_what_was_expected(
    text: str, line: int | None, words: str
) -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch(text)
    assert caught.value.line == line
    assert words in str(caught.value)
    if line is not None:
        assert str(caught.value).startswith(f"patch line {line}: ")
    assert isinstance(caught.value, ToolError)


# -- applying ----------------------------------------------------------------------------------


def test_several_hunks_with_anchors_edit_the_right_places() -> None:
    new = apply_one(
        API,
        "*** Update File: pkg/api.py",
        "@@",
        "-def fetch_user(uid):",
        "+async def fetch_user(uid):",
        '     return {"id": uid}',
        "@@ class B:",
        "     def run(self):",
        "-        return fetch_user(1)",
        "+        return await fetch_user(1)",
    )
    assert new == API.replace("def fetch_user", "async def fetch_user").replace(
        "class B:\n    def run(self):\n        return fetch_user(1)",
        "class B:\n    def run(self):\n        return await fetch_user(1)",
    )
    assert "class A:\n    def run(self):\n        return fetch_user(1)" in new


def test_nested_anchors_and_an_anchor_repeated_as_context() -> None:
    nested = apply_one(
        API,
        "*** Update File: pkg/api.py",
        "@@ class B:",
        "@@     def run(self):",
        "-        return fetch_user(1)",
        "+        return 2",
    )
    assert nested.endswith("class B:\n    def run(self):\n        return 2\n")
    repeated = apply_one(
        API,
        "*** Update File: pkg/api.py",
        "@@ class B:",
        " class B:",
        "     def run(self):",
        "-        return fetch_user(1)",
        "+        return 3",
    )
    assert repeated.endswith("class B:\n    def run(self):\n        return 3\n")


def test_an_insertion_goes_after_its_anchor() -> None:
    new = apply_one(API, "*** Update File: pkg/api.py", "@@ class A:", "+    name = 'a'")
    assert "class A:\n    name = 'a'\n    def run(self):" in new


def test_context_matches_despite_whitespace_and_keeps_the_files_own_text() -> None:
    text = "def f():   \n\tx = 1\n    return x  \n"
    new = apply_one(
        text,
        "*** Update File: pkg/api.py",
        "@@",
        " def f():",  # trailing spaces differ
        "     x = 1",  # a tab in the file, spaces here
        "-    return x",
        "+    return x + 1",
    )
    assert new == "def f():   \n\tx = 1\n    return x + 1\n"
    typographic = apply_one(
        "msg = 'it\u2019s \u2014 ok'\n",
        "*** Update File: pkg/api.py",
        "-msg = 'it's - ok'",
        "+msg = 'fine'",
    )
    assert typographic == "msg = 'fine'\n"


def test_end_of_file_hunks_match_at_the_end() -> None:
    text = "x = 1\nprint(x)\ny = 2\nprint(x)\n"
    new = apply_one(
        text, "*** Update File: pkg/api.py", "@@", "-print(x)", "+print(x, y)", "*** End of File"
    )
    assert new == "x = 1\nprint(x)\ny = 2\nprint(x, y)\n"
    appended = apply_one(text, "*** Update File: pkg/api.py", "@@", "+z = 3", "*** End of File")
    assert appended == text + "z = 3\n"


def test_crlf_stays_crlf_and_the_final_newline_is_kept_or_not() -> None:
    crlf = apply_one(
        "a\r\nb\r\nc\r\n", "*** Update File: pkg/api.py", " a", "-b", "+B", "+B2", " c"
    )
    assert crlf == "a\r\nB\r\nB2\r\nc\r\n"
    bare = apply_one("a\nb", "*** Update File: pkg/api.py", " a", "-b", "+B")
    assert bare == "a\nB"
    appended = apply_one("a\nb", "*** Update File: pkg/api.py", " b", "+c", "*** End of File")
    assert appended == "a\nb\nc"
    mixed = apply_one("a\r\nb\nc\r\n", "*** Update File: pkg/api.py", " b", "-c", "+C")
    assert mixed == "a\r\nb\nC\r\n"
    emptied = apply_one("a\n", "*** Update File: pkg/api.py", "-a")
    assert emptied == ""


def test_add_delete_and_move_report_whole_texts() -> None:
    files = {"old.py": "gone\n", "a.py": "x = 1\n"}
    changes = apply_patch(
        parse_patch(
            patch_of(
                "*** Add File: new.py",
                "+hello",
                "*** Delete File: old.py",
                "*** Update File: a.py",
                "*** Move to: b.py",
                "-x = 1",
                "+x = 2",
            )
        ),
        files.get,
    )
    assert changes == [
        FileChange("add", "new.py", None, None, "hello\n"),
        FileChange("delete", "old.py", None, "gone\n", None),
        FileChange("update", "a.py", "b.py", "x = 1\n", "x = 2\n"),
    ]
    assert summarize_changes(changes) == (
        "Success. Updated the following files:\nA new.py\nD old.py\nM a.py -> b.py"
    )


def test_context_that_is_not_there_names_the_file_and_the_lines() -> None:
    patch = parse_patch(
        patch_of(
            "*** Update File: pkg/api.py",
            "@@ class A:",
            "     def run(self):",
            "-        return fetch_user(2)",
            "+        return 0",
        )
    )
    with pytest.raises(PatchError) as caught:
        apply_patch(patch, {"pkg/api.py": API}.get)
    message = str(caught.value)
    assert message.startswith("pkg/api.py: could not find the lines of hunk 1 after '@@ class A:'")
    assert "        return fetch_user(2)" in message
    assert (
        "the first 1 line(s) match at line 9, but line 10 is '        return fetch_user(1)'"
        in message
    )
    with pytest.raises(PatchError, match=r"could not find the line '@@ class C:'"):
        apply_patch(
            parse_patch(patch_of("*** Update File: pkg/api.py", "@@ class C:", "-x", "+y")),
            {"pkg/api.py": API}.get,
        )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (["*** Add File: a.py", "+x"], "cannot add a.py: it already exists"),
        (["*** Update File: missing.py", "-x", "+y"], "cannot update missing.py: file not found"),
        (["*** Delete File: missing.py"], "cannot delete missing.py: file not found"),
        (
            ["*** Update File: a.py", "-a", "+b", "*** Delete File: ./a.py"],
            "two sections of the patch touch ./a.py",
        ),
        (
            ["*** Update File: a.py", "*** Move to: b.py"],
            "cannot move a.py to b.py: that file already exists",
        ),
        (
            ["*** Add File: c.py", "+c", "*** Update File: a.py", "*** Move to: c.py"],
            "two sections",
        ),
    ],
)
def test_impossible_file_operations_are_refused(body: list[str], words: str) -> None:
    with pytest.raises(PatchError, match=words):
        apply_patch(parse_patch(patch_of(*body)), {"a.py": "a\n", "b.py": "b\n"}.get)


# -- property: a difflib diff turned into a patch applies back exactly -----------------------


def diff_patch(path: str, old: list[str], new: list[str], context: int, draw: st.DrawFn) -> str:
    out = ["*** Begin Patch", f"*** Update File: {path}"]
    done = 0  # the old lines before this index belong to earlier hunks
    for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(
        context
    ):
        start, end = group[0][1], group[-1][2]
        header = "@@"
        if start > done and draw(st.booleans()):
            header = "@@ " + old[draw(st.integers(done, start - 1))]
        out.append(header)
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in old[i1:i2]]
            else:
                out += ["-" + line for line in old[i1:i2]] + ["+" + line for line in new[j1:j2]]
        if end == len(old) and draw(st.booleans()):
            out.append("*** End of File")
        done = end
    return "\n".join([*out, "*** End Patch", ""])


LINE = st.text(alphabet="abc xy_:()=\t#*-+", max_size=12)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    old=st.lists(LINE, unique=True, max_size=25),
    edits=st.lists(
        st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 30), LINE),
        max_size=6,
    ),
    eol=st.sampled_from(["\n", "\r\n"]),
    final_newline=st.booleans(),
    context=st.integers(1, 3),
    data=st.data(),
)
def test_a_patch_made_from_a_diff_applies_back_exactly(
    old: list[str],
    edits: list[tuple[str, int, str]],
    eol: str,
    final_newline: bool,
    context: int,
    data: st.DataObject,
) -> None:
    new = list(old)
    for op, where, line in edits:
        at = where % (len(new) + 1)
        if op == "insert":
            new.insert(at, line)
        elif new and at < len(new):
            new[at : at + 1] = [] if op == "delete" else [line]
    if new == old:
        return
    if old and old[-1] == "":
        final_newline = True  # "a\n" without one would read as ["a"]
    old_text = eol.join(old) + (eol if old and final_newline else "")
    new_eol = eol if "\n" in old_text else "\n"  # no line break yet: new ones are "\n"
    new_text = new_eol.join(new) + (new_eol if new and (final_newline or not old) else "")
    patch = diff_patch("m.py", old, new, context, data.draw)
    (change,) = apply_patch(parse_patch(patch), {"m.py": old_text}.get)
    assert change.new_text == new_text, patch
