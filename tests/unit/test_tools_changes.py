"""From patches to one WorkspaceEdit: accumulation, confinement, file operations, versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as t

from responses_lsp.editing.document import Encoding
from responses_lsp.tools.changes import ChangeSet, OpenDocument, line_edits, workspace_edit
from responses_lsp.tools.errors import ToolError
from responses_lsp.tools.workspace import WorkspaceFiles


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("def a():\n    return 1\n")
    (tmp_path / "pkg" / "b.py").write_text("from pkg.a import a\n\nprint(a())\n")
    (tmp_path / "pkg" / "old.py").write_text("X = 1\n")
    return tmp_path


def apply(text: str, edits: list[t.TextEdit]) -> str:
    lines = [*text.splitlines(keepends=True), ""]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(pos: t.Position) -> int:
        return offsets[pos.line] + pos.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a\nb\nc\n", "a\nB\nc\n"),
        ("a\nb\nc\n", "x\na\nb\nc\ny\n"),
        ("a\nb\nc", "a\nc"),
        ("", "new\nfile\n"),
        ("é😀\nline\n", "é😀\nline\nmore é\n"),
    ],
)
def test_line_edits_turn_the_old_text_into_the_new(old: str, new: str) -> None:
    assert apply(old, line_edits(old, new, Encoding("utf-32"))) == new


def test_patches_accumulate_and_become_one_edit_with_file_operations(root: Path) -> None:
    files = WorkspaceFiles([root])
    changes = ChangeSet(files)
    changes.apply(
        "*** Begin Patch\n*** Update File: pkg/a.py\n@@\n-def a():\n+async def a():\n"
        "*** Add File: pkg/new.py\n+Y = 2\n*** End Patch\n"
    )
    changes.apply(  # the second patch sees the first one's result
        "*** Begin Patch\n*** Update File: pkg/a.py\n@@\n async def a():\n"
        "-    return 1\n+    return 2\n"
        "*** Update File: pkg/old.py\n*** Move to: pkg/renamed.py\n@@\n-X = 1\n+X = 3\n"
        "*** Delete File: pkg/b.py\n*** End Patch\n"
    )
    edit = workspace_edit(
        changes,
        uri_of=lambda p: p.as_uri(),
        encoding=Encoding("utf-16"),
        document_changes=True,
        resource_operations=True,
        annotations=True,
        label="AI edit",
        description="test",
    )
    kinds = [type(op).__name__ for op in edit.document_changes]
    assert sorted(kinds) == sorted(
        [
            "TextDocumentEdit",
            "CreateFile",
            "TextDocumentEdit",
            "RenameFile",
            "TextDocumentEdit",
            "DeleteFile",
        ]
    )
    [annotation] = edit.change_annotations.values()
    assert annotation.needs_confirmation
    a_edit = next(
        op
        for op in edit.document_changes
        if isinstance(op, t.TextDocumentEdit) and op.text_document.uri.endswith("a.py")
    )
    assert apply("def a():\n    return 1\n", a_edit.edits) == "async def a():\n    return 2\n"
    assert all(e.annotation_id == "responses-lsp" for e in a_edit.edits)
    assert (root / "pkg" / "a.py").read_text() == "def a():\n    return 1\n"  # nothing on disk yet


def test_a_patch_is_all_or_nothing(root: Path) -> None:
    changes = ChangeSet(WorkspaceFiles([root]))
    with pytest.raises(ToolError):
        changes.apply(
            "*** Begin Patch\n*** Update File: pkg/a.py\n@@\n-def a():\n+async def a():\n"
            "*** Update File: pkg/b.py\n@@\n-not in the file\n+x\n*** End Patch\n"
        )
    assert changes.changed == []


@pytest.mark.parametrize("path", ["../evil.py", "/tmp/evil.py", ".env", "pkg/../../evil.py"])
def test_patches_cannot_write_outside_the_workspace_or_secrets(root: Path, path: str) -> None:
    changes = ChangeSet(WorkspaceFiles([root]))
    with pytest.raises(ToolError):
        changes.apply(f"*** Begin Patch\n*** Add File: {path}\n+x = 1\n*** End Patch\n")
    assert changes.changed == []


def test_a_client_without_file_operations_is_told_through_the_patch(root: Path) -> None:
    changes = ChangeSet(WorkspaceFiles([root]), can_create=False)
    with pytest.raises(ToolError, match="cannot create"):
        changes.apply("*** Begin Patch\n*** Add File: pkg/new.py\n+x = 1\n*** End Patch\n")


def test_open_documents_are_edited_at_the_version_that_was_read(root: Path) -> None:
    path = (root / "pkg" / "a.py").resolve()
    live = {"doc": OpenDocument(path.as_uri(), 7, "def a():\n    return 1  # unsaved\n")}
    changes = ChangeSet(
        WorkspaceFiles([root]), open_document=lambda p: live["doc"] if p == path else None
    )
    patch = "*** Begin Patch\n*** Update File: pkg/a.py\n@@\n-def a():\n+async def a():\n"
    changes.apply(patch + "*** End Patch\n")
    kwargs = dict(
        uri_of=lambda p: p.as_uri(),
        encoding=Encoding("utf-16"),
        document_changes=True,
        resource_operations=True,
        annotations=False,
        label="x",
        description="y",
    )
    edit = workspace_edit(changes, **kwargs)  # type: ignore[arg-type]
    [doc_edit] = edit.document_changes
    assert doc_edit.text_document.version == 7  # the editor rejects it if the user typed since
    assert apply(live["doc"].text, doc_edit.edits) == "async def a():\n    return 1  # unsaved\n"
    live["doc"] = OpenDocument(path.as_uri(), 8, live["doc"].text + "# typed\n")
    with pytest.raises(ToolError, match="changed in the editor"):
        workspace_edit(changes, **kwargs)  # type: ignore[arg-type]
