"""The one error hierarchy of responses-lsp, and the words the user sees for each error.

    ResponsesLspError
    ├── ConfigurationError               settings the server cannot work with
    │   └── MissingApiKey                no key in settings or the environment
    ├── ApiError                         anything that went wrong talking to the endpoint
    │   ├── ApiStatusError               the endpoint answered with an HTTP error status
    │   │   ├── BadRequestError          400, 409, 422 (never retried)
    │   │   ├── AuthenticationError      401 (never retried)
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
    │       ├── ResponseIncomplete       response.incomplete (retried)
    │       └── ResponseFailed           response.failed or an `error` event (by code)
    └── EditConflict                     the user edited the text being rewritten

Every error carries `user_message()`: the sentence shown through window/showMessage,
following the table in DESIGN.md §8. Messages and reprs never contain the API key:
everything passes through `redaction.redact`.
"""

from __future__ import annotations

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
        code = f", {self.code}" if self.code else ""
        return f"HTTP {self.status_code}{code}: {self.message}"

    def user_message(self) -> str:
        return f"responses-lsp: the endpoint answered {self.detail()}"


class BadRequestError(ApiStatusError):
    def user_message(self) -> str:
        return f"responses-lsp: the endpoint rejected the request ({self.detail()})."


class AuthenticationError(ApiStatusError):
    def user_message(self) -> str:
        return f"responses-lsp: the API key is missing or was rejected (401); {KEY_HINT}."


class PermissionDeniedError(ApiStatusError):
    def user_message(self) -> str:
        model = f" '{self.model}'" if self.model else ""
        return (
            f"responses-lsp: the API key has no access to model{model} (403); "
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
        return (
            "responses-lsp: rate limited (429) and still limited after retrying; try again later."
        )


class InsufficientQuota(RateLimitError):
    retryable = False

    def user_message(self) -> str:
        return "responses-lsp: the API key's account has no quota left (429 insufficient_quota)."


class ServerError(ApiStatusError):
    retryable = True

    def user_message(self) -> str:
        return f"responses-lsp: upstream error ({self.detail()}); retried, then gave up."


class ApiConnectionError(ApiError):
    retryable = True

    def user_message(self) -> str:
        return (
            f"responses-lsp: could not reach the endpoint ({self.message}); retried, then gave up."
        )


class ApiTimeoutError(ApiConnectionError):
    def user_message(self) -> str:
        return f"responses-lsp: no answer in time ({self.message}); retried, then gave up."


class ContextLengthExceeded(ApiError):
    """The request does not fit the model's context window (400 or response.failed)."""

    def user_message(self) -> str:
        return "responses-lsp: the request is too long for the model's context window."


class StreamError(ApiError):
    """The event stream broke after the request was accepted."""

    retryable = True

    def user_message(self) -> str:
        return f"responses-lsp: upstream error ({self.message}); retried, then gave up."


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


class ResponseIncomplete(StreamError):
    def __init__(self, reason: str | None) -> None:
        self.reason = reason
        super().__init__(f"incomplete response returned, reason: {reason or 'unknown'}")


class ResponseFailed(StreamError):
    """`response.failed` or an `error` event; `code` decides whether to retry."""

    def __init__(self, message: str, *, code: str | None, retry_after: float | None = None) -> None:
        self.code = code
        self.retry_after = retry_after
        super().__init__(f"{code or 'error'}: {message}")
        # Rate limits and server errors are worth another attempt; invalid prompts are not.
        self.retryable = code in (
            None,
            "server_error",
            "rate_limit_exceeded",
            "server_is_overloaded",
        )


class EditConflict(ResponsesLspError):
    def __init__(self) -> None:
        super().__init__("stopped: you edited the text being rewritten")

    def user_message(self) -> str:
        return "responses-lsp: stopped: you edited the text being rewritten; your text is kept."


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
    if status_code == 401:
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
    """How a job result names the error that ended it: config, api or internal."""
    if isinstance(error, ConfigurationError):
        return "config"
    if isinstance(error, ApiError):
        return "api"
    return "internal"
