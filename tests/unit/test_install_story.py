"""One install story: every document and the extension say the same thing, and nothing
tells a user to install a package name that is not published."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL_LINE = "uv tool install ~/responses-lsp"
USER_FACING = [
    ROOT / "README.md",
    ROOT / "docs" / "editors.md",
    ROOT / "editors" / "nvim" / "README.md",
    ROOT / "editors" / "vscode" / "README.md",
    ROOT / "editors" / "vscode" / "package.json",
    *sorted((ROOT / "editors" / "vscode" / "src").glob("*.ts")),
    *sorted((ROOT / "editors" / "nvim").rglob("*.lua")),
]
# `pip install responses-lsp`, `pipx install responses-lsp`, `uv tool install responses-lsp`, …:
# a bare name that any stranger could publish on PyPI
UNPUBLISHED = re.compile(
    r"\b(?:pip|pipx|uv pip|uv tool) install\s+(?:-U\s+)?['\"]?responses[-_]lsp\b"
)


def test_no_document_installs_an_unpublished_package_name() -> None:
    for path in USER_FACING:
        text = path.read_text(encoding="utf-8")
        assert not UNPUBLISHED.search(text), f"{path.relative_to(ROOT)}: {UNPUBLISHED.search(text)}"


def test_the_readme_install_section_is_the_one_line_the_editors_assume() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = re.search(r"^## Install\n(.*?)^## ", readme, re.DOTALL | re.MULTILINE)
    assert install
    block = re.search(r"```sh\n(.*?)```", install.group(1), re.DOTALL)
    assert block
    lines = [line for line in block.group(1).splitlines() if line]
    assert lines[1] == INSTALL_LINE
    for path in (ROOT / "docs" / "editors.md", ROOT / "editors" / "nvim" / "README.md"):
        assert INSTALL_LINE in path.read_text(encoding="utf-8"), path
    assert "~/.local/share/responses-lsp" not in readme


def test_package_metadata_is_complete() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in meta["classifiers"])
    assert {"Homepage", "Repository", "Issues"} <= set(meta["urls"])
    assert meta["keywords"]
    extras = meta["optional-dependencies"]
    assert "dev" in extras and "test" in extras and "testing" in extras
    assert not any(req.startswith(("ruff", "mypy")) for req in extras["test"])
    assert meta["entry-points"]["pytest11"]["responses_lsp"] == "responses_lsp.testing.plugin"


def test_the_vsix_is_packaged_with_a_license_and_a_repository() -> None:
    package = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text("utf-8"))
    command = package["scripts"]["package"]
    assert "--skip-license" not in command and "--allow-missing-repository" not in command
    assert package["repository"]["url"].startswith("https://")
    assert package["license"] == "MIT"
    ignore = (ROOT / "editors" / "vscode" / ".vscodeignore").read_text(encoding="utf-8")
    assert "!bundled/responses_lsp-*.whl" in ignore and "!LICENSE" in ignore
