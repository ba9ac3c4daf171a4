"""The output sanitizer: what a model's streamed text becomes in the user's buffer.

Each scenario names a model output and the options of the document it goes into, and states
the final text and what must already be in the buffer before the stream ends (`emitted`).
Every scenario is replayed under several chunkings; hypothesis then checks the streaming
contract (append-only, chunking-invariant) on generated model outputs.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responses_lsp.editing.sanitizer import (
    SanitizerOptions,
    StreamSanitizer,
    looks_like_code,
    sanitize,
)

Opts = SanitizerOptions


def stream(chunks: list[str], options: SanitizerOptions) -> tuple[list[str], str, str]:
    """Feed chunks; return the deltas, `emitted` before finish, and the final text."""
    sanitizer = StreamSanitizer(options)
    deltas = [sanitizer.feed(chunk) for chunk in chunks]
    emitted = sanitizer.emitted
    return deltas, emitted, sanitizer.finish()


def chunkings(text: str) -> list[list[str]]:
    return [
        [text],
        list(text),
        [text[i : i + 2] for i in range(0, len(text), 2)],
        [text[i : i + 7] for i in range(0, len(text), 7)],
        text.splitlines(keepends=True),
    ]


@dataclass(frozen=True)
class Scenario:
    name: str
    output: str  # what the model streams
    final: str  # what the region holds at the end
    emitted: str  # what is already in the buffer before the stream ends
    options: SanitizerOptions = field(default_factory=SanitizerOptions)


SCENARIOS = [
    Scenario("plain code", "x = 1\ny = 2\n", "x = 1\ny = 2\n", "x = 1\ny = 2"),
    Scenario(
        "python fence",
        "```python\ndef f():\n    return 1\n```\n",
        "def f():\n    return 1\n",
        "def f():\n    return 1",
    ),
    Scenario("tilde fence", "~~~\nx = 1\n~~~\n", "x = 1\n", "x = 1"),
    Scenario("fence, no closing fence", "```js\nlet a = 1;\n", "let a = 1;\n", "let a = 1;"),
    Scenario(
        "prose + fence + prose",
        "Here is the refactored code:\n\n```python\nasync def f():\n    await g()\n```\n\n"
        "This version awaits `g()` instead of blocking.\n",
        "async def f():\n    await g()\n",
        "async def f():\n    await g()",
    ),
    Scenario(
        "prose without punctuation, then a fence",
        "Here's the async version\n```python\nx = 1\n```",
        "x = 1\n",
        "x = 1",
    ),
    Scenario(
        "prose + unfenced code",
        "Sure! Below is the async version.\nasync def f():\n    pass\n",
        "async def f():\n    pass\n",
        "async def f():\n    pass",
    ),
    Scenario(
        "unfenced code + blank + prose",
        "def f():\n    pass\n\nThis version uses `asyncio.gather()` (faster).\n"
        "Let me know if you need anything else!\n",
        "def f():\n    pass\n",
        "def f():\n    pass",
    ),
    Scenario(
        "unfenced code + usage example block",
        "def f():\n    pass\n\nUsage:\n```python\nf()\n```\n",
        "def f():\n    pass\n",
        "def f():\n    pass",
    ),
    Scenario(
        "unfenced code + stray closing fence",
        "def f():\n    pass\n```\n",
        "def f():\n    pass\n",
        "def f():\n    pass",
    ),
    Scenario(
        "prose-like paragraph inside unfenced code is kept",
        'X = """\n\nThis module does many things.\n"""\n',
        'X = """\n\nThis module does many things.\n"""\n',
        'X = """\n\nThis module does many things.\n"""',
    ),
    Scenario(
        "column-0 fence inside a string in unfenced code",
        'HELP = """\n```\nexample\n```\n"""\n',
        'HELP = """\n```\nexample\n```\n"""\n',
        'HELP = """\n```\nexample\n```\n"""',
    ),
    Scenario(
        "indented fence in a docstring inside an outer fence",
        '```python\ndef f():\n    """Run it.\n\n    ```python\n    f()\n    ```\n    """\n```\n'
        "Done.\n",
        'def f():\n    """Run it.\n\n    ```python\n    f()\n    ```\n    """\n',
        'def f():\n    """Run it.\n\n    ```python\n    f()\n    ```\n    """',
    ),
    Scenario(
        "four-backtick fence keeps an inner column-0 fence",
        "````markdown\n# Title\n```\ncode\n```\n````\n",
        "# Title\n```\ncode\n```\n",
        "# Title\n```\ncode\n```",
    ),
    Scenario(
        "CRLF document, LF model output",
        "def f():\n    pass\n",
        "def f():\r\n    pass\r\n",
        "def f():\r\n    pass",
        Opts(line_ending="\r\n"),
    ),
    Scenario(
        "CRLF model output into an LF document",
        "```py\r\nx = 1\r\n\r\ny = 2\r\n```\r\n",
        "x = 1\n\ny = 2\n",
        "x = 1\n\ny = 2",
    ),
    Scenario(
        "tabs document, space-indented output",
        "def f():\n    if x:\n        y()\n",
        "\tdef f():\n\t\tif x:\n\t\t\ty()\n",
        "\tdef f():\n\t\tif x:\n\t\t\ty()",
        Opts(base_indent="\t", use_tabs=True),
    ),
    Scenario(
        "tabs document, two-space output",
        "if (a) {\n  b();\n    c();\n}\n",
        "if (a) {\n\tb();\n\t\tc();\n}\n",
        "if (a) {\n\tb();\n\t\tc();\n}",
        Opts(use_tabs=True, language="c"),
    ),
    Scenario(
        "base indent, output at column 0",
        "def f():\n    pass\n",
        "    def f():\n        pass\n",
        "    def f():\n        pass",
        Opts(base_indent="    "),
    ),
    Scenario(
        "base indent, output already indented deeper",
        "        def f():\n            pass\n",
        "    def f():\n        pass\n",
        "    def f():\n        pass",
        Opts(base_indent="    "),
    ),
    Scenario(
        "a line less indented than the first keeps its offset",
        "    x = 1\ny = 2\n",
        "\tx = 1\n\ty = 2\n",
        "\tx = 1\n\ty = 2",
        Opts(base_indent="\t"),
    ),
    Scenario("leading blank lines", "\n\n  \nx = 1\n", "x = 1\n", "x = 1"),
    Scenario("trailing blank lines", "x = 1\n\n  \n\n", "x = 1\n", "x = 1"),
    Scenario(
        "blank lines inside code stay empty",
        "a = 1\n    \nb = 2\n",
        "    a = 1\n\n    b = 2\n",
        "    a = 1\n\n    b = 2",
        Opts(base_indent="    "),
    ),
    Scenario(
        "no trailing newline wanted", "x = 1\n\n", "x = 1", "x = 1", Opts(trailing_newline=False)
    ),
    Scenario(
        "emoji and non-ASCII",
        "```\ns = 'héllo 😀 世界'\ngröße_λ = 1\n```",
        "s = 'héllo 😀 世界'\ngröße_λ = 1\n",
        "s = 'héllo 😀 世界'\ngröße_λ = 1",
    ),
    Scenario(
        "CJK prose before code",
        "以下是重构后的代码：\nx = 1\n",  # noqa: RUF001 - the model's full-width colon
        "x = 1\n",
        "x = 1",
    ),
    Scenario("empty output", "", "", ""),
    Scenario("only fences", "```python\n```\n", "", ""),
    Scenario("only prose", "I can't refactor this without more context.\n", "", ""),
    Scenario(
        "markdown document: prose is content",
        "Here is the intro.\n\n```python\nx = 1\n```\n",
        "Here is the intro.\n\n```python\nx = 1\n```\n",
        "Here is the intro.\n\n```python\nx = 1\n```",
        Opts(language="markdown"),
    ),
    Scenario(
        "markdown document wrapped in a markdown fence",
        "```Markdown\n# Title\n\nText.\n```\n",
        "# Title\n\nText.\n",
        "# Title\n\nText.",
        Opts(language="markdown"),
    ),
]


@pytest.mark.parametrize("case", SCENARIOS, ids=lambda case: case.name)
def test_scenario(case: Scenario) -> None:
    for chunks in chunkings(case.output):
        deltas, emitted, final = stream(chunks, case.options)
        assert final == case.final, chunks
        assert emitted == case.emitted, chunks
        assert "".join(deltas) == emitted
    assert sanitize(case.output, case.options) == case.final


def test_fence_split_across_chunks_never_leaks_a_backtick() -> None:
    deltas, _, final = stream(["``", "`py", "thon\nx=1\n``", "`\n"], Opts())
    assert deltas == ["", "", "x=1", ""]
    assert final == "x=1\n"


def test_chunk_ending_in_cr_leaves_no_stray_cr() -> None:
    deltas, _, final = stream(["a = 1\r", "\nb = 2\r", "\r", "c = 3\r"], Opts(line_ending="\r\n"))
    assert "".join(deltas) == "a = 1\r\nb = 2\r\n\r\nc = 3"
    assert final == "a = 1\r\nb = 2\r\n\r\nc = 3\r\n"


def test_code_streams_before_its_line_ends() -> None:
    sanitizer = StreamSanitizer(Opts(base_indent="  "))
    assert sanitizer.feed("def f(") == "  def f("
    assert sanitizer.feed("):\n") == "):"
    assert sanitizer.feed("    ") == ""  # indentation waits for the first character
    assert sanitizer.feed("ret") == "\n      ret"
    assert sanitizer.feed("urn 1\n```") == "urn 1"
    assert sanitizer.feed("\nThis is the end.\n") == ""
    assert sanitizer.finish() == "  def f():\n      return 1\n"


def test_first_line_is_held_only_while_it_could_be_prose() -> None:
    sanitizer = StreamSanitizer(Opts())
    assert sanitizer.feed("Here is") == ""
    assert sanitizer.feed(" the code:\nimport os") == "import os"
    sanitizer = StreamSanitizer(Opts())
    assert sanitizer.feed("MAX_SIZE =") == "MAX_SIZE ="  # a code character decides at once


def test_feed_after_finish_is_an_error() -> None:
    sanitizer = StreamSanitizer(Opts())
    sanitizer.feed("x")
    assert sanitizer.finish() == sanitizer.finish() == "x\n"
    with pytest.raises(RuntimeError):
        sanitizer.feed("y")


# -- looks_like_code ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("", "python", False),
        ("  \n\n", "", False),
        ("I can't do that without more context.\n", "python", False),
        ("Sorry, I cannot help with that.\nPlease provide the full file.\n", "go", False),
        ("x = 1\n", "python", True),
        ("    def f(self):\n        return 1\n", "python", True),  # a method body, dedented
        ("        return x\n    else:\n        return y\n", "python", True),  # fragment
        ("elif x:\n    pass\n", "python", True),
        ("for x in y:\n", "python", True),
        ("x = (\n", "python", True),  # broken, but nothing chat-like in it: keep it
        ("x = (\nThis fixes the bug.\n", "python", False),
        ("def f(:\n```\n", "python", False),
        ("Just some words here.\n", "markdown", True),
        ("func main() {\n}\n", "go", True),
    ],
)
def test_looks_like_code(text: str, language: str, expected: bool) -> None:
    assert looks_like_code(text, language) is expected


# -- properties -------------------------------------------------------------------------------

PROSE_BEFORE = [
    "Here is the refactored code:",
    "Sure! Below is the async version.",
    "Certainly! Here's the updated function (with type hints):",
    "I've converted `fetch` to use async/await.",
]
PROSE_BEFORE_FENCE_ONLY = ["Here's the async version", "Here is what changed"]
PROSE_AFTER = [
    "This version uses `asyncio.gather()` to run requests concurrently.",
    "Let me know if you need anything else!",
    "Note: callers must now await the result.",
]
CODE = [
    "x = 1",
    'print("héllo 😀")',
    "return await fetch(url)",
    "if a < b:",
    "# a comment, with words.",
    "MAX_RETRIES = 3",
    "Foo.bar(x)  # 世界",
    "}",
    "s = '```'",
    "elif x:",
    "let v = vec![1, 2];",
]
FENCE_LIKE_CODE = ["```python", "```", "~~~"]  # only ever indented, never first


@st.composite
def code_lines(draw: st.DrawFn) -> list[str]:
    indent = st.sampled_from(["", "", "  ", "    ", "        ", "\t", "\t\t", "  \t"])
    first = draw(indent) + draw(st.sampled_from(CODE))
    lines = [first]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["code", "code", "code", "blank", "fence-like"]))
        if kind == "blank":
            lines.append(draw(st.sampled_from(["", "  ", "\t"])))
        elif kind == "fence-like":
            indented = draw(st.sampled_from(["    ", "\t", "  "]))
            lines.append(indented + draw(st.sampled_from(FENCE_LIKE_CODE)))
        else:
            lines.append(draw(indent) + draw(st.sampled_from(CODE)))
    return lines


@st.composite
def model_outputs(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A model output and the code lines it carries."""
    code = draw(code_lines())
    fenced = draw(st.booleans())
    parts: list[str] = []
    if draw(st.booleans()):
        pool = PROSE_BEFORE + (PROSE_BEFORE_FENCE_ONLY if fenced else [])
        parts += draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2))
        parts += [""] * draw(st.integers(0, 2))
    if fenced:
        parts.append("```" + draw(st.sampled_from(["", "python", "ts", " py"])))
    parts += code
    closed = fenced and draw(st.booleans())
    if closed:
        parts.append(draw(st.sampled_from(["```", "```  "])))
    # Inside a fence that never closes everything is code, so prose follows a closed fence.
    if (closed or (not fenced and code[-1].strip())) and draw(st.booleans()):
        parts += ["", *draw(st.lists(st.sampled_from(PROSE_AFTER), min_size=1, max_size=2))]
    parts += [""] * draw(st.integers(0, 3))
    newline = "\r\n" if draw(st.booleans()) else "\n"
    return newline.join(parts), code


def expected_code(code: list[str], options: SanitizerOptions) -> str:
    """Reference (non-streaming) layout of known code lines, without tab conversion."""
    while code and not code[-1].strip(" \t"):
        code = code[:-1]
    base = code[0][: len(code[0]) - len(code[0].lstrip(" \t"))]
    out = []
    for line in code:
        if not line.strip(" \t"):
            out.append("")
        elif line.startswith(base):
            out.append(options.base_indent + line[len(base) :])
        else:
            out.append(options.base_indent + line)
    end = options.line_ending if options.trailing_newline else ""
    return options.line_ending.join(out) + end


def random_chunks(data: st.DataObject, text: str) -> list[str]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=40)))
    if data.draw(st.booleans()):
        cuts = list(range(len(text) + 1))  # one character at a time
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


option_sets = st.builds(
    SanitizerOptions,
    base_indent=st.sampled_from(["", "    ", "\t", "  "]),
    line_ending=st.sampled_from(["\n", "\r\n"]),
    trailing_newline=st.booleans(),
    use_tabs=st.booleans(),
    language=st.sampled_from(["", "python", "typescript"]),
)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), generated=model_outputs(), options=option_sets)
def test_streaming_contract(
    data: st.DataObject, generated: tuple[str, list[str]], options: SanitizerOptions
) -> None:
    text, code = generated
    whole = sanitize(text, options)
    chunks = random_chunks(data, text)
    deltas, emitted, final = stream(chunks, options)
    assert final == whole  # chunking-invariant
    assert final.startswith(emitted)  # append-only: nothing is ever retracted
    assert "".join(deltas) == emitted
    assert stream([text], options)[1] == emitted  # what is shown early does not depend on chunks
    if not options.use_tabs:
        assert final == expected_code(code, options)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), text=st.text(alphabet="`~ \t\r\nHere:x=()#.!\u00e9😀", max_size=60))
def test_streaming_contract_on_arbitrary_text(data: st.DataObject, text: str) -> None:
    for options in (Opts(), Opts(base_indent="\t", use_tabs=True, line_ending="\r\n")):
        _, emitted, final = stream(random_chunks(data, text), options)
        assert final == sanitize(text, options)
        assert final.startswith(emitted)
        assert "\r" not in final.replace("\r\n", "")


# -- performance ------------------------------------------------------------------------------

SNIPPET = (
    "async def fetch_all(urls: list[str]) -> list[bytes]:\n"
    '    """Fetch every URL concurrently.\n\n'
    "This docstring paragraph sits at column 0.\n"
    '    """\n'
    "    async with aiohttp.ClientSession() as session:\n"
    "        return await asyncio.gather(*(get(session, u) for u in urls))  # 世界 😀\n\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "```python\n" + SNIPPET * (100_000 // len(SNIPPET)),
        SNIPPET * (100_000 // len(SNIPPET)),
        "x = 1\n\n" + "A long prose-like line without any code characters " * 2_000,
        "x" + " " * 100_000,
    ],
    ids=["fenced", "unfenced", "long-prose-like-line", "long-whitespace"],
)
def test_one_character_chunks_are_linear(text: str) -> None:
    sanitizer = StreamSanitizer(Opts(base_indent="\t", use_tabs=True, line_ending="\r\n"))
    start = time.perf_counter()
    for char in text:
        sanitizer.feed(char)
    sanitizer.finish()
    assert time.perf_counter() - start < 1.0
