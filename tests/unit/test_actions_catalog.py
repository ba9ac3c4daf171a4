"""The actions catalog: which actions exist, and which ones a code-action request is offered.

Filtering follows LSP: `only` kinds match hierarchically, a quickfix for diagnostics is only
offered when the request carries diagnostics, and actions with a language filter only appear
for those languages. User-defined actions come from settings and may replace a built-in.
"""

from __future__ import annotations

import pytest

from responses_lsp.actions.catalog import (
    BUILTIN_ACTIONS,
    ActionSpec,
    all_actions,
    find_action,
    kind_matches,
    offered_actions,
)
from responses_lsp.settings import CustomAction, Settings

BUILTIN_IDS = [
    "refactor-to-async",
    "add-type-hints",
    "add-docstrings",
    "fix-diagnostics",
    "edit-with-instruction",
    "refactor-to-async-with-callers",
    "edit-across-files",
    "refine-last",
    "retry-last",
]
OFFERED = BUILTIN_IDS[:7]  # the follow-ups need a last edit in the session
REWRITES = [
    "refactor-to-async",
    "add-type-hints",
    "add-docstrings",
    "edit-with-instruction",
    "refactor-to-async-with-callers",
    "edit-across-files",
]


def ids(actions: list[ActionSpec]) -> list[str]:
    return [a.id for a in actions]


def offered(
    language: str = "python",
    *,
    diagnostics: bool = True,
    only: list[str] | None = None,
    custom: tuple[CustomAction, ...] = (),
) -> list[str]:
    actions = all_actions(custom)
    return ids(
        offered_actions(actions, language_id=language, has_diagnostics=diagnostics, only=only)
    )


def custom(**fields: object) -> CustomAction:
    return CustomAction.model_validate({"title": "Mine", "prompt": "Do {instruction}", **fields})


def test_the_builtin_actions_have_the_stable_ids_of_the_design() -> None:
    assert ids(list(BUILTIN_ACTIONS)) == BUILTIN_IDS
    assert all(a.builtin and a.title.endswith("(AI)") for a in BUILTIN_ACTIONS)


@pytest.mark.parametrize(
    ("action_id", "kind", "scope", "gate"),
    [
        ("refactor-to-async", "refactor.rewrite", "function", None),
        ("add-type-hints", "refactor.rewrite", "function", None),
        ("add-docstrings", "refactor.rewrite", "function_or_class", None),
        ("fix-diagnostics", "quickfix", "selection", "needs_diagnostics"),
        ("edit-with-instruction", "refactor.rewrite", "selection", "needs_instruction"),
    ],
)
def test_each_builtin_has_its_kind_scope_and_gate(
    action_id: str, kind: str, scope: str, gate: str | None
) -> None:
    spec = find_action(BUILTIN_ACTIONS, action_id)
    assert spec is not None
    assert (spec.kind, spec.scope) == (kind, scope)
    assert spec.needs_diagnostics == (gate == "needs_diagnostics")
    assert spec.needs_instruction == (gate == "needs_instruction")


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (None, OFFERED),
        ([], OFFERED),
        ([""], OFFERED),  # the empty kind is the root of the hierarchy
        (["refactor"], REWRITES),
        (["refactor.rewrite"], REWRITES),
        (["quickfix"], ["fix-diagnostics"]),
        (["refactor", "quickfix"], OFFERED),
        (["refactor.extract"], []),
        (["refactor.rewrite.more"], []),  # a narrower kind than ours
        (["source"], []),
        (["source.organizeImports"], []),
        (["refactorx"], []),  # a prefix of the string, not of the hierarchy
    ],
)
def test_only_kinds_match_hierarchically(only: list[str] | None, expected: list[str]) -> None:
    assert offered(only=only) == expected


def test_fix_diagnostics_is_only_offered_with_diagnostics_in_range() -> None:
    assert "fix-diagnostics" in offered(diagnostics=True)
    assert offered(diagnostics=False) == REWRITES
    assert offered(diagnostics=False, only=["quickfix"]) == []


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("python", OFFERED),
        ("typescript", OFFERED),
        ("javascriptreact", OFFERED),
        ("go", ["add-docstrings", "fix-diagnostics", "edit-with-instruction", "edit-across-files"]),
        (
            "lua",
            [
                "add-type-hints",
                "add-docstrings",
                "fix-diagnostics",
                "edit-with-instruction",
                "edit-across-files",
            ],
        ),
        (
            "rust",
            [
                "refactor-to-async",
                "add-docstrings",
                "fix-diagnostics",
                "edit-with-instruction",
                "edit-across-files",
            ],
        ),
        (
            "plaintext",
            ["add-docstrings", "fix-diagnostics", "edit-with-instruction", "edit-across-files"],
        ),
        ("Python", OFFERED),  # language ids compare without case
    ],
)
def test_actions_with_a_language_filter_are_offered_for_those_languages(
    language: str, expected: list[str]
) -> None:
    assert offered(language) == expected


def test_custom_actions_come_after_the_builtins_in_settings_order() -> None:
    a = custom(id="explain", title="Explain (AI)")
    b = custom(id="tests", title="Write tests", kind="refactor")
    actions = all_actions((a, b))
    assert ids(actions) == [*BUILTIN_IDS, "explain", "tests"]
    explain = actions[-2]
    assert (explain.title, explain.kind, explain.template) == (
        "Explain (AI)",
        "refactor.rewrite",
        "Do {instruction}",
    )
    assert explain.scope == "selection" and not explain.builtin
    assert explain.needs_instruction  # its template asks for {instruction}
    assert not actions[-1].needs_diagnostics


def test_a_custom_action_with_a_builtin_id_replaces_it_in_place() -> None:
    mine = custom(id="add-docstrings", title="Docstrings, Google style", prompt="Google {language}")
    actions = all_actions([mine])
    assert ids(actions) == BUILTIN_IDS
    spec = find_action(actions, "add-docstrings")
    assert spec is not None
    assert (spec.title, spec.template, spec.builtin) == (
        "Docstrings, Google style",
        "Google {language}",
        False,
    )
    assert spec.scope == "function_or_class"  # the built-in's scope is kept


def test_replacing_fix_diagnostics_keeps_its_diagnostics_gate() -> None:
    mine = custom(id="fix-diagnostics", title="Fix it", kind="quickfix", prompt="Fix {diagnostics}")
    assert "fix-diagnostics" not in offered(diagnostics=False, custom=(mine,))
    assert "fix-diagnostics" in offered(diagnostics=True, custom=(mine,))


def test_a_custom_quickfix_about_diagnostics_needs_diagnostics() -> None:
    mine = custom(id="lint", title="Lint fix", kind="quickfix", prompt="Fix:\n{diagnostics}")
    assert "lint" not in offered(diagnostics=False, custom=(mine,))
    assert "lint" in offered(diagnostics=True, custom=(mine,))


@pytest.mark.parametrize(
    ("languages", "language", "offered_here"),
    [
        (None, "go", True),  # absent: every language
        (["go", "rust"], "go", True),
        (["go", "rust"], "python", False),
        ([], "python", False),  # empty: none, which turns a built-in off
    ],
)
def test_custom_language_filters(
    languages: list[str] | None, language: str, offered_here: bool
) -> None:
    mine = custom(id="mine", languages=languages)
    assert ("mine" in offered(language, custom=(mine,))) == offered_here


def test_an_empty_language_list_turns_a_builtin_off() -> None:
    off = custom(id="refactor-to-async", title="Async", prompt="x", languages=[])
    assert "refactor-to-async" not in offered("python", custom=(off,))


def test_custom_actions_from_settings_json_become_specs() -> None:
    settings = Settings.model_validate(
        {
            "actions": [
                {
                    "id": "sql",
                    "title": "Format SQL",
                    "prompt": "Format {selection}",
                    "languages": ["sql"],
                }
            ]
        }
    )
    spec = find_action(all_actions(settings.actions), "sql")
    assert spec is not None and spec.languages == ("sql",)


def test_find_action_returns_none_for_an_unknown_id() -> None:
    assert find_action(all_actions(()), "no-such-action") is None


def test_kind_matches_is_the_lsp_hierarchy() -> None:
    assert kind_matches("refactor.rewrite", ["refactor"])
    assert not kind_matches("refactor", ["refactor.rewrite"])


@pytest.mark.parametrize(
    ("action_id", "must_say"),
    [
        (
            "refactor-to-async",
            ["async def", "await", "httpx.AsyncClient", "asyncio.sleep", "Keep names"],
        ),
        ("add-type-hints", ["modern syntax", "X | None", "Any", "Change nothing else"]),
        ("add-docstrings", ["style this file already uses", "Change no code"]),
        ("fix-diagnostics", ["{diagnostics}", "exactly the listed problems", "suppression"]),
        ("edit-with-instruction", ["{instruction}", "Change only what the instruction asks"]),
    ],
)
def test_builtin_templates_say_what_to_change_and_what_to_keep(
    action_id: str, must_say: list[str]
) -> None:
    spec = find_action(BUILTIN_ACTIONS, action_id)
    assert spec is not None
    for phrase in must_say:
        assert phrase in spec.template
    assert "{language}" in spec.template


def test_follow_ups_are_offered_only_when_the_session_has_a_last_edit_here() -> None:
    actions = all_actions(())
    without = ids(offered_actions(actions, language_id="python", has_diagnostics=False, only=None))
    assert "refine-last" not in without and "retry-last" not in without
    with_last = ids(
        offered_actions(
            actions, language_id="python", has_diagnostics=False, only=None, has_follow_up=True
        )
    )
    assert with_last[-2:] == ["refine-last", "retry-last"]
    assert all(a.needs_instruction for a in actions if a.follow_up)
