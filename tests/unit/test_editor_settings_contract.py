"""The editors list exactly the server's settings, with the same defaults (STYLE 10).

The settings model (`settings_keys()`, the `Settings` fields and their docstrings) is the source
of truth. VS Code: `editors/vscode/package.json` `contributes.configuration` declares every key
as `responsesLsp.<key>` with the same default, a compatible JSON type, the same enum values and
bounds, a scope, and a markdown description that starts with the field's docstring; the only other
keys are the extension-only ones below. Neovim: `editors/nvim/README.md` has a table of the same
keys and defaults (backticked key, JSON default).
"""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic import SecretStr

from responses_lsp.settings import CustomAction, Settings, settings_keys

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_JSON = ROOT / "editors" / "vscode" / "package.json"
NVIM_README = ROOT / "editors" / "nvim" / "README.md"
PREFIX = "responsesLsp."

EXTENSION_ONLY = {
    # read by the VS Code extension only, never sent to the server
    "responsesLsp.interpreter": "the Python that runs `python -m responses_lsp`",
    "responsesLsp.serverPath": "a `responses-lsp` executable to run instead of the bundled one",
    "responsesLsp.trace.server": "vscode-languageclient's protocol trace",
}
SCOPES = {
    "application",
    "machine",
    "machine-overridable",
    "window",
    "resource",
    "language-overridable",
}

BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minLength", "pattern")

KEYS = settings_keys()
FIELDS = {info.alias or name: info for name, info in Settings.model_fields.items()}


def _properties() -> dict[str, dict[str, Any]]:
    package = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    properties: dict[str, dict[str, Any]] = package["contributes"]["configuration"]["properties"]
    return properties


def _same(a: Any, b: Any) -> bool:
    """JSON equality where `true` is not `1` (Python's `True == 1`), but `60` is `60.0`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _json_types(annotation: Any) -> set[str]:
    """The JSON Schema types a value of this Python annotation can take."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_json_types(arg) for arg in typing.get_args(annotation)))
    if origin is typing.Literal:
        return {"string"} if all(isinstance(v, str) for v in typing.get_args(annotation)) else set()
    if origin in (tuple, list):
        return {"array"}
    if origin is dict:
        return {"object"}
    simple = {
        type(None): "null",
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        SecretStr: "string",
    }
    return {simple[annotation]}


def _literal_values(annotation: Any) -> set[Any] | None:
    """The values of a `Literal[...]` (plus None when optional), or None for other types."""
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    args = typing.get_args(annotation)
    literals = [arg for arg in args if typing.get_origin(arg) is typing.Literal]
    if not literals:
        return None
    values = set().union(*(typing.get_args(arg) for arg in literals))
    return values | ({None} if type(None) in args else set())


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    """pydantic constraints as the JSON Schema keywords package.json uses."""
    out: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            out["minimum"] = item.ge
        elif isinstance(item, annotated_types.Gt):
            out["exclusiveMinimum"] = item.gt
        elif isinstance(item, annotated_types.Le):
            out["maximum"] = item.le
        elif isinstance(item, annotated_types.Lt):
            out["exclusiveMaximum"] = item.lt
        elif isinstance(item, annotated_types.MinLen):
            out["minLength"] = item.min_length
        elif getattr(item, "pattern", None):
            out["pattern"] = item.pattern
    return out


def _suggestion(key: str) -> str:
    """A package.json entry to paste for a missing key."""
    info = FIELDS[key]
    types_ = sorted(_json_types(info.annotation))
    entry = {
        "type": types_[0] if len(types_) == 1 else types_,
        "default": KEYS[key],
        **_bounds(info.metadata),
        "scope": "window",
        "markdownDescription": info.description,
    }
    return f'"{PREFIX}{key}": {json.dumps(entry, indent=2)}'


# ------------------------------------------------------------------------------------ VS Code


def test_vscode_lists_every_server_setting_and_nothing_else() -> None:
    listed = set(_properties()) - set(EXTENSION_ONLY)
    server = {PREFIX + key for key in KEYS}
    missing = sorted(server - listed)
    assert not missing, "add to editors/vscode/package.json:\n" + ",\n".join(
        _suggestion(key.removeprefix(PREFIX)) for key in missing
    )
    extra = sorted(listed - server)
    assert not extra, f"not server settings (remove them, or list them in EXTENSION_ONLY): {extra}"


@pytest.mark.parametrize("key", sorted(EXTENSION_ONLY))
def test_vscode_extension_only_settings_say_so(key: str) -> None:
    prop = _properties()[key]
    assert prop["markdownDescription"].startswith("**Extension-only**"), key
    assert key.removeprefix(PREFIX) not in KEYS, f"{key} is a server setting now"


@pytest.mark.parametrize("key", list(KEYS))
def test_vscode_setting_matches_the_model(key: str) -> None:
    prop = _properties()[PREFIX + key]
    info = FIELDS[key]
    default = prop.get("default")
    assert _same(default, KEYS[key]), f"default of {key}: {default!r} != {KEYS[key]!r}"

    declared = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    assert set(declared) == _json_types(info.annotation), f"type of {key}"

    literal = _literal_values(info.annotation)
    if literal is not None:
        assert set(prop.get("enum", [])) == literal, f"enum of {key}"
        if "enumDescriptions" in prop:
            assert len(prop["enumDescriptions"]) == len(prop["enum"])

    declared_bounds = {k: prop[k] for k in BOUNDS if k in prop}
    assert declared_bounds == _bounds(info.metadata), f"bounds of {key}"

    assert prop.get("scope") in SCOPES, f"scope of {key}"
    description = prop.get("markdownDescription", "")
    assert info.description, f"{key} has no docstring in the settings model"
    assert description.startswith(info.description), (
        f"markdownDescription of {key} must start with the model's docstring: {info.description!r}"
    )


def test_vscode_custom_action_schema_matches_the_model() -> None:
    items = _properties()[PREFIX + "actions"]["items"]
    fields = {info.alias or name: info for name, info in CustomAction.model_fields.items()}
    assert set(items["properties"]) == set(fields)
    assert set(items["required"]) == {k for k, info in fields.items() if info.is_required()}
    kind = items["properties"]["kind"]
    assert set(kind["enum"]) == _literal_values(fields["kind"].annotation)
    assert kind["default"] == fields["kind"].default
    for key, info in fields.items():
        declared = items["properties"][key]["type"]
        declared = declared if isinstance(declared, list) else [declared]
        assert set(declared) == _json_types(info.annotation), f"type of actions[].{key}"


# ------------------------------------------------------------------------------------ Neovim


def _readme_settings(text: str) -> dict[str, Any]:
    """Rows of the README tables whose header has a "default" column: key -> JSON default."""
    settings: dict[str, Any] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].lstrip().startswith("|"):
            i += 1
            continue
        table = []
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            table.append([cell.strip() for cell in lines[i].strip().strip("|").split("|")])
            i += 1
        header = [cell.lower() for cell in table[0]]
        column = next((n for n, cell in enumerate(header) if "default" in cell), None)
        if column is None:
            continue
        for row in table[2:]:  # after the header and the |---| line
            key = re.fullmatch(r"`([^`]+)`", row[0])
            if key is None or column >= len(row):
                continue
            settings[key.group(1).removeprefix(PREFIX)] = json.loads(row[column].strip("`"))
    return settings


def test_nvim_readme_lists_every_setting_with_its_default() -> None:
    listed = _readme_settings(NVIM_README.read_text(encoding="utf-8"))
    assert set(listed) == set(KEYS), (
        f"missing: {sorted(set(KEYS) - set(listed))}, extra: {sorted(set(listed) - set(KEYS))}"
    )
    wrong = {key: (listed[key], KEYS[key]) for key in KEYS if not _same(listed[key], KEYS[key])}
    assert not wrong, f"defaults differ (README, model): {wrong}"
