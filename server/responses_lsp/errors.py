"""The one error hierarchy of responses-lsp, and the words the user sees for each error.

    ResponsesLspError
    ├── ConfigurationError               settings the server cannot work with
    │   ├── MissingApiKey                no key in settings or the environment
    │   ├── InvalidApiKey                a key that cannot be sent in an HTTP header
    │   └── InvalidBaseUrl               a base URL without http(s):// (never a default host)
    ├── ApiError                         anything that went wrong talking to the endpoint
    │   ├── ApiStatusError               the endpoint answered with an HTTP error status
    │   │   ├── BadRequestError          400, 409, 422 (never retried)
    │   │   ├── AuthenticationError      401, or a 400/403 that speaks of the key (never retried)
    │   │   ├── PermissionDeniedError    403 (never retried)
    │   │   ├── NotFoundError            404 / 405 (never retried: the base URL is wrong)
    │   │   ├── RateLimitError           429 (retried, honouring Retry-After)
    │   │   │   └── InsufficientQuota    429 insufficient_quota (never retried)
    │   │   └── ServerError              5xx (retried)
    │   ├── ApiConnectionError           connect/read failures (retried)
    │   │   └── ApiTimeoutError          the endpoint did not answer in time (retried)
    │   ├── ContextLengthExceeded        the request does not fit the model's window
    │   └── StreamError                  the SSE stream broke after it started
    │       ├── UnexpectedContentType    200 but not text/event-stream (never retried)
    │       ├── StreamClosedEarly        EOF before response.completed (retried)
    │       ├── StreamIdleTimeout        no event within the idle timeout (retried)
    │       ├── StreamCorrupted          a frame that is not JSON, or bytes that are not UTF-8
    │       ├── ResponseIncomplete       response.incomplete (retried only for unknown reasons)
    │       └── ResponseFailed           response.failed or an `error` event (by code)
    ├── EditConflict                     the user edited the text being rewritten
    └── JobFailed                        a job's own reason to stop (a tool, the step limit)

Every error carries `user_message()`: the sentence shown through window/showMessage,
following the table in DESIGN.md §8, in the gateway's own words where it gave some (its
message is quoted, its status said once). `attempts` is set by the client when it gives up:
"retried" is only said when a retry happened. Messages and reprs never contain the API key:
everything passes through `redaction.redact`.
"""

from __future__ import annotations

import re

from responses_lsp.redaction import redact

BASE_URL_HINT = (
    "the base URL must be the host only (e.g. https://api.example.com); we call /v1/responses"
)
KEY_HINT = (
    "set OPENAI_API_KEY (or the variable named in responsesLsp.apiKeyEnv) or responsesLsp.apiKey"
)


class ResponsesLspError(Exception):
    """Base of every error raised on purpose by responses-lsp."""

    retryable: bool = False
    attempts: int = 1
    """How many requests were sent before giving up (set by the client)."""

    def gave_up(self) -> str:
        """ "; retried N times, then gave up" — only when a retry happened."""
        retries = self.attempts - 1
        if retries <= 0:
            return ""
        return f"; retried {retries} time{'s' if retries > 1 else ''}, then gave up"

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def user_message(self) -> str:
        """The sentence for the user (window/showMessage)."""
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(ResponsesLspError):
    """The settings do not allow the server to do its work."""


class MissingApiKey(ConfigurationError):
    def __init__(self, env_name: str = "OPENAI_API_KEY") -> None:
        self.env_name = env_name
        super().__init__(f"No API key: set {env_name} or responsesLsp.apiKey")

    def user_message(self) -> str:
        return f"responses-lsp: the API key is missing; set {self.env_name} or responsesLsp.apiKey."


class InvalidApiKey(ConfigurationError):
    """A key that cannot travel in an HTTP header (non-ASCII: a copy-paste artefact)."""

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(f"the API key from {where} contains characters that are not ASCII")

    def user_message(self) -> str:
        return (
            f"responses-lsp: the API key from {self.where} contains characters that are not "
            "ASCII (a stray quote or space from copy-paste?); set it again."
        )


class InvalidBaseUrl(ConfigurationError):
    """A base URL that is not http(s)://host[/prefix]: every request fails, none goes elsewhere."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"invalid base URL {url!r}: {reason}")

    def user_message(self) -> str:
        return (
            f"responses-lsp: the base URL {self.url!r} is not valid ({self.reason}); set "
            "responsesLsp.baseUrl or OPENAI_BASE_URL to e.g. https://api.openai.com."
        )


class ApiError(ResponsesLspError):
    """Something went wrong while talking to the Responses endpoint."""


class ApiStatusError(ApiError):
    """The endpoint answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        url: str | None = None,
        model: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.error_type = error_type
        self.request_id = request_id
        self.url = url
        self.model = model
        self.retry_after = retry_after
        super().__init__(message)

    def detail(self) -> str:
        """`HTTP 400 (no_db_connection): No connected db.` — the status once, the gateway's
        code only when it adds something (LiteLLM repeats the status as `code`)."""
        extra = [
            c
            for c in dict.fromkeys((self.code, self.error_type))
            if c and c != str(self.status_code) and c not in self.message
        ]
        label = f" ({', '.join(extra)})" if extra else ""
        text = self.message.strip()
        return f"HTTP {self.status_code}{label}: {text}" if text else f"HTTP {self.status_code}"

    def user_message(self) -> str:
        return f"responses-lsp: the endpoint answered {self.detail()}"


class BadRequestError(ApiStatusError):
    def user_message(self) -> str:
        return f"responses-lsp: the endpoint rejected the request ({self.detail()})."


class AuthenticationError(ApiStatusError):
    """The key was rejected: 401, or a 400/403 whose envelope speaks of the key (gateways)."""

    def reason(self) -> str:
        why = ""
        if _NO_KEY_DB.search(f"{self.code} {self.error_type} {self.message}"):
            why = (
                " — a LiteLLM proxy says this when the key is not its master key and it has "
                "no key database"
            )
        return f"the endpoint rejected the API key ({self.detail()}{why})"

    def user_message(self) -> str:
        return f"responses-lsp: {self.reason()}; {KEY_HINT}."


class PermissionDeniedError(ApiStatusError):
    def user_message(self) -> str:
        model = f" '{self.model}'" if self.model else ""
        return (
            f"responses-lsp: the API key has no access to model{model} ({self.detail()}); "
            "check the key's group or permissions, or choose another responsesLsp.model."
        )


class NotFoundError(ApiStatusError):
    def user_message(self) -> str:
        where = f" ({self.url})" if self.url else ""
        return (
            f"responses-lsp: endpoint not found{where} (HTTP {self.status_code}): {BASE_URL_HINT}."
        )


class RateLimitError(ApiStatusError):
    retryable = True

    def user_message(self) -> str:
        return f"responses-lsp: rate limited ({self.detail()}){self.gave_up()}; try again later."


class InsufficientQuota(RateLimitError):
    retryable = False

    def user_message(self) -> str:
        return QUOTA_SENTENCE


class ServerError(ApiStatusError):
    retryable = True

    def user_message(self) -> str:
        return f"responses-lsp: upstream error ({self.detail()}){self.gave_up()}."


class ApiConnectionError(ApiError):
    retryable = True

    def user_message(self) -> str:
        return f"responses-lsp: could not reach the endpoint ({self.message}){self.gave_up()}."


class ApiTimeoutError(ApiConnectionError):
    def user_message(self) -> str:
        return f"responses-lsp: no answer in time ({self.message}){self.gave_up()}."


class ContextLengthExceeded(ApiError):
    """The request does not fit the model's context window (400 or response.failed)."""

    def user_message(self) -> str:
        return "responses-lsp: the request is too long for the model's context window."


class StreamError(ApiError):
    """The event stream broke after the request was accepted."""

    retryable = True

    def user_message(self) -> str:
        return f"responses-lsp: upstream error ({self.message}){self.gave_up()}."


class UnexpectedContentType(StreamError):
    retryable = False

    def user_message(self) -> str:
        return (
            "responses-lsp: the endpoint did not answer with an event stream "
            f"({self.message}); {BASE_URL_HINT}."
        )


class StreamClosedEarly(StreamError):
    def __init__(self, message: str = "stream closed before response.completed") -> None:
        super().__init__(message)


class StreamIdleTimeout(StreamError):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"no event for {seconds:g} s (idle timeout)")


class StreamCorrupted(StreamError):
    """A frame that cannot be parsed, or bytes that are not UTF-8: never applied with a hole."""

    def user_message(self) -> str:
        return f"responses-lsp: the event stream was corrupted ({self.message}){self.gave_up()}."


class ResponseIncomplete(StreamError):
    """`response.incomplete`: retried only when another attempt can end differently."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason
        super().__init__(f"incomplete response returned, reason: {reason or 'unknown'}")
        # the same request hits the same output limit / filter again
        self.retryable = reason not in ("max_output_tokens", "content_filter")

    def user_message(self) -> str:
        if self.reason == "max_output_tokens":
            return (
                "responses-lsp: the model stopped at its output limit (max_output_tokens) "
                "before the answer was complete; select less code."
            )
        if self.reason == "content_filter":
            return "responses-lsp: the endpoint's content filter stopped the answer."
        return super().user_message()


class ResponseFailed(StreamError):
    """`response.failed` or an `error` event; `code` decides whether to retry."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        retry_after: float | None = None,
        error_type: str | None = None,
    ) -> None:
        self.code = code
        self.error_type = error_type
        self.retry_after = retry_after
        self.detail_text = message.strip()
        label = code or error_type or "error"
        super().__init__(f"{label}: {self.detail_text}" if self.detail_text else label)
        # Rate limits and server errors are worth another attempt; invalid prompts are not.
        self.retryable = (code if code is not None else error_type) in _TRANSIENT_CODES

    def user_message(self) -> str:
        kinds = {self.code, self.error_type}
        if "insufficient_quota" in kinds:
            return QUOTA_SENTENCE
        if kinds & {"invalid_api_key", "authentication_error", "no_db_connection"}:
            return f"responses-lsp: the endpoint rejected the API key ({self.message}); {KEY_HINT}."
        if "rate_limit_exceeded" in kinds:
            return f"responses-lsp: rate limited ({self.message}){self.gave_up()}; try again later."
        return super().user_message()


class EditConflict(ResponsesLspError):
    def __init__(self) -> None:
        super().__init__("stopped: you edited the text being rewritten")

    def user_message(self) -> str:
        return "responses-lsp: stopped: you edited the text being rewritten; your text is kept."


class JobFailed(ResponsesLspError):
    """A job's own reason to stop (a tool failed, too many steps), with its error kind."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


QUOTA_SENTENCE = (
    "responses-lsp: the API key's account has no quota left (insufficient_quota); "
    "add credit or use another key."
)
_TRANSIENT_CODES = (
    None,
    "server_error",
    "api_error",
    "internal_error",
    "overloaded_error",
    "rate_limit_exceeded",
    "server_is_overloaded",
)
_NO_KEY_DB = re.compile(r"no_db_connection|no connected db", re.IGNORECASE)
_KEY_WORDS = re.compile(
    r"api[ _-]?key|virtual key|master key"
    r"|\bkey\b[^.]*\b(invalid|missing|expired|not valid|not found)"
    r"|\b(invalid|missing|expired|bad|wrong|unknown)\b[^.]*\bkey\b|authenticat|unauthori[sz]ed|authori[sz]ation"
    r"|credential|bearer|no_db_connection|no connected db|invalid_api_key",
    re.IGNORECASE,
)


def is_key_problem(
    status_code: int, message: str, code: str | None = None, error_type: str | None = None
) -> bool:
    """Whether an HTTP error is about the key, however the gateway phrases it: 401, or a
    400/403 whose type, code or message speaks of keys, auth or a missing key database."""
    if status_code == 401:
        return True
    if status_code not in (400, 403):
        return False
    return bool(_KEY_WORDS.search(" ".join(p for p in (code, error_type, message) if p)))


def status_error(
    status_code: int,
    message: str,
    *,
    code: str | None = None,
    error_type: str | None = None,
    request_id: str | None = None,
    url: str | None = None,
    model: str | None = None,
    retry_after: float | None = None,
) -> ApiError:
    """Map an HTTP error status (and the error envelope's code) to its error class."""
    if code == "context_length_exceeded":
        return ContextLengthExceeded(message)
    kwargs = dict(
        status_code=status_code,
        code=code,
        error_type=error_type,
        request_id=request_id,
        url=url,
        model=model,
        retry_after=retry_after,
    )
    cls: type[ApiStatusError]
    if is_key_problem(status_code, message, code, error_type):
        cls = AuthenticationError
    elif status_code == 403:
        cls = PermissionDeniedError
    elif status_code in (404, 405):
        cls = NotFoundError
    elif status_code == 429:
        quota = "insufficient_quota" in (code, error_type)
        cls = InsufficientQuota if quota else RateLimitError
    elif status_code >= 500:
        cls = ServerError
    elif status_code == 408:
        return ApiTimeoutError(f"HTTP 408: {message}")
    else:
        cls = BadRequestError
    return cls(message, **kwargs)  # type: ignore[arg-type]


def error_kind(error: BaseException) -> str:
    """How a job result names the error that ended it: config, api, internal, or a job's own."""
    if isinstance(error, JobFailed):
        return error.kind
    if isinstance(error, ConfigurationError):
        return "config"
    if isinstance(error, ApiError):
        return "api"
    return "internal"
