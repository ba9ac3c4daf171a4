"""The Responses API client: one pooled httpx client, SSE streaming, compaction, retries.

`ResponsesClient.stream()` yields parsed events; when an attempt fails with a retryable
error it yields a `RetryScheduled` notice (so the edit engine can reset its region and the
progress can say "retrying in N s"), sleeps, and streams the request again from scratch.
Status and content type are checked before any event is read (an SSE reader would otherwise
hide HTTP errors). A stall longer than the idle timeout and an EOF before
`response.completed` are errors, and so are a frame that is not JSON and bytes that are not
UTF-8 (the attempt fails and is retried: never a rewrite with a hole in it). Every attempt's
events pass through `StreamAssembler`, which gives one shape to what gateways send
differently. Cancelling the consuming task closes the connection at once (the response is
closed in `finally`). The API key lives only in the request header (`Authorization: Bearer`,
or the header named by `apiKeyHeader`). Proxies and CA bundles come from the standard
environment variables (`HTTPS_PROXY`, `NO_PROXY`, `SSL_CERT_FILE`, `SSL_CERT_DIR`; httpx's
`trust_env`).

Base URL: `http(s)://host[/prefix]`. When it ends in `/v1`, that is the API root; otherwise
`/v1` is appended (`https://gw/openai/v1` -> `https://gw/openai/v1/responses`,
`http://llama:8321/v1/openai` -> `http://llama:8321/v1/openai/v1/responses`). Anything else
(no scheme, no host) is an `InvalidBaseUrl` on every request: never a default host.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import ValidationError

from responses_lsp import __version__
from responses_lsp.api import retry
from responses_lsp.api.assembly import StreamAssembler
from responses_lsp.api.events import (
    ClientEvent,
    CompactedResponse,
    ErrorEvent,
    ParsedEvent,
    Response,
    ResponseCompleted,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    RetryScheduled,
    parse_event,
)
from responses_lsp.api.pacing import ReadPace, make_paceable, paced_stream
from responses_lsp.api.requests import CompactRequest, ResponseRequest
from responses_lsp.api.sse import SSEFrames
from responses_lsp.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    ContextLengthExceeded,
    InvalidApiKey,
    MissingApiKey,
    ResponseFailed,
    ResponseIncomplete,
    StreamClosedEarly,
    StreamCorrupted,
    StreamIdleTimeout,
    UnexpectedContentType,
    status_error,
)
from responses_lsp.redaction import register_secret
from responses_lsp.settings import check_base_url

if TYPE_CHECKING:
    from responses_lsp.settings import ResolvedSettings

__all__ = [
    "ClientConfig",
    "ResponsesClient",
    "RetryScheduled",
    "api_root",
    "check_base_url",
    "endpoint",
]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
WRITE_TIMEOUT = 30.0
DRAIN_TIMEOUT = 0.5
"""Seconds to wait for the end of the body after `response.completed` (for connection reuse)."""
_KNOWN_SUFFIXES = ("/v1/responses/compact", "/v1/responses", "/v1/chat/completions", "/v1")


def api_root(base_url: str) -> str:
    """`https://host`, `https://host/` and `https://host/v1` all become `https://host/v1`;
    a path prefix is kept (`https://gw/api/v1`, `http://llama/v1/openai` -> `…/v1/openai/v1`)."""
    url = check_base_url(base_url).rstrip("/")
    for suffix in _KNOWN_SUFFIXES:
        if url.endswith(suffix):
            url = url[: -len(suffix)]
            break
    return url.rstrip("/") + "/v1"


def endpoint(base_url: str, path: str) -> str:
    """The full URL of `path` ("responses", "responses/compact", "models")."""
    return f"{api_root(base_url)}/{path.lstrip('/')}"


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None = field(repr=False)
    model: str
    request_timeout: float = 60.0
    stream_idle_timeout: float = 120.0
    max_retries: int = 3
    extra_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Sent with every request (gateways that route or authenticate by header)."""
    key_header: str = "Authorization"
    """`Authorization` carries `Bearer <key>`; any other header carries the bare key."""
    key_source: str = "settings"
    apply_patch_form: str = "auto"

    def __post_init__(self) -> None:
        register_secret(self.api_key)
        for _, value in self.extra_headers:
            register_secret(value)  # header values are often credentials too

    @classmethod
    def from_settings(cls, resolved: ResolvedSettings) -> ClientConfig:
        settings = resolved.settings
        return cls(
            base_url=settings.base_url,
            api_key=resolved.api_key,
            model=settings.model,
            request_timeout=settings.request_timeout,
            stream_idle_timeout=settings.stream_idle_timeout,
            max_retries=settings.max_retries,
            extra_headers=tuple(sorted(settings.extra_headers.items())),
            key_header=settings.api_key_header,
            key_source=resolved.key_source,
            apply_patch_form=settings.apply_patch_form,
        )


Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


class ResponsesClient:
    """One per server: connection reuse, retries, streaming, compaction."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._transport = transport
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http_client: httpx.AsyncClient | None = None

    # ------------------------------------------------------------------ plumbing

    def _http(self) -> httpx.AsyncClient:
        if self._http_client is None:
            self._http_client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(
                    connect=CONNECT_TIMEOUT,
                    read=max(self.config.request_timeout, self.config.stream_idle_timeout) + 5.0,
                    write=WRITE_TIMEOUT,
                    pool=CONNECT_TIMEOUT,
                ),
                follow_redirects=False,
            )
            if self._transport is None:
                make_paceable(self._http_client)
        return self._http_client

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.aclose()
            self._http_client = None

    def _headers(self, *, stream: bool) -> dict[str, str]:
        config = self.config
        if not config.api_key:
            raise MissingApiKey()
        if not config.api_key.isascii():
            raise InvalidApiKey(config.key_source)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"responses-lsp/{__version__}",
        }
        for name, value in config.extra_headers:
            headers[name] = value
        if config.key_header.lower() == "authorization":
            headers["Authorization"] = f"Bearer {config.api_key}"
        else:
            headers[config.key_header] = config.api_key
        headers["Accept"] = "text/event-stream" if stream else "application/json"
        return headers

    def _error_from_response(self, response: httpx.Response, body: bytes) -> ApiError:
        message = body.decode("utf-8", "replace").strip()[:500] or response.reason_phrase
        code = error_type = None
        try:
            envelope = json.loads(body)
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and isinstance(envelope.get("error"), dict):
            err = envelope["error"]
            message = str(err.get("message") or message)
            code = err.get("code") if isinstance(err.get("code"), str) else None
            error_type = err.get("type") if isinstance(err.get("type"), str) else None
        hint = retry.parse_retry_after(response.headers)
        if hint is None and response.status_code == 429:
            hint = retry.parse_try_again_hint(message)
        error = status_error(
            response.status_code,
            message,
            code=code,
            error_type=error_type,
            request_id=response.headers.get("x-request-id"),
            url=str(response.request.url),
            model=self.config.model,
            retry_after=hint,
        )
        override = retry.should_retry_header(response.headers)
        if override is not None:
            error.retryable = override
        return error

    async def _send(
        self, method: str, url: str, body: dict[str, Any] | None, *, stream: bool
    ) -> httpx.Response:
        """Send one request and wait for the response headers (bounded by requestTimeout)."""
        headers = self._headers(stream=stream)  # key problems first: nothing is sent
        client = self._http()
        # While streaming, httpx's own per-read timeout is the idle timeout: a stall raises
        # ReadTimeout (-> StreamIdleTimeout) with no extra timer per event.
        read = self.config.stream_idle_timeout if stream else self.config.request_timeout + 5.0
        timeout = httpx.Timeout(
            connect=CONNECT_TIMEOUT, read=read, write=WRITE_TIMEOUT, pool=CONNECT_TIMEOUT
        )
        request = client.build_request(method, url, json=body, headers=headers, timeout=timeout)
        try:
            async with asyncio.timeout(self.config.request_timeout):
                response = await client.send(request, stream=True)
        except TimeoutError as exc:
            raise ApiTimeoutError(f"no answer within {self.config.request_timeout:g} s") from exc
        except httpx.TimeoutException as exc:
            raise ApiTimeoutError(f"{type(exc).__name__} talking to {url}") from exc
        except httpx.HTTPError as exc:
            raise ApiConnectionError(f"{type(exc).__name__} talking to {url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                async with asyncio.timeout(self.config.request_timeout):
                    payload = await response.aread()
            except (TimeoutError, httpx.HTTPError):
                payload = b""
            finally:
                await response.aclose()
            raise self._error_from_response(response, payload)
        return response

    # ------------------------------------------------------------------ streaming

    async def stream_once(
        self,
        request: ResponseRequest,
        assembler: StreamAssembler | None = None,
        pace: ReadPace | None = None,
    ) -> AsyncGenerator[ClientEvent, None]:
        """One attempt: yield events until `response.completed`; raise on any failure.

        With a `pace`, the body is read at the consumer's pace (see `api.pacing`)."""
        body = request.model_copy(update={"stream": True}).body()
        url = endpoint(self.config.base_url, "responses")
        assembler = assembler or StreamAssembler()
        response = await self._send("POST", url, body, stream=True)
        paced = paced_stream(response) if pace is not None else None
        try:
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                raise UnexpectedContentType(
                    f"HTTP {response.status_code} with content type {content_type!r}"
                )
            if paced is not None:
                paced.pace = pace
            events = _sse_events(response, None if paced is not None else pace)
            while True:
                try:
                    event_name, data = await anext(events)
                except StopAsyncIteration:
                    break
                except httpx.TimeoutException as exc:
                    raise StreamIdleTimeout(self.config.stream_idle_timeout) from exc
                except httpx.HTTPError as exc:
                    raise StreamClosedEarly(f"stream broke: {type(exc).__name__}") from exc
                if data == "[DONE]":
                    break
                if not data:
                    continue
                event = _parse_frame(event_name, data)
                if event is None:
                    continue
                if isinstance(event, ResponseFailedEvent):
                    raise _failed(event.response)
                if isinstance(event, ErrorEvent):
                    raise _failure(event.error_code, event.error_message, event.error_type)
                if isinstance(event, ResponseIncompleteEvent):
                    details = event.response.incomplete_details
                    raise ResponseIncomplete(details.reason if details else None)
                for out in assembler.feed(event):
                    yield out
                if isinstance(event, ResponseCompleted):
                    if paced is not None:
                        paced.pace = None  # the rest of the body at once
                    await _drain(events)
                    return
            raise StreamClosedEarly()
        finally:
            if paced is not None:
                paced.pace = None
            await response.aclose()

    async def stream(
        self, request: ResponseRequest, pace: ReadPace | None = None
    ) -> AsyncGenerator[ClientEvent, None]:
        """Stream with retries: events, and a `RetryScheduled` before each new attempt.

        `pace` is asked before each read of the body (`api.pacing`): the consumer batches what
        was read and says when to read again. Use as
        `async with contextlib.aclosing(client.stream(req)) as events:` so that leaving the
        loop early closes the connection at once.
        """

        def attempt(number: int, attempts: int) -> AsyncGenerator[ClientEvent, None]:
            assembler = StreamAssembler(attempt=number, max_attempts=attempts)
            return self.stream_once(request, assembler, pace)

        async with contextlib.aclosing(self._retrying("responses", attempt)) as events:
            async for event in events:
                yield event

    async def _retrying(
        self,
        what: str,
        attempt: Callable[[int, int], AsyncGenerator[T, None]],
        *,
        retries: bool = True,
    ) -> AsyncGenerator[T | RetryScheduled, None]:
        """The one retry loop: run `attempt(number, attempts)` until one completes.

        What an attempt yields is passed on; when it fails with an `ApiError` that
        `retry.retry_delay` says to retry, a `RetryScheduled` is yielded, the delay slept, and
        the next attempt starts from scratch. The last failure is raised with its `attempts`."""
        attempts = retry.max_attempts(self.config.max_retries) if retries else 1
        for number in range(1, attempts + 1):
            try:
                # aclosing: leaving early (break, aclose) closes this attempt's connection now,
                # not whenever the abandoned generator is garbage-collected
                async with contextlib.aclosing(attempt(number, attempts)) as results:
                    async for result in results:
                        yield result
                return
            except ApiError as error:
                error.attempts = number
                delay = retry.retry_delay(error, number, self._rng) if number < attempts else None
                if delay is None:
                    raise
                log.info(
                    "%s attempt %d/%d failed (%s); retrying in %.2f s",
                    what,
                    number,
                    attempts,
                    error,
                    delay,
                )
                yield RetryScheduled(
                    attempt=number, max_attempts=attempts, delay=delay, error=error
                )
                await self._sleep(delay)

    # ------------------------------------------------------------------ JSON calls

    async def _json_once(
        self, method: str, url: str, body: dict[str, Any] | None
    ) -> AsyncGenerator[object, None]:
        """One attempt of a JSON call: its decoded answer (one item), or an `ApiError`."""
        response = await self._send(method, url, body, stream=False)
        try:
            async with asyncio.timeout(self.config.request_timeout):
                payload = await response.aread()
        except TimeoutError as exc:
            raise ApiTimeoutError(f"no answer within {self.config.request_timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise ApiConnectionError(f"{type(exc).__name__} reading {url}") from exc
        finally:
            await response.aclose()
        try:
            decoded: object = json.loads(payload)
        except ValueError as exc:
            raise UnexpectedContentType(f"{url} did not answer with JSON") from exc
        yield decoded

    async def _json_call(
        self, method: str, path: str, body: dict[str, Any] | None, *, retries: bool = True
    ) -> object:
        url = endpoint(self.config.base_url, path)

        def attempt(_number: int, _attempts: int) -> AsyncGenerator[object, None]:
            return self._json_once(method, url, body)

        async with contextlib.aclosing(self._retrying(path, attempt, retries=retries)) as results:
            async for result in results:
                if not isinstance(result, RetryScheduled):
                    return result
        raise AssertionError("unreachable: an attempt either answers or raises")  # pragma: no cover

    async def create(self, request: ResponseRequest, *, retries: bool = True) -> Response:
        """Non-streaming `POST /v1/responses`."""
        body = request.model_copy(update={"stream": False}).body()
        data = await self._json_call("POST", "responses", body, retries=retries)
        try:
            result = Response.model_validate(data)
        except ValidationError as exc:
            raise UnexpectedContentType("the answer is not a response object") from exc
        if result.error is not None and result.status == "failed":
            raise _failed(result)
        return result

    async def compact(self, request: CompactRequest, *, retries: bool = True) -> CompactedResponse:
        """`POST /v1/responses/compact`: the history replaced by its compacted form."""
        data = await self._json_call("POST", "responses/compact", request.body(), retries=retries)
        try:
            return CompactedResponse.model_validate(data)
        except ValidationError as exc:
            raise UnexpectedContentType("the answer is not a compaction result") from exc

    async def list_models(self) -> list[str]:
        """`GET /v1/models`: the model ids the key can use."""
        data = await self._json_call("GET", "models", None)
        items = data.get("data", []) if isinstance(data, dict) else []
        return [str(item.get("id")) for item in items if isinstance(item, dict)]


async def _sse_events(
    response: httpx.Response, pace: ReadPace | None = None
) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) of each SSE frame, decoding UTF-8 strictly: bytes that are not
    UTF-8 raise `StreamCorrupted` (a lenient decoder would put U+FFFD in the code).

    `pace` (an unpaced connection's): told after each chunk's frames that they were handed on."""
    text = codecs.getincrementaldecoder("utf-8")("strict")
    frames = SSEFrames()
    async for chunk in response.aiter_bytes():
        try:
            decoded = text.decode(chunk)
        except UnicodeDecodeError as exc:
            raise StreamCorrupted(f"bytes that are not UTF-8 at offset {exc.start}") from None
        for frame in frames.feed(decoded):
            yield frame
        if pace is not None:
            pace.before_read()  # this chunk's frames were handed on
    try:
        rest = text.decode(b"", final=True)
    except UnicodeDecodeError:
        raise StreamCorrupted("the stream ended inside a UTF-8 character") from None
    for frame in frames.feed(rest):
        yield frame


_TEXT_EVENTS = frozenset(
    {
        "response.output_text.delta",
        "response.output_text.done",
        "response.output_item.done",
        "response.completed",
        "response.failed",
        "error",
    }
)


def _parse_frame(event_name: str, data: str) -> ParsedEvent | None:
    """The event of one frame; None for an unknown-but-harmless frame that does not parse.

    A frame that is not JSON fails the attempt (it may have held text: never apply a
    rewrite with a hole); so does a malformed text-carrying event. Other malformed events
    (progress, annotations) are logged and skipped."""
    try:
        return parse_event(data)  # one pass in pydantic-core (~2 us for a delta)
    except ValidationError as exc:
        error = exc
    if any(e.get("type") == "json_invalid" for e in error.errors()):
        raise StreamCorrupted(f"a frame that is not JSON: {data[:80]!r}") from None
    try:
        payload = json.loads(data)
    except ValueError:
        raise StreamCorrupted(f"a frame that is not JSON: {data[:80]!r}") from None
    if not isinstance(payload, dict):
        raise StreamCorrupted(f"a frame that is not a JSON object: {data[:80]!r}")
    kind = payload.get("type") or event_name
    if kind in _TEXT_EVENTS:
        raise StreamCorrupted(f"a malformed {kind} event") from error
    log.warning("skipping a malformed %s event (%s)", kind, error.error_count())
    return None


async def _drain(events: AsyncIterator[tuple[str, str]]) -> None:
    """Read the rest of a finished stream (normally just the end of the chunked body), so that
    closing the response returns the connection to the pool instead of dropping it."""
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            async for _ in events:
                pass
    except (TimeoutError, httpx.HTTPError):
        pass


def _failure(code: str | None, message: str, error_type: str | None = None) -> ApiError:
    if "context_length_exceeded" in (code, error_type):
        return ContextLengthExceeded(message)
    limited = "rate_limit_exceeded" in (code, error_type)
    hint = retry.parse_try_again_hint(message) if limited else None
    return ResponseFailed(message, code=code, retry_after=hint, error_type=error_type)


def _failed(response: Response) -> ApiError:
    error = response.error
    if error is None:
        return _failure(None, "response failed")
    return _failure(error.code, error.message, error.type)
