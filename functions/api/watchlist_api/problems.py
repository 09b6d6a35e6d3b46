"""RFC 9457 problem responses, and the one place where every exception becomes one."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pynamodb.exceptions import PynamoDBException
from starlette.exceptions import HTTPException
from starlette.routing import Match

from watchlist_api.rate_limit_headers import attach_rate_limit
from watchlist_api.strict_json import DuplicateKeyError
from watchlist_core.errors import (
    AuthenticationError,
    ConflictError,
    DependencyUnavailableError,
    DomainError,
    InvalidInputError,
    InvalidTokenError,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitedError,
    RequestInProgressError,
    UpstreamError,
    UpstreamTimeoutError,
    WrongPasswordError,
)
from watchlist_core.observability import logger

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:watchlist:problem:"
# DynamoDB answers that mean "not now": the client may retry after a pause.
_RETRYABLE_AWS_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflict",
    "TransactionCanceledException",
}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_DOMAIN_STATUS: dict[type[DomainError], tuple[int, str]] = {
    AuthenticationError: (401, "unauthenticated"),
    PermissionDeniedError: (403, "forbidden"),
    NotFoundError: (404, "not-found"),
    ConflictError: (409, "conflict"),
    PreconditionFailedError: (412, "precondition-failed"),
    WrongPasswordError: (400, "wrong-password"),
    InvalidTokenError: (400, "invalid-token"),
    RateLimitedError: (429, "rate-limited"),
    InvalidInputError: (422, "validation-error"),
    DependencyUnavailableError: (503, "dependency-unavailable"),
    UpstreamError: (502, "bad-upstream-answer"),
    UpstreamTimeoutError: (504, "upstream-timeout"),
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


class OAuth2TokenError(Exception):
    """A refusal of the OAuth2 token endpoint: RFC 6749 (5.2)'s 400 with `error` (`invalid_request`,
    `invalid_grant`, `unsupported_grant_type`), which OAuth2 clients read, beside the problem's fields."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class RepeatedFieldError(Exception):
    """A form field sent more than once: no one value to read (400)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


# What a Lambda function's answer can hold: 6 MB (6 MiB) of JSON, the status and headers beside the body, which is a
# JSON string in it (each `"` and `\` escaped: python3.13's runtime leaves other characters as they are). Larger,
# the invocation fails and the gateway answers a bare 502.
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
HEADERS_ALLOWANCE = 16 * 1024


class AnswerTooLargeError(Exception):
    """An answer larger than the function can return (507): a problem the client can read, not the gateway's 502."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def size_in_lambda_answer(body: bytes) -> int:
    """The bytes a JSON body takes in the function's answer, as the runtime writes it there: a string, quoted."""
    return len(body) + body.count(b'"') + body.count(b"\\") + 2


def deliverable(body: bytes) -> bytes:
    """`body`, when a Lambda answer can carry it; else AnswerTooLargeError."""
    size = size_in_lambda_answer(body)
    if size + HEADERS_ALLOWANCE > LAMBDA_RESPONSE_LIMIT:
        raise AnswerTooLargeError(size)
    return body


def problem(
    status: int,
    *,
    instance: str,
    request_id: str,
    detail: str | None = None,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    title = HTTPStatus(status).phrase
    body = {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": instance,
        "request_id": request_id,
        **extra,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


def _problem_for(request: Request, status: int, **kwargs: Any) -> ProblemResponse:
    return problem(status, instance=request.url.path, request_id=request.state.request_id, **kwargs)


def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):  # FastAPI's body parser gave up
        return _malformed_json(request)
    if exc.status_code == 400 and isinstance(exc.__cause__, DuplicateKeyError):
        return _validation_error(request, duplicated_keys(exc.__cause__))
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return _problem_for(request, exc.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own 405 names only the first such route's);
    HEAD wherever GET is (middleware.HeadAsGetMiddleware)."""
    routes = request.app.router.routes
    methods = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return [*methods, "HEAD"] if "GET" in methods else methods


def _malformed_json(request: Request) -> ProblemResponse:
    return _problem_for(request, 400, slug="malformed-json", detail="The request body is not valid JSON.")


def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return _malformed_json(request)
    # Only loc, msg and type: pydantic's `input` and `ctx` could echo a password back.
    listed = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
    return _problem_for(
        request, 422, slug="validation-error", detail="The request is not valid; see `errors`.", errors=listed
    )


def duplicated_keys(error: DuplicateKeyError) -> RequestValidationError:
    return RequestValidationError(
        [
            {"type": "duplicate_key", "loc": ("body", key), "msg": "This key is given more than once."}
            for key in error.keys
        ]
    )


def _domain_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    status, slug = next(v for kind, v in _DOMAIN_STATUS.items() if isinstance(exc, kind))
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, AuthenticationError):
        # RFC 6750 section 3.1: an error code only when a token was sent.
        missing = isinstance(exc, MissingCredentialsError)
        headers["WWW-Authenticate"] = "Bearer" if missing else 'Bearer error="invalid_token"'
    if isinstance(exc, DependencyUnavailableError | RequestInProgressError):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.limit.retry_after_seconds)
        attach_rate_limit(request, exc.limit)
    if isinstance(exc, InvalidInputError):
        extra["errors"] = [{"loc": list(exc.field), "msg": exc.detail, "type": "value_error"}]
    return _problem_for(request, status, slug=slug, detail=exc.detail, headers=headers, **extra)


def _aws_error(request: Request, exc: Exception) -> ProblemResponse:
    cause = exc.cause if isinstance(exc, PynamoDBException) else exc
    code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
    unreachable = isinstance(cause, BotoCoreError)
    if unreachable or code in _RETRYABLE_AWS_CODES:
        logger.warning("storage unavailable", extra={"aws_error_code": code, "error_class": type(cause).__name__})
        return _problem_for(
            request,
            503,
            slug="dependency-unavailable",
            detail="The service is busy or a dependency is unavailable; retry shortly.",
            headers={"Retry-After": "1"},
        )
    if code == "ValidationException" and isinstance(cause, ClientError):
        return _refused_values(request, cause)
    logger.exception("storage error", extra={"aws_error_code": code})
    return _problem_for(request, 500)


def _refused_values(request: Request, cause: ClientError) -> ProblemResponse:
    """DynamoDB refused a value the request carried (a key over its size limit, an empty key): the client's input,
    so a 422 with a generic detail; DynamoDB's own message, which names our attributes and indexes, is only logged."""
    logger.error(
        "storage refused a value of the request",
        extra={
            "aws_error_code": "ValidationException",
            "aws_operation": cause.operation_name,
            "aws_error_message": cause.response.get("Error", {}).get("Message"),
        },
    )
    detail = "The request holds a value too long or otherwise unfit for the data store."
    errors = [{"loc": ["request"], "msg": detail, "type": "value_error"}]
    return _problem_for(request, 422, slug="validation-error", detail=detail, errors=errors)


def _oauth2_token_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, OAuth2TokenError)
    return _problem_for(
        request,
        400,
        slug="oauth2-" + exc.error.replace("_", "-"),
        detail=exc.description,
        error=exc.error,
        error_description=exc.description,
        headers={"Cache-Control": "no-store"},
    )


def _repeated_field(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RepeatedFieldError)
    return _problem_for(request, 400, slug="repeated-field", detail=f"Give each field once: {exc}.")


def _answer_too_large(request: Request, exc: Exception) -> ProblemResponse:
    """507: the request was right and the data is there, but this server cannot hand it over in one answer; no
    Retry-After, since the same request would fail again. (413 is about the request's own content.)"""
    assert isinstance(exc, AnswerTooLargeError)
    logger.warning("answer too large for Lambda", extra={"answer_bytes": exc.size})
    detail = f"The answer would exceed the {LAMBDA_RESPONSE_LIMIT // 1024 // 1024} MB one answer can carry."
    return _problem_for(request, 507, slug="answer-too-large", detail=detail)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AnswerTooLargeError, _answer_too_large)
    app.add_exception_handler(OAuth2TokenError, _oauth2_token_error)
    app.add_exception_handler(RepeatedFieldError, _repeated_field)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DomainError, _domain_error)
    for aws_error in (PynamoDBException, BotoCoreError, ClientError):
        app.add_exception_handler(aws_error, _aws_error)
