"""The files a multi-file action changes, accumulated over its patches, and the one
`WorkspaceEdit` that proposes them to the editor.

Every path a patch names is resolved through `WorkspaceFiles` first (confinement, symlinks,
secrets), including the targets of adds and moves. Each patch applies on top of the earlier
ones; nothing reaches the editor until the model is done. The edit then carries versioned
`TextDocumentEdit`s for open documents (minimal, line-based edits), unversioned ones for
files on disk, create/rename/delete operations where the client supports them, and one
change annotation that asks the user to confirm (DESIGN §4, I3).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as t

from responses_lsp.editing.document import Document, Encoding, split_lines
from responses_lsp.tools.errors import PatchError, ToolError
from responses_lsp.tools.patch import FileChange, apply_patch, parse_patch
from responses_lsp.tools.workspace import WorkspaceFiles

ANNOTATION = "responses-lsp"


@dataclass
class FileState:
    path: Path  # resolved
    original: str | None  # None: did not exist before the action
    current: str | None  # None: deleted by the action
    moved_from: Path | None = None


@dataclass
class OpenDocument:
    uri: str
    version: int
    text: str


@dataclass
class ChangeSet:
    """Changes of one action so far, keyed by resolved path."""

    files: WorkspaceFiles
    open_document: Callable[[Path], OpenDocument | None] = lambda _path: None
    can_create: bool = True
    states: dict[Path, FileState] = field(default_factory=dict)
    read_versions: dict[Path, int] = field(default_factory=dict)

    def text(self, path: Path) -> str | None:
        state = self.states.get(path)
        if state is not None:
            return state.current
        live = self.open_document(path)
        if live is not None:  # the editor's text, unsaved edits included, and its version
            self.read_versions.setdefault(path, live.version)
            return live.text
        if not path.exists():
            return None
        return self.files.read_text(path, max_bytes=4_000_000)

    def apply(self, patch_text: str) -> list[FileChange]:
        """Parse and apply one `apply_patch` input; `ToolError` (for the model) if it fails."""
        patch = parse_patch(patch_text)
        resolved: dict[str, Path] = {}

        def resolve(name: str) -> Path:
            if name not in resolved:
                resolved[name] = self.files.resolve(name, must_exist=False)
            return resolved[name]

        changes = apply_patch(patch, lambda name: self.text(resolve(name)))
        for change in changes:
            if not self.can_create and (change.kind != "update" or change.new_path):
                raise PatchError(
                    "this editor cannot create, delete or move files; change existing files only"
                )
        for change in changes:  # only once the whole patch applied: all or nothing
            self._record(change, resolve)
        return changes

    def _record(self, change: FileChange, resolve: Callable[[str], Path]) -> None:
        path = resolve(change.path)
        state = self.states.get(path) or FileState(path, change.old_text, change.old_text)
        self.states[path] = state
        if change.kind == "delete":
            state.current = None
        elif change.new_path:
            state.current = None
            target = resolve(change.new_path)
            moved = self.states.get(target) or FileState(target, None, None)
            moved.current = change.new_text
            moved.moved_from = path
            self.states[target] = moved
        else:
            state.current = change.new_text

    @property
    def changed(self) -> list[FileState]:
        return [s for s in self.states.values() if s.current != s.original]


def line_edits(old: str, new: str, encoding: Encoding) -> list[t.TextEdit]:
    """Minimal line-based edits turning `old` into `new` (positions in client units)."""
    doc = Document("", old)
    before, after = split_lines(old), split_lines(new)
    edits: list[t.TextEdit] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start = (
            doc.to_client(encoding, (i1, 0))
            if i1 < len(before)
            else doc.to_client(encoding, doc.end())
        )
        end = (
            doc.to_client(encoding, (i2, 0))
            if i2 < len(before)
            else doc.to_client(encoding, doc.end())
        )
        edits.append(
            t.TextEdit(
                range=t.Range(
                    start=t.Position(line=start[0], character=start[1]),
                    end=t.Position(line=end[0], character=end[1]),
                ),
                new_text="".join(after[j1:j2]),
            )
        )
    return edits


def workspace_edit(
    changes: ChangeSet,
    *,
    uri_of: Callable[[Path], str],
    encoding: Encoding,
    document_changes: bool,
    resource_operations: bool,
    annotations: bool,
    label: str,
    description: str,
) -> t.WorkspaceEdit:
    """The one edit that proposes every change of the action."""
    annotation = ANNOTATION if annotations and document_changes else None

    def edit(old: str, new: str) -> list[Any]:
        plain = line_edits(old, new, encoding)
        if annotation is None:
            return plain
        return [
            t.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=annotation)
            for e in plain
        ]

    for state in changes.changed:
        live = changes.open_document(state.path)
        read = changes.read_versions.get(state.path)
        if live is not None and read is not None and live.version != read:
            raise ToolError(
                f"{changes.files.relative(state.path)} changed in the editor while the AI was "
                "working; run the action again"
            )
    if not document_changes:
        simple: dict[str, list[t.TextEdit]] = {}
        for state in changes.changed:
            if state.original is None or state.current is None:
                raise ToolError("this editor cannot create or delete files")
            simple[uri_of(state.path)] = line_edits(state.original, state.current, encoding)
        return t.WorkspaceEdit(changes=simple)

    operations: list[Any] = []
    for state in changes.changed:
        uri = uri_of(state.path)
        if state.current is None:  # deleted (or moved away: the rename comes with the target)
            if not any(s.moved_from == state.path for s in changes.changed):
                operations.append(t.DeleteFile(uri=uri, annotation_id=annotation))
            continue
        if state.moved_from is not None:
            operations.append(
                t.RenameFile(
                    old_uri=uri_of(state.moved_from), new_uri=uri, annotation_id=annotation
                )
            )
            old = changes.states[state.moved_from].original or ""
            operations.append(_text_edit(uri, None, edit(old, state.current)))
        elif state.original is None:
            operations.append(t.CreateFile(uri=uri, annotation_id=annotation))
            operations.append(_text_edit(uri, None, edit("", state.current)))
        else:
            version = changes.read_versions.get(state.path)
            operations.append(_text_edit(uri, version, edit(state.original, state.current)))
    if not resource_operations and any(not isinstance(op, t.TextDocumentEdit) for op in operations):
        raise ToolError("this editor cannot create, delete or move files")
    result = t.WorkspaceEdit(document_changes=operations)
    if annotation is not None:
        result.change_annotations = {
            annotation: t.ChangeAnnotation(
                label=label, needs_confirmation=True, description=description
            )
        }
    return result


def _text_edit(uri: str, version: int | None, edits: list[Any]) -> t.TextDocumentEdit:
    return t.TextDocumentEdit(
        text_document=t.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
        edits=edits,
    )
