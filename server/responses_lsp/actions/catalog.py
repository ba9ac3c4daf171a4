"""The actions catalog: which AI code actions exist and which ones a request is offered.

Owns the built-in actions (ids are stable: they are the command arguments), their prompt
templates, the merge with user-defined actions from settings, and the filtering that
`textDocument/codeAction` does (kind hierarchy, language, diagnostics). Everything here is
pure and costs microseconds: listing actions never touches the network or the document text.

User-defined actions:
* come after the built-ins, in the order of the settings; one whose id equals a built-in id
  replaces that built-in in place (keeping its scope and gating), which is how a built-in
  prompt is customised;
* are offered for every language when `languages` is absent, and for none when it is an
  empty list, which is how a built-in is turned off;
* need an instruction when their template says `{instruction}`; a `quickfix` whose template
  says `{diagnostics}` is only offered when the request carries diagnostics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the settings model needs pydantic, loaded after startup (jobs.runtime)
    from responses_lsp.settings import CustomAction

Scope = Literal["selection", "function", "function_or_class"]
"""What an empty selection (a cursor) expands to; see `actions.selection.action_range`."""

REWRITE = "refactor.rewrite"
QUICKFIX = "quickfix"


@dataclass(frozen=True)
class ActionSpec:
    """One code action the server can run."""

    id: str  # stable id, used as the command argument
    title: str  # what menus show, e.g. "Refactor to async (AI)"
    kind: str  # LSP CodeActionKind value: "refactor.rewrite", "quickfix", ...
    template: str  # prompt template; placeholders are listed in `actions.prompts`
    scope: Scope  # what a cursor (empty selection) expands to
    languages: tuple[str, ...] | None = None  # language ids; None = all
    needs_instruction: bool = False  # the client must supply an instruction
    needs_diagnostics: bool = False  # only offered when diagnostics are in range
    builtin: bool = True
    follow_up: bool = False  # acts on the session's last edit in this document
    multi_file: bool = False  # may read and change other files through tool calls


_ASYNC = """\
Refactor the selected {language} code to be asynchronous.
- Make each function in the selection asynchronous in the language's native form (Python \
`async def`; JavaScript/TypeScript `async function`, `async` methods and arrow functions). \
Keep names, parameters, defaults and decorators; change a return type only as async requires \
(e.g. `Promise<T>` in TypeScript).
- Replace blocking I/O with its async equivalent and `await` it. In Python: `requests` -> \
`httpx.AsyncClient` (`async with httpx.AsyncClient() as client: await client.get(...)`), \
`time.sleep` -> `await asyncio.sleep`, `subprocess.run` -> `asyncio.create_subprocess_exec`; \
in Node.js: `fs.readFileSync` -> `await fs.promises.readFile`, callbacks -> promises. \
When a call has no async equivalent, keep it (in Python, `await asyncio.to_thread(...)`).
- `await` calls to functions of the selection that you made async. Leave pure computation \
synchronous and do not add concurrency the original code did not have: same results, same \
exceptions, same order of side effects.
- Keep comments, docstrings and formatting style, and leave code that needs no change as it is."""

_TYPE_HINTS = """\
Add type annotations to the selected {language} code.
- Annotate every parameter and the return type of each function and method in the selection \
(not `self`/`cls`), and variables or attributes whose type a type checker cannot infer \
(e.g. empty containers, class attributes). Keep existing correct annotations.
- Be precise: infer types from how values are used, default values, docstrings and the \
surrounding code. Prefer concrete types (`list[str]`, `dict[str, int]`, `Path`) for results \
and abstract ones (`Iterable[str]`, `Mapping[str, int]`) for parameters the code only iterates \
or reads. Use `Any` only when nothing more precise is correct.
- Use the modern syntax of the file's language version: in Python 3.10+ `X | None`, \
`list[int]`, `collections.abc` rather than `typing` aliases, but follow the file if it \
visibly uses `Optional`/`List` or targets an older version. TypeScript: annotations in the \
file's style; JavaScript: JSDoc (`@param {type} name`, `@returns {type}`); Lua: LuaLS \
annotations (`---@param`, `---@return`); PHP: native type declarations.
- Use only type names that are builtins or already imported or defined in the visible code \
(imports at the top of the file cannot be changed); when a type would need a new import, use \
the closest available type.
- Change nothing else: behaviour, names, defaults, comments, docstrings and formatting stay."""

_DOCSTRINGS = """\
Add documentation to the selected {language} code.
- Give every function, method and class in the selection that has none a docstring \
(Python) or the language's doc comment (JSDoc/TSDoc `/** */` in JavaScript and TypeScript, \
`///` in Rust and C#, `// Name ...` in Go, Javadoc in Java, `---` in Lua, YARD in Ruby).
- Follow the documentation style this file already uses, as far as the context shows it \
(Google, NumPy or reST sections in Python; tense, voice and level of detail). Without an \
example, write concise idiomatic docs (Python: PEP 257, a one-line summary in the imperative \
mood, then arguments, return value and raised exceptions only where they are not obvious).
- Describe what the code really does; do not invent behaviour. Keep existing documentation \
unless it is empty or wrong.
- Change no code: names, comments, formatting and behaviour stay exactly as they are."""

_FIX_DIAGNOSTICS = """\
Fix these problems reported in the selected {language} code (line numbers are lines of the \
whole file):
{diagnostics}
- Fix exactly the listed problems, each with the smallest correct change.
- Do not fix, refactor or reformat anything else; keep behaviour, names, comments and \
formatting.
- Make real fixes: do not silence a problem with a suppression comment (`# type: ignore`, \
`# noqa`, `// @ts-ignore`, `eslint-disable`) or a cast unless no real fix exists."""

_INSTRUCTION = """\
Rewrite the selected {language} code following this instruction:
{instruction}
- Change only what the instruction asks for; keep everything else (behaviour, names, \
comments and formatting) as it is."""

_REFINE = """\
The selection is the code you wrote in your previous answer in this conversation, as it is \
in the file now. Refine it: {instruction}
Keep the decisions and conventions of that answer and of the earlier ones unless the \
instruction changes them.
"""

_RETRY = """\
The selection is the code you wrote in your previous answer in this conversation. It is not \
what I wanted: write it again from the original code (given below), taking a different \
approach. {instruction}
"""

_ASYNC_CALLERS = """\
Make the selected {language} function asynchronous and update its callers across the \
workspace so that the program still works:
- Make the function `async` (Python `async def`, JavaScript/TypeScript `async function`) and \
replace blocking I/O inside it with async equivalents, awaited.
- Find every call site in the workspace (use `search`, then `read_file` to see each one). At \
each, `await` the call; make the calling function async too when it is a plain function, \
and follow the change up to the callers of that function in turn. Where a caller must stay \
synchronous (an entry point such as `main` or a callback of a sync API), run the coroutine \
with the language's standard way (Python `asyncio.run(...)`).
- Change nothing else. Send all the changes with `apply_patch` (one patch may touch several \
files), then reply with a short summary of what changed.
"""

_ACROSS_FILES = """\
Make this change across the workspace, starting from the selected {language} code: \
{instruction}
Read what you need with `read_file`, `search` and `list_files`; change files only with \
`apply_patch`; change nothing the instruction does not ask for. Then reply with a short \
summary of what changed.
"""

BUILTIN_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        id="refactor-to-async",
        title="Refactor to async (AI)",
        kind=REWRITE,
        template=_ASYNC,
        scope="function",
        languages=(
            "python",
            "javascript",
            "javascriptreact",
            "typescript",
            "typescriptreact",
            "rust",
            "csharp",
            "dart",
            "kotlin",
            "swift",
        ),
    ),
    ActionSpec(
        id="add-type-hints",
        title="Add type hints (AI)",
        kind=REWRITE,
        template=_TYPE_HINTS,
        scope="function",
        languages=(
            "python",
            "javascript",
            "javascriptreact",
            "typescript",
            "typescriptreact",
            "lua",
            "php",
        ),
    ),
    ActionSpec(
        id="add-docstrings",
        title="Add docstrings (AI)",
        kind=REWRITE,
        template=_DOCSTRINGS,
        scope="function_or_class",
    ),
    ActionSpec(
        id="fix-diagnostics",
        title="Fix diagnostics (AI)",
        kind=QUICKFIX,
        template=_FIX_DIAGNOSTICS,
        scope="selection",
        needs_diagnostics=True,
    ),
    ActionSpec(
        id="edit-with-instruction",
        title="Edit with instruction… (AI)",
        kind=REWRITE,
        template=_INSTRUCTION,
        scope="selection",
        needs_instruction=True,
    ),
    ActionSpec(
        id="refactor-to-async-with-callers",
        title="Refactor to async, with its callers (AI)",
        kind=REWRITE,
        template=_ASYNC_CALLERS,
        scope="function",
        languages=("python", "javascript", "typescript", "javascriptreact", "typescriptreact"),
        multi_file=True,
    ),
    ActionSpec(
        id="edit-across-files",
        title="Edit across files with instruction… (AI)",
        kind=REWRITE,
        template=_ACROSS_FILES,
        scope="selection",
        needs_instruction=True,
        multi_file=True,
    ),
    ActionSpec(
        id="refine-last",
        title="Refine the last AI edit… (AI)",
        kind=REWRITE,
        template=_REFINE,
        scope="selection",
        needs_instruction=True,
        follow_up=True,
    ),
    ActionSpec(
        id="retry-last",
        title="Undo the last AI edit and try differently… (AI)",
        kind=REWRITE,
        template=_RETRY,
        scope="selection",
        needs_instruction=True,
        follow_up=True,
    ),
)


def _from_custom(custom: CustomAction, replaces: ActionSpec | None) -> ActionSpec:
    spec = ActionSpec(
        id=custom.id,
        title=custom.title,
        kind=custom.kind,
        template=custom.prompt,
        scope="selection",
        languages=custom.languages,
        needs_instruction="{instruction}" in custom.prompt,
        needs_diagnostics=custom.kind == QUICKFIX and "{diagnostics}" in custom.prompt,
        builtin=False,
    )
    if replaces is None:
        return spec
    return replace(
        spec,
        scope=replaces.scope,
        needs_instruction=spec.needs_instruction or replaces.needs_instruction,
        needs_diagnostics=spec.needs_diagnostics or replaces.needs_diagnostics,
    )


def all_actions(custom: Sequence[CustomAction]) -> list[ActionSpec]:
    """The built-ins, then the user-defined actions (same id as a built-in: replaces it)."""
    builtins = {spec.id: spec for spec in BUILTIN_ACTIONS}
    overrides = {c.id: _from_custom(c, builtins[c.id]) for c in custom if c.id in builtins}
    actions = [overrides.get(spec.id, spec) for spec in BUILTIN_ACTIONS]
    actions.extend(_from_custom(c, None) for c in custom if c.id not in builtins)
    return actions


def kind_matches(kind: str, only: Sequence[str] | None) -> bool:
    """Whether `kind` is asked for by `CodeActionContext.only` (hierarchical: "refactor"
    matches "refactor.rewrite"; the empty kind and an absent or empty `only` match all)."""
    if not only:
        return True
    return any(not k or kind == k or kind.startswith(k + ".") for k in only)


def offered_actions(
    actions: Sequence[ActionSpec],
    *,
    language_id: str,
    has_diagnostics: bool,
    only: Sequence[str] | None,
    has_follow_up: bool = False,
) -> list[ActionSpec]:
    """The actions to list for one `textDocument/codeAction` request, in catalog order.

    Follow-ups (refine / retry the last edit) only when the session has a last edit here.
    """
    language = language_id.lower()
    return [
        spec
        for spec in actions
        if kind_matches(spec.kind, only)
        and (has_follow_up or not spec.follow_up)
        and (has_diagnostics or not spec.needs_diagnostics)
        and (spec.languages is None or language in (lang.lower() for lang in spec.languages))
    ]


def find_action(actions: Sequence[ActionSpec], action_id: str) -> ActionSpec | None:
    """The action with this id (the command argument), or None."""
    return next((spec for spec in actions if spec.id == action_id), None)
