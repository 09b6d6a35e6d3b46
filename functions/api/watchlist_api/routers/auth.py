"""/v1/auth: register, log in (JSON, or the OAuth2 password form on /token), refresh, log out, who am I, and the
caller's own account: profile, password, sessions, export, deletion."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError

from watchlist_api.conditional import represent, respond
from watchlist_api.dependencies import (
    AnonymousLimit,
    Caller,
    ForgotLimit,
    LoginLimit,
    OwnCache,
    RegisterLimit,
    ServicesDep,
    client_ip,
    user_agent,
)
from watchlist_api.idempotency import IdempotencyKey, once
from watchlist_api.problems import OAuth2TokenError, RepeatedFieldError, deliverable, duplicated_keys
from watchlist_api.rate_limit_headers import attach_rate_limit
from watchlist_api.strict_json import DuplicateKeyError, StrictJSONRoute, repeated_names, strict_json_loads
from watchlist_core.domain import (
    AccountDeletion,
    Credentials,
    Model,
    PasswordChange,
    PasswordForgotten,
    PasswordReset,
    ProfileChanges,
    Registration,
    SessionList,
    StrictInput,
    TokenPair,
    User,
    VerificationConfirmation,
)
from watchlist_core.errors import AuthenticationError
from watchlist_core.services.accounts import AccountExport

router = APIRouter(route_class=StrictJSONRoute, prefix="/v1/auth", tags=["auth"])
_NO_STORE = {"Cache-Control": "no-store"}


class Tokens(Model):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int
    refresh_token: str
    device_token: str | None = Field(
        default=None,
        description="A sign-in's: send it with this account's next sign-ins (`device_token`), and others' failed "
        "guesses never hold this client back. A refresh answers null.",
    )

    @classmethod
    def of(cls, pair: TokenPair) -> "Tokens":
        return cls(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
            device_token=pair.device_token,
        )


class RefreshRequest(StrictInput):
    refresh_token: str


class LogoutRequest(StrictInput):
    refresh_token: str | None = None


_JSON_CREDENTIALS: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": Credentials.model_json_schema()}}}
}
# The OAuth2 password grant's form (RFC 6749, 4.3), on a path of its own: one body type per operation, which is what
# client generators handle, and what Swagger's Authorize button posts to.
_PASSWORD_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "title": "PasswordForm",
                    "type": "object",
                    "required": ["grant_type", "username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string", "description": "the e-mail address"},
                        "password": {"type": "string"},
                        "device_token": {"type": "string", "description": "from an earlier sign-in to this account"},
                    },
                }
            },
        },
    }
}


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )


async def _form_fields(request: Request) -> dict[str, str]:
    """The form's fields; each at most once (a field sent twice has no one meaning: RepeatedFieldError)."""
    form = await request.form()
    repeated = repeated_names(form.multi_items())
    if repeated:
        raise RepeatedFieldError(repeated)
    return {name: value for name, value in form.items() if isinstance(value, str)}


def _password_form_credentials(form: dict[str, str]) -> dict[str, str | None]:
    """The OAuth2 password form's fields as Credentials' (`username` is the e-mail address)."""
    return {"email": form.get("username"), "password": form.get("password"), "device_token": form.get("device_token")}


async def _credentials(request: Request) -> Credentials:
    """JSON `{email, password, device_token?}`, or the OAuth2 password form (`username`, `password`) that
    earlier clients post here."""
    raw: Any
    if _is_form(request):
        form = await _form_fields(request)
        if form.get("grant_type", "password") != "password":
            raise RequestValidationError(
                [{"type": "literal_error", "loc": ("body", "grant_type"), "msg": "Input should be 'password'"}]
            )
        raw = _password_form_credentials(form)
    else:
        try:
            raw = strict_json_loads(await request.body() or b"null")
        except DuplicateKeyError as error:
            raise duplicated_keys(error) from error
        except (ValueError, RecursionError) as error:  # RecursionError: nested deeper than the parser goes
            raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": "Invalid JSON"}]) from error
    try:
        return Credentials.model_validate(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in error.errors()]
        ) from error


@router.post("/register", status_code=201, response_model=User, dependencies=[RegisterLimit])
def register(
    request: Request, registration: Registration, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def produce() -> Response:
        user = services.auth.register(registration)
        return Response(user.model_dump_json(), status_code=201, media_type="application/json")

    caller, fingerprint = services.auth.registration_request(registration)
    return once(request, services, caller, idempotency_key, fingerprint, produce)


@router.post("/login", response_model=Tokens, openapi_extra=_JSON_CREDENTIALS, dependencies=[LoginLimit])
async def login(request: Request, response: Response, services: ServicesDep) -> "Tokens":
    # The form is read here too: clients of the earlier document, whose Authorize button posted it here.
    return await _sign_in(await _credentials(request), request, response, services)


@router.post(
    "/token",
    response_model=Tokens,
    openapi_extra=_PASSWORD_FORM,
    dependencies=[LoginLimit],
)
async def token(request: Request, response: Response, services: ServicesDep) -> "Tokens":
    """An OAuth2 token endpoint (RFC 6749, the password grant): its errors are 400 with `error`."""
    if not _is_form(request):
        raise OAuth2TokenError("invalid_request", "Send the form as application/x-www-form-urlencoded.")
    try:
        form = await _form_fields(request)
    except RepeatedFieldError as error:
        raise OAuth2TokenError("invalid_request", f"Give each field once: {', '.join(error.names)}.") from error
    if "grant_type" not in form:
        raise OAuth2TokenError("invalid_request", "grant_type is required.")
    if form["grant_type"] != "password":
        raise OAuth2TokenError("unsupported_grant_type", "Only the password grant is supported.")
    try:
        credentials = Credentials.model_validate(_password_form_credentials(form))
    except ValidationError as error:
        fields = sorted({str(e["loc"][0]).replace("email", "username") for e in error.errors() if e["loc"]})
        raise OAuth2TokenError("invalid_request", f"Missing or invalid: {', '.join(fields)}.") from error
    try:
        return await _sign_in(credentials, request, response, services)
    except AuthenticationError as error:
        raise OAuth2TokenError("invalid_grant", error.detail) from error


async def _sign_in(credentials: Credentials, request: Request, response: Response, services: ServicesDep) -> "Tokens":
    pair = await run_in_threadpool(services.auth.login, credentials, client_ip(request), user_agent(request))
    response.headers.update(_NO_STORE)
    return Tokens.of(pair)


@router.post("/refresh", response_model=Tokens)
def refresh(request: Request, body: RefreshRequest, response: Response, services: ServicesDep) -> "Tokens":
    claims = services.auth.refresh_claims(body.refresh_token)
    attach_rate_limit(request, services.admission.admit_refresh(claims).limit)
    response.headers.update(_NO_STORE)
    return Tokens.of(services.auth.refresh(claims))


@router.post("/logout", status_code=204, response_class=Response)
def logout(caller: Caller, services: ServicesDep, body: Annotated[LogoutRequest | None, Body()] = None) -> Response:
    services.auth.logout(caller, body.refresh_token if body else None)
    return Response(status_code=204)


@router.get("/me", response_model=User)
async def me(request: Request, caller: Caller, cache: OwnCache, services: ServicesDep) -> Response:
    return cache.serve(request, lambda: represent(services.auth.current_user(caller)))


@router.patch("/me", response_model=User)
async def change_profile(request: Request, changes: ProfileChanges, caller: Caller, services: ServicesDep) -> Response:
    """The caller's own profile: `display_name`; `email` with `current_password` (a wrong one is 400, and counts as a
    failed sign-in): unverified until the link mailed to the new address is used, and a notice goes to the old one."""
    user = await run_in_threadpool(services.auth.update_profile, caller, changes, client_ip(request))
    return respond(request, represent(user))


@router.post("/password", status_code=204, response_class=Response)
async def change_password(request: Request, change: PasswordChange, caller: Caller, services: ServicesDep) -> Response:
    """The current password confirms it (a wrong one is 400, and counts as a failed sign-in); every other session of
    the account ends at once, the caller's goes on."""
    await run_in_threadpool(services.auth.change_password, caller, change, client_ip(request))
    return Response(status_code=204)


class Accepted(Model):
    message: str


_NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # a page holding a token in its URL must not pass it on


@router.post("/password/forgot", status_code=202, response_model=Accepted, dependencies=[ForgotLimit])
def forgot_password(body: PasswordForgotten, services: ServicesDep) -> Accepted:
    """Mails a single-use link to reset the password, if an account has this address. The answer is the same, in
    about the same time, whether it has one, is deactivated, or mail is down: the mail is sent later."""
    services.recovery.forgot(body.email)
    return Accepted(message="If an account has this address, a link to reset its password is on its way.")


@router.post("/password/reset", status_code=204, response_class=Response, dependencies=[AnonymousLimit])
async def reset_password(body: PasswordReset, services: ServicesDep) -> Response:
    """A new password through a mailed link's `token`: every session of the account ends, its address counts as
    verified, and no one is signed in. An unknown, used, expired or other token is 400, and changes nothing."""
    await run_in_threadpool(services.recovery.reset, body.token, body.new_password)
    return Response(status_code=204, headers=_NO_REFERRER)


@router.post("/verification", status_code=202, response_model=Accepted)
def request_verification(caller: Caller, services: ServicesDep) -> Accepted:
    """Mails a link confirming the account's address (nothing when it is confirmed already)."""
    services.recovery.request_verification(services.auth.current_user(caller))
    return Accepted(message="Unless the address is confirmed already, a link to confirm it is on its way.")


@router.post("/verification/confirm", status_code=204, response_class=Response, dependencies=[AnonymousLimit])
def confirm_verification(body: VerificationConfirmation, services: ServicesDep) -> Response:
    """Confirms the account's address with a mailed link's `token`; a bad token is 400."""
    services.recovery.confirm_verification(body.token)
    return Response(status_code=204, headers=_NO_REFERRER)


@router.delete("/me", status_code=204, response_class=Response)
def delete_account(request: Request, deletion: AccountDeletion, caller: Caller, services: ServicesDep) -> Response:
    """Deletes the caller's account and all its data: items, sessions (every token stops at once), the account (its
    e-mail address can register again at once). The current password confirms it (a wrong one is 400, and counts as
    a failed sign-in); the last active admin cannot (409). Audit events stay, under the user id alone."""
    services.accounts.delete_own(caller, deletion, client_ip(request))
    return Response(status_code=204)


@router.get("/me/export", response_model=AccountExport)
def export_account(caller: Caller, services: ServicesDep) -> Response:
    """Everything the API holds of the caller, in one document: profile, items, live sessions and their own audit
    events. 507 when it is more than one answer can carry (see `deliverable`)."""
    body = services.accounts.export(caller).model_dump_json().encode()
    return Response(deliverable(body), media_type="application/json", headers=_NO_STORE)


SessionId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="A session's id, from GET /v1/auth/sessions.")]


@router.get("/sessions", response_model=SessionList)
def list_sessions(caller: Caller, services: ServicesDep, response: Response) -> SessionList:
    """The caller's live sessions (sign-ins), newest first, theirs marked `current`."""
    response.headers.update(_NO_STORE)
    return services.auth.sessions(caller)


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response)
def end_session(session_id: SessionId, caller: Caller, services: ServicesDep) -> Response:
    """Ends that session at once, as logout does (every access token of it and its refresh token)."""
    services.auth.end_session(caller, session_id)
    return Response(status_code=204)
