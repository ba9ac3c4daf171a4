"""Command arguments are attrs classes structured by pygls' converter: what clients really send
(the code action's own argument, extra fields, the answer of `run` fed back to `jobResult`, a
bare id or uri) is read, and a malformed argument is refused with a message that says where."""

from __future__ import annotations

import pytest
from lsprotocol import types as t
from pygls.protocol import default_converter

from responses_lsp.jobs.arguments import (
    BadArguments,
    CancelArguments,
    Diagnostic,
    JobResultArguments,
    RunArguments,
    SessionArguments,
    make_converter,
    structure,
)
from responses_lsp.jobs.manager import job_request
from responses_lsp.jobs.request import diagnostic_text

CONVERTER = make_converter()
URI = "file:///w/app.py"


def run(argument: object) -> RunArguments:
    return structure(CONVERTER, (argument,), RunArguments)


def test_the_code_action_argument_becomes_a_job_request() -> None:
    lsp_diagnostic = t.Diagnostic(
        range=t.Range(start=t.Position(line=4, character=2), end=t.Position(line=4, character=9)),
        message="undefined name\n  'x'",
        severity=t.DiagnosticSeverity.Error,
        source="pyflakes",
        code="F821",
    )
    argument = {
        "action": "fix-diagnostics",
        "uri": URI,
        "range": {"start": {"line": 3, "character": 0}, "end": {"line": 6, "character": 4}},
        "needsInstruction": True,  # what the code action adds for clients: ignored here
        "diagnostics": [default_converter().unstructure(lsp_diagnostic), "line 1: note: plain"],
        "instruction": "keep it short",
    }
    request = job_request(run(argument))
    assert (request.action_id, request.uri) == ("fix-diagnostics", URI)
    assert (request.start, request.end) == ((3, 0), (6, 4))
    assert request.instruction == "keep it short"
    first, second = request.diagnostics
    assert isinstance(first, Diagnostic) and second == "line 1: note: plain"
    assert diagnostic_text(first) == "line 5: error: undefined name 'x' (pyflakes F821)"
    assert diagnostic_text(second) == "line 1: note: plain"


def test_a_cursor_is_a_range_without_end_and_no_range_is_the_document_start() -> None:
    cursor = job_request(run({"action": "a", "uri": URI, "range": {"start": {"line": 2}}}))
    assert (cursor.start, cursor.end) == ((2, 0), (2, 0))
    bare = job_request(run({"action": "a", "uri": URI}))
    assert (bare.start, bare.end, bare.instruction) == ((0, 0), (0, 0), "")


def test_a_range_outside_the_document_is_left_to_the_job_to_refuse() -> None:
    """Negative positions are structured, not a type error: the job refuses them with its own
    message ("outside the document"), as the e2e tests assert."""
    request = job_request(run({"action": "a", "uri": URI, "range": {"start": {"line": -3}}}))
    assert request.start == (-3, 0)


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        ({"uri": URI}, "required field missing @ argument.action"),
        ({"action": "a"}, "required field missing @ argument.uri"),
        (
            {"action": "a", "uri": URI, "range": {"start": {"line": "three"}}},
            "expected int @ argument.range.start.line",
        ),
        ([URI], "expected one argument object {action, uri, range, instruction, diagnostics}"),
        ("refactor", "expected one argument object"),
    ],
)
def test_a_malformed_run_argument_says_what_is_wrong(argument: object, says: str) -> None:
    with pytest.raises(BadArguments) as caught:
        run(argument)
    assert says in str(caught.value)


def test_no_argument_at_all_is_malformed_for_run() -> None:
    with pytest.raises(BadArguments, match=r"required field missing @ argument\.action"):
        structure(CONVERTER, (), RunArguments)


def test_job_result_takes_the_run_answer_or_a_bare_id() -> None:
    started = {"jobId": 7, "outcome": "started", "token": "responses-lsp/job/7"}
    assert structure(CONVERTER, (started,), JobResultArguments, bare=True).jobId == 7
    assert structure(CONVERTER, (7,), JobResultArguments, bare=True).jobId == 7
    with pytest.raises(BadArguments):
        structure(CONVERTER, ("seven",), JobResultArguments, bare=True)


def test_cancel_and_session_arguments() -> None:
    assert structure(CONVERTER, (), CancelArguments, bare=True) == CancelArguments()
    assert structure(CONVERTER, ({"uri": URI},), CancelArguments, bare=True).uri == URI
    assert structure(CONVERTER, (3,), CancelArguments, bare=True).jobId == 3
    assert structure(CONVERTER, (URI,), SessionArguments, bare=True).uri == URI
    assert structure(CONVERTER, ({"uri": URI},), SessionArguments, bare=True).uri == URI
    assert structure(CONVERTER, (), SessionArguments, bare=True).uri is None
