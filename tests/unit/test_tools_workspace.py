"""The workspace the model sees through its tools: paths it may not use, and what it may read.

Each scenario runs on a small Python package in a temporary workspace, next to a folder outside
it that holds a secret. Refusals are `ToolError`s whose message tells the model what went wrong;
`run_tool` turns them into "error: ..." outputs and never raises.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from responses_lsp.tools.definitions import TOOLS, describe_tool_call, run_tool
from responses_lsp.tools.errors import ToolError
from responses_lsp.tools.ignore import Glob, is_ignored, parse_gitignore
from responses_lsp.tools.workspace import WorkspaceFiles

API = '''"""Users."""


def fetch_user(uid):
    return {"id": uid}
'''
SERVICE = """from pkg.api import fetch_user


def handle(uid):
    return fetch_user(uid)["id"]
"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write(root / "pyproject.toml", '[project]\nname = "pkg"\n')
    write(root / "pkg/__init__.py", "")
    write(root / "pkg/api.py", API)
    write(root / "pkg/service.py", SERVICE)
    write(root / "pkg/cli.py", "from pkg.service import handle\n\nprint(handle(1))\n")
    write(root / ".gitignore", "build/\n*.log\n!keep.log\n/local_only.py\n")
    write(root / "build/out.py", "fetch_user  # generated\n")
    write(root / "debug.log", "fetch_user called\n")
    write(root / "keep.log", "fetch_user kept\n")
    write(root / "pkg/local_only.py", "fetch_user  # not anchored at the root: kept\n")
    write(root / "local_only.py", "fetch_user  # anchored: ignored\n")
    write(root / "docs/.gitignore", "*.md\n!README.md\n")
    write(root / "docs/guide.md", "fetch_user guide\n")
    write(root / "docs/README.md", "see fetch_user\n")
    write(root / ".env", "TOKEN=fetch_user-secret\n")
    write(root / ".env.local", "TOKEN=x\n")
    write(root / "id_rsa", "-----BEGIN KEY-----\n")
    write(root / "certs/x.pem", "-----BEGIN CERT-----\n")
    write(root / "config/prod.yaml", "password: fetch_user\n")
    write(root / ".git/config", "[core]\n")
    write(root / "node_modules/lib/index.js", "fetch_user()\n")
    write(root / "pkg/__pycache__/api.cpython-311.pyc", "fetch_user\n")
    write(root / "data.bin", b"fetch_user\x00\x01\x02")
    write(root / "big.txt", "fetch_user\n" + "x" * 2_000 + "\n")
    outside = write(tmp_path / "outside/secret.py", "fetch_user = 'stolen'\n")
    os.symlink(outside, root / "link_out.py")
    os.symlink(outside.parent, root / "linkdir")
    os.symlink(root / "pkg/api.py", root / "pkg/api_link.py")
    os.symlink(root / ".env", root / "innocent.txt")
    return root


@pytest.fixture
def files(ws: Path) -> WorkspaceFiles:
    return WorkspaceFiles([ws], deny=["config/*.yaml"], max_file_bytes_search=1_000)


def refused(files: WorkspaceFiles, path: str, *, must_exist: bool = True) -> str:
    with pytest.raises(ToolError) as caught:
        files.resolve(path, must_exist=must_exist)
    return str(caught.value)


# -- paths -------------------------------------------------------------------------------------


def test_a_workspace_path_resolves_to_the_real_file(files: WorkspaceFiles, ws: Path) -> None:
    real = ws.resolve()
    assert files.resolve("pkg/api.py") == real / "pkg/api.py"
    assert files.resolve("./pkg/../pkg/api.py") == real / "pkg/api.py"
    assert files.resolve(str(ws / "pkg/api.py")) == real / "pkg/api.py"
    assert files.resolve("pkg/new.py", must_exist=False) == real / "pkg/new.py"
    assert files.resolve("pkg/api_link.py") == real / "pkg/api.py"  # a symlink inside is fine
    assert files.relative(real / "pkg/api.py") == "pkg/api.py"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("", "path is empty"),
        ("../outside/secret.py", "path escapes the workspace: ../outside/secret.py"),
        ("pkg/../../outside/secret.py", "path escapes the workspace"),
        ("/etc/passwd", "path is outside the workspace: /etc/passwd"),
        ("link_out.py", "escapes the workspace through a symlink: link_out.py"),
        ("linkdir/secret.py", "escapes the workspace through a symlink"),
        (".env", "refused: .env may hold secrets"),
        (".env.local", "may hold secrets"),
        ("id_rsa", "may hold secrets"),
        ("certs/x.pem", "may hold secrets"),
        ("config/prod.yaml", "may hold secrets"),  # the configured deny glob
        ("innocent.txt", "may hold secrets"),  # a symlink to .env
        (".git/config", "version-control internals"),
        (".git", "version-control internals"),
        ("pkg/missing.py", "file not found: pkg/missing.py; use list_files"),
    ],
)
def test_refused_paths_say_why(files: WorkspaceFiles, path: str, words: str) -> None:
    assert words in refused(files, path)


def test_a_new_file_may_not_be_created_outside_the_workspace(files: WorkspaceFiles) -> None:
    assert "through a symlink" in refused(files, "linkdir/new.py", must_exist=False)
    assert "escapes the workspace" in refused(files, "../new.py", must_exist=False)
    assert "may hold secrets" in refused(files, "pkg/.env.production", must_exist=False)


def test_the_absolute_path_of_an_outside_file_is_refused(
    files: WorkspaceFiles, tmp_path: Path
) -> None:
    assert "outside the workspace" in refused(files, str(tmp_path / "outside/secret.py"))


def test_another_workspace_folder_is_named_by_its_folder_name(ws: Path, tmp_path: Path) -> None:
    lib = write(tmp_path / "lib/util.py", "def helper():\n    pass\n").parent
    files = WorkspaceFiles([ws, lib])
    assert files.resolve("lib/util.py") == lib.resolve() / "util.py"
    assert files.relative(lib.resolve() / "util.py") == "lib/util.py"
    assert "lib/util.py" in files.list_files()
    write(ws / "lib/util.py", "")  # now the first folder has a `lib`: it wins
    assert files.resolve("lib/util.py") == ws.resolve() / "lib/util.py"
    shown = files.relative(lib.resolve() / "util.py")
    assert shown == str(lib.resolve() / "util.py")
    assert files.resolve(shown) == lib.resolve() / "util.py"


# -- reading -----------------------------------------------------------------------------------


def test_read_file_numbers_the_lines_under_a_header(files: WorkspaceFiles) -> None:
    out = files.read_file("pkg/api.py")
    assert out.splitlines()[0] == "pkg/api.py (lines 1-5 of 5)"
    assert "   4| def fetch_user(uid):" in out
    assert files.read_file("pkg/api.py", 4, 5).splitlines() == [
        "pkg/api.py (lines 4-5 of 5)",
        "   4| def fetch_user(uid):",
        '   5|     return {"id": uid}',
    ]
    assert files.read_file("pkg/api.py", 5, 99).startswith("pkg/api.py (lines 5-5 of 5)")
    assert files.read_file("pkg/__init__.py") == "pkg/__init__.py (empty file)"


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (9, None, "start_line 9 is past the end: pkg/api.py has 5 lines"),
        (0, None, "start_line must be 1 or more"),
        (4, 2, "end_line 2 is before start_line 4"),
    ],
)
def test_out_of_range_lines_are_explained(
    files: WorkspaceFiles, start: int, end: int | None, words: str
) -> None:
    with pytest.raises(ToolError, match=words):
        files.read_file("pkg/api.py", start, end)


def test_a_file_over_the_cap_is_refused_with_its_size(ws: Path) -> None:
    files = WorkspaceFiles([ws], max_read_bytes=100, max_file_bytes_search=10_000)
    with pytest.raises(ToolError, match=r"file too large: big.txt is 2,012 bytes \(limit 100\)"):
        files.read_file("big.txt")
    # a line range may read it, and the output stays capped with a pointer to read on
    out = files.read_file("big.txt", 1, 2)
    assert out.splitlines()[:2] == ["big.txt (lines 1-1 of 2)", "   1| fetch_user"]
    assert "call read_file with start_line=2" in out


def test_binary_files_are_not_read(files: WorkspaceFiles) -> None:
    with pytest.raises(ToolError, match=r"binary file: data\.bin"):
        files.read_file("data.bin")


def test_the_open_document_wins_over_the_disk(ws: Path) -> None:
    api = ws.resolve() / "pkg/api.py"
    unsaved = {api: "async def fetch_user(uid):\n    ...\n"}
    files = WorkspaceFiles([ws], read_open=unsaved.get)
    assert "   1| async def fetch_user(uid):" in files.read_file("pkg/api.py")
    assert files.read_text(api) == unsaved[api]
    assert "pkg/api.py:1: async def fetch_user(uid):" in files.search("async def")


def test_crlf_files_read_without_carriage_returns(files: WorkspaceFiles, ws: Path) -> None:
    write(ws / "win.py", "a = 1\r\nb = 2\r\n")
    assert files.read_file("win.py").splitlines()[1:] == ["   1| a = 1", "   2| b = 2"]


# -- search and listing ------------------------------------------------------------------------


def test_search_skips_ignored_secret_binary_huge_and_outside_files(files: WorkspaceFiles) -> None:
    out = files.search("fetch_user")
    paths = sorted({line.split(":")[0] for line in out.splitlines() if not line.startswith("note")})
    assert paths == [
        "docs/README.md",
        "keep.log",
        "pkg/api.py",
        "pkg/api_link.py",
        "pkg/local_only.py",
        "pkg/service.py",
    ]
    assert "pkg/service.py:1: from pkg.api import fetch_user" in out
    assert 'pkg/service.py:5:     return fetch_user(uid)["id"]' in out
    assert "note: 1 files over 1,000 bytes were not searched: big.txt" in out


def test_search_by_regex_and_path_glob(files: WorkspaceFiles) -> None:
    out = files.search(r"def \w+\(uid\)", regex=True, path_glob="pkg/*.py")
    assert out.splitlines() == [
        "pkg/api.py:4: def fetch_user(uid):",
        "pkg/api_link.py:4: def fetch_user(uid):",
        "pkg/service.py:4: def handle(uid):",
    ]
    assert files.search("def", path_glob="service.py").startswith("pkg/service.py:4:")
    assert (
        files.search("nowhere", path_glob="*.py")
        == "no matches for 'nowhere' in files matching '*.py'"
    )
    with pytest.raises(ToolError, match=r"invalid regex 'def \(': .*regex=false"):
        files.search("def (", regex=True)


def test_search_results_are_capped(ws: Path) -> None:
    write(ws / "many.py", "hit\n" * 30)
    out = WorkspaceFiles([ws], max_results=10).search("hit", path_glob="many.py")
    assert out.splitlines()[-1] == "… 20 more matches; narrow the pattern or the path_glob"
    assert len(out.splitlines()) == 11


def test_list_files_respects_gitignore_and_hides_secrets(files: WorkspaceFiles) -> None:
    listed = files.list_files().splitlines()
    assert listed == [
        ".gitignore",
        "big.txt",
        "data.bin",
        "docs/.gitignore",
        "docs/README.md",
        "keep.log",
        "pkg/__init__.py",
        "pkg/api.py",
        "pkg/api_link.py",
        "pkg/cli.py",
        "pkg/local_only.py",
        "pkg/service.py",
        "pyproject.toml",
    ]
    assert files.list_files("pkg/*.py").splitlines()[0] == "pkg/__init__.py"
    assert files.list_files("pkg") == files.list_files("pkg/**")
    assert files.list_files("*.toml") == "pyproject.toml"
    assert files.list_files("*.rs").startswith("no files match '*.rs'")
    capped = WorkspaceFiles([files.resolve(".")], deny=["config/*"], max_results=3).list_files()
    assert capped.splitlines()[-1] == "… 10 more files; narrow the glob"


@pytest.mark.parametrize(
    ("glob", "path", "hit"),
    [
        ("**/*.py", "a.py", True),
        ("**/*.py", "a/b/c.py", True),
        ("src/**", "src/a/b.py", True),
        ("src/**", "lib/a.py", False),
        ("a/**/b.py", "a/b.py", True),
        ("a/**/b.py", "a/x/y/b.py", True),
        ("a/*.py", "a/x/b.py", False),
        ("*.py", "deep/er/x.py", True),
        ("file?.[ch]", "file1.c", True),
        ("file?.[!ch]", "file1.c", False),
    ],
)
def test_globs(glob: str, path: str, hit: bool) -> None:
    assert Glob(glob).matches(path) is hit


def test_gitignore_rules() -> None:
    rules = [parse_gitignore("# comment\n\n*.log\n!keep.log\nbuild/\n/top.py\ndocs/*.md\n")]
    assert is_ignored(rules, "a/b/debug.log", False)
    assert not is_ignored(rules, "a/keep.log", False)
    assert is_ignored(rules, "src/build", True)
    assert not is_ignored(rules, "src/build", False)  # "build/" matches folders only
    assert is_ignored(rules, "top.py", False)
    assert not is_ignored(rules, "sub/top.py", False)
    assert is_ignored(rules, "docs/a.md", False)
    assert not is_ignored(rules, "other/docs/a.md", False)
    nested = [parse_gitignore("*.tmp\n", base="sub")]
    assert is_ignored(nested, "sub/x/a.tmp", False)
    assert not is_ignored(nested, "a.tmp", False)
    assert Glob("**").matches("a/b/c.py")


# -- tool definitions and run_tool -------------------------------------------------------------


def test_the_tools_offered_to_the_model() -> None:
    by_name = {tool["name"]: tool for tool in TOOLS}
    assert list(by_name) == ["read_file", "search", "list_files", "apply_patch"]
    for name in ("read_file", "search", "list_files"):
        tool = by_name[name]
        assert tool["type"] == "function" and tool["strict"] is False and tool["description"]
        assert tool["parameters"]["additionalProperties"] is False
    assert by_name["read_file"]["parameters"]["required"] == ["path"]
    patch = by_name["apply_patch"]
    assert patch["type"] == "custom"
    assert patch["format"]["syntax"] == "lark"
    assert patch["format"]["definition"].startswith("start: begin_patch hunk+ end_patch")
    json.dumps(TOOLS)  # serialisable as is


def test_run_tool_answers_errors_as_text_and_never_raises(files: WorkspaceFiles) -> None:
    ok = run_tool(files, "read_file", '{"path": "pkg/api.py", "start_line": "4", "end_line": 4}')
    assert ok.splitlines() == ["pkg/api.py (lines 4-4 of 5)", "   4| def fetch_user(uid):"]
    assert run_tool(files, "list_files", "").splitlines()[0] == ".gitignore"
    assert run_tool(files, "search", '{"pattern": "handle(", "path_glob": "cli.py"}') == (
        "pkg/cli.py:3: print(handle(1))"
    )
    errors = [
        run_tool(files, "read_file", "{not json"),
        run_tool(files, "read_file", "[1]"),
        run_tool(files, "read_file", '{"path": ".env"}'),
        run_tool(files, "read_file", '{"path": "pkg/api.py", "lines": 3}'),
        run_tool(files, "read_file", '{"path": 3}'),
        run_tool(files, "search", "{}"),
        run_tool(files, "read_file", '{"path": "pkg/api.py", "start_line": true}'),
        run_tool(files, "search", '{"pattern": "(", "regex": true}'),
        run_tool(files, "delete_everything", "{}"),
        run_tool(files, "apply_patch", "*** Begin Patch"),
    ]
    assert all(error.startswith("error: ") for error in errors), errors
    assert "not valid JSON" in errors[0]
    assert "may hold secrets" in errors[2]
    assert "unknown argument 'lines' for read_file" in errors[3]
    assert "search needs the argument 'pattern'" in errors[5]
    assert "unknown tool 'delete_everything'" in errors[8]


def test_progress_lines_for_tool_calls() -> None:
    assert describe_tool_call("read_file", '{"path": "src/api.py"}') == "reading src/api.py"
    assert describe_tool_call("search", '{"pattern": "fetch_user("}') == (
        "searching for 'fetch_user('"
    )
    assert describe_tool_call("read_file", "{oops") == "reading a file"
    assert describe_tool_call("apply_patch", "*** Begin Patch") == "preparing the edit"
