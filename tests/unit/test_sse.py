"""The SSE frame splitter (`api/sse.py`) against httpx-sse's decoder, the one it replaced."""

from __future__ import annotations

import itertools

from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import given, settings
from hypothesis import strategies as st

from responses_lsp.api.sse import SSEFrames


def reference(pieces: list[str]) -> list[tuple[str, str]]:
    """What the client read with httpx-sse (frames with data only, as the client uses them)."""
    lines, frames, out = SSELineDecoder(), SSEDecoder(), []
    for piece in pieces:
        for line in lines.decode(piece):
            sse = frames.decode(line.rstrip("\n"))
            if sse is not None and sse.data:
                out.append((sse.event, sse.data))
    for line in lines.flush():
        sse = frames.decode(line.rstrip("\n"))
        if sse is not None and sse.data:
            out.append((sse.event, sse.data))
    return out


def ours(pieces: list[str]) -> list[tuple[str, str]]:
    frames = SSEFrames()
    out: list[tuple[str, str]] = []
    for piece in pieces:
        out.extend(f for f in frames.feed(piece) if f[1])  # the client skips empty data
    return out


def cut(text: str, points: list[int]) -> list[str]:
    bounds = sorted({0, len(text), *(p % (len(text) + 1) for p in points)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


FIELD = st.sampled_from(["data", "event", "id", "retry", ":", "data:", "event:", "", "dat"])
VALUE = st.text(alphabet=st.sampled_from(list('ab {}":é😀\u2028')), max_size=8)
EOL = st.sampled_from(["\n", "\r\n", "\r"])
LINE = st.builds(
    lambda f, v, e: f"{f}: {v}{e}" if f not in ("", ":") else f"{f}{v}{e}", FIELD, VALUE, EOL
)
STREAM = st.lists(st.one_of(LINE, EOL), max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(STREAM, st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_same_frames_as_httpx_sse_however_the_stream_is_cut(text: str, points: list[int]) -> None:
    assert ours(cut(text, points)) == reference([text])


def test_the_responses_stream_shape() -> None:
    stream = (
        'event: response.output_text.delta\ndata: {"delta":"a"}\n\n'
        ": keep-alive\n\n"
        'data: {"x":1}\r\ndata: {"y":2}\r\n\r\n'
        "event: done\ndata: [DONE]\n\n"
        "data: cut off"
    )
    want = [
        ("response.output_text.delta", '{"delta":"a"}'),
        ("message", '{"x":1}\n{"y":2}'),
        ("done", "[DONE]"),
    ]
    assert ours([stream]) == want
    assert ours(list(stream)) == want  # a character at a time, CRLF split too
