"""The arguments of the server's commands, as attrs classes structured by pygls' converter.

`responses-lsp.run` takes one object `{action, uri, range?, instruction?, diagnostics?}` (what
the code action put in its command, plus the instruction a client asked the user for);
`responses-lsp.cancel` `{jobId?, uri?}`; `responses-lsp.jobResult` `{jobId}` or the bare id;
`responses-lsp.revert` `{uri, jobId}`; the session commands `{uri?}` or the bare uri.
`make_converter` is the converter pygls uses for every message, with the one hook these need
(a diagnostic is an LSP object or a string).
Unknown fields are ignored (clients send back the whole code action argument, and the answer
of `run`). Positions are plain integers here: a range outside the document is the job's to
refuse, with its own message, not a type error.
"""

from __future__ import annotations

from typing import TypeVar

import attrs
import cattrs
from cattrs import Converter
from pygls.protocol import default_converter

T = TypeVar("T")

SEVERITIES = {1: "error", 2: "warning", 3: "info", 4: "hint"}


class BadArguments(ValueError):
    """Command arguments that do not have the command's shape (the message says where)."""


@attrs.define
class Position:
    line: int = 0
    character: int = 0


@attrs.define
class Range:
    start: Position = attrs.field(factory=Position)
    end: Position | None = None  # a cursor when missing


@attrs.define
class Diagnostic:
    """An LSP diagnostic as the code action sent it; only what the prompt says of it."""

    range: Range = attrs.field(factory=Range)
    message: str = ""
    severity: int | None = None
    source: str | None = None
    code: int | str | None = None

    @property
    def severity_name(self) -> str:
        return SEVERITIES.get(self.severity or 0, "problem")

    @property
    def line(self) -> int:
        """1-based, as the prompt says it."""
        return self.range.start.line + 1


@attrs.define
class RunArguments:
    """`responses-lsp.run`."""

    action: str
    uri: str
    range: Range = attrs.field(factory=Range)
    instruction: str | None = None
    diagnostics: list[Diagnostic | str] = attrs.field(factory=list)


@attrs.define
class CancelArguments:
    """`responses-lsp.cancel`: one job, the jobs of one document, or (nothing given) all."""

    jobId: int | None = None  # the wire name
    uri: str | None = None


@attrs.define
class JobResultArguments:
    """`responses-lsp.jobResult`."""

    jobId: int  # the wire name


@attrs.define
class RevertArguments:
    """`responses-lsp.revert`: the finished edit of job `jobId` in `uri`."""

    uri: str
    jobId: int  # the wire name


@attrs.define
class SessionArguments:
    """`responses-lsp.session.*`: the session of `uri` (else the first workspace folder)."""

    uri: str | None = None


def make_converter() -> Converter:
    """pygls' converter (lsprotocol's hooks), plus the hook of a diagnostic-or-string."""
    converter: Converter = default_converter()  # type: ignore[no-untyped-call]  # pygls

    def diagnostic(value: object, _type: object) -> Diagnostic | str:
        if isinstance(value, str):
            return value
        return converter.structure(value, Diagnostic)

    converter.register_structure_hook(Diagnostic | str, diagnostic)
    return converter


def structure(
    converter: Converter, arguments: tuple[object, ...], cls: type[T], *, bare: bool = False
) -> T:
    """The command's one argument as `cls`. With `bare`, a value that is not an object stands
    for the first field (`jobResult 7`, `session.show "file:///…"`). Raises `BadArguments`
    saying what is wrong."""
    names = [f.name for f in attrs.fields(cls)]  # type: ignore[arg-type]  # an attrs class
    value: object = arguments[0] if arguments else {}
    if not isinstance(value, dict):
        if not bare:
            raise BadArguments(f"expected one argument object {{{', '.join(names)}}}")
        value = {names[0]: value}
    try:
        return converter.structure(value, cls)
    except cattrs.BaseValidationError as exc:
        raise BadArguments("; ".join(cattrs.transform_error(exc, path="argument"))) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise BadArguments(f"{type(exc).__name__}: {exc}") from None
