"""Mail that gets people back into their accounts and proves their addresses: forgotten passwords, verification,
e-mail changes and notices, through the mail queue, the mail function and the local SES."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import MailFlow
from tests.support import PASSWORD, Api, unique_email
from watchlist_core import wiring
from watchlist_core.errors import InvalidTokenError
from watchlist_core.mail.ses import SesMailer
from watchlist_core.storage.tables import UserRecord
from watchlist_core.storage.users import user_pk
from watchlist_core.wiring import get_services

NEW_PASSWORD = "a new passphrase 2"
RESET = "Reset your Watchlist password"
CONFIRM = "Confirm your e-mail address"


class RefusingSes:
    def __init__(self, code: str) -> None:
        self.code = code

    def send_email(self, **request: Any) -> dict[str, str]:
        raise ClientError({"Error": {"Code": self.code, "Message": "refused"}}, "SendEmail")


def ses_answering(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """SES, for the mail function, refuses every mail with this error code."""
    monkeypatch.setattr(SesMailer, "_ses", lambda self: RefusingSes(code))


def forgot(api: Api, email: str) -> Any:
    return api.post("/v1/auth/password/forgot", json={"email": email})


def reset(api: Api, token: str, password: str = NEW_PASSWORD) -> Any:
    return api.post("/v1/auth/password/reset", json={"token": token, "new_password": password})


def test_a_forgotten_password_is_reset_through_the_mailed_link_which_ends_every_session(
    api: Api, mail: MailFlow, log_lines: Any
) -> None:
    user = api.register()
    tokens = api.login(user["email"])
    assert forgot(api, user["email"]).status == 202
    token = mail.token(user["email"], RESET)
    [message] = [m for m in mail.to(user["email"]) if RESET in m["subject"]]
    assert "http://127.0.0.1:8501/reset?token=" in message["text"]  # the configured URL, never the request's Host

    answer = reset(api, token)
    assert (answer.status, answer.header("referrer-policy")) == (204, "no-referrer")
    assert api.get("/v1/auth/me", token=tokens["access_token"]).status == 401
    assert api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status == 401
    assert api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD}).status == 401
    me = api.get("/v1/auth/me", token=api.login(user["email"], NEW_PASSWORD)["access_token"]).json()
    assert me["email_verified"] is True  # the link reached the address
    assert reset(api, token, "yet another passphrase").status == 400  # used up
    mail.deliver()
    assert any("was reset" in m["subject"] for m in mail.to(user["email"]))
    assert token not in log_lines.getvalue()
    assert token.split(".")[1] not in log_lines.getvalue()


def test_forgot_answers_alike_for_a_known_an_unknown_and_a_deactivated_address(api: Api, mail: MailFlow) -> None:
    known = api.register()
    answers = [forgot(api, address) for address in (known["email"], unique_email())]
    assert {a.status for a in answers} == {202}
    assert answers[0].body == answers[1].body
    varying = {"x-request-id", "ratelimit", "x-ratelimit-remaining", "x-ratelimit-reset"}
    names = [sorted(name for name in a.headers if name.lower() not in varying) for a in answers]
    assert names[0] == names[1]
    mail.deliver()
    assert len([m for m in mail.to(known["email"]) if RESET in m["subject"]]) == 1


def test_bad_tokens_are_400_and_change_nothing(api: Api, mail: MailFlow) -> None:
    user = api.register()
    forgot(api, user["email"])
    token = mail.token(user["email"], RESET)
    user_id, secret = token.split(".")
    verification = mail.token(user["email"], CONFIRM)
    forged = f"{user_id}.{'A' * 43}"
    for bad in ("nonsense", forged, f"{'0' * 26}.{secret}", verification, token + "x"):
        answer = reset(api, bad)
        assert answer.status == 400, bad
        assert answer.json()["type"].endswith("invalid-token")
    # Expired: its stored expiry passed.
    UserRecord(pk=user_pk(user_id)).update(
        actions=[UserRecord.password_reset_token["expires_at"].set(datetime.now(UTC) - timedelta(seconds=1))]
    )
    assert reset(api, token).status == 400
    assert api.login(user["email"])["access_token"]  # the password is the old one still
    assert api.post("/v1/auth/verification/confirm", json={"token": token}).status == 400  # another purpose


def test_a_new_reset_link_replaces_the_one_before(api: Api, mail: MailFlow, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNT_MAIL_INTERVAL_SECONDS", "0")
    from watchlist_core import wiring

    wiring.reset()
    user = api.register()
    forgot(api, user["email"])
    first = mail.token(user["email"], RESET)
    forgot(api, user["email"])
    second = mail.token(user["email"], RESET)
    assert first != second
    assert reset(api, first).status == 400
    assert reset(api, second).status == 204


def test_a_second_reset_mail_within_the_interval_is_not_sent(api: Api, mail: MailFlow) -> None:
    user = api.register()
    for _ in range(3):
        assert forgot(api, user["email"]).status == 202
    mail.deliver()
    assert len([m for m in mail.to(user["email"]) if RESET in m["subject"]]) == 1


def test_of_two_resets_with_one_token_at_once_exactly_one_wins(api: Api, mail: MailFlow) -> None:
    user = api.register()
    forgot(api, user["email"])
    token = mail.token(user["email"], RESET)
    recovery = get_services().recovery

    def attempt(n: int) -> str:
        try:
            recovery.reset(token, f"racing passphrase {n}")
        except InvalidTokenError:
            return "refused"
        return "reset"

    with ThreadPoolExecutor(4) as pool:  # the service itself: one in-process handler answers one request at a time
        assert sorted(pool.map(attempt, range(4))) == ["refused", "refused", "refused", "reset"]


def test_a_password_change_kills_an_outstanding_reset_link(api: Api, mail: MailFlow) -> None:
    user = api.register()
    tokens = api.login(user["email"])
    forgot(api, user["email"])
    token = mail.token(user["email"], RESET)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert api.post("/v1/auth/password", token=tokens["access_token"], json=change).status == 204
    assert reset(api, token, "the attacker's passphrase").status == 400
    mail.deliver()
    assert any("was changed" in m["subject"] for m in mail.to(user["email"]))


def test_a_reset_first_makes_a_racing_change_with_the_old_password_fail(api: Api, mail: MailFlow) -> None:
    user = api.register()
    tokens = api.login(user["email"])
    forgot(api, user["email"])
    assert reset(api, mail.token(user["email"], RESET)).status == 204
    change = {"current_password": PASSWORD, "new_password": "the attacker's passphrase"}
    assert api.post("/v1/auth/password", token=tokens["access_token"], json=change).status == 401  # session ended
    assert api.login(user["email"], NEW_PASSWORD)["access_token"]


def test_a_deactivated_account_gets_no_reset_mail_and_its_link_stops(api: Api, mail: MailFlow) -> None:
    user = api.register()
    forgot(api, user["email"])
    token = mail.token(user["email"], RESET)
    UserRecord(pk=user_pk(user["id"])).update(actions=[UserRecord.active.set(False)])
    assert reset(api, token).status == 400
    count = len(mail.to(user["email"]))
    forgot(api, user["email"])
    mail.deliver()
    assert len(mail.to(user["email"])) == count


def test_an_address_is_verified_by_its_link(api: Api, mail: MailFlow) -> None:
    user = api.register()
    assert user["email_verified"] is False
    token = mail.token(user["email"], CONFIRM)
    access = api.login(user["email"])["access_token"]
    assert api.post("/v1/auth/verification/confirm", json={"token": "x" * 20}).status == 400
    assert api.post("/v1/auth/verification/confirm", json={"token": token}).status == 204
    assert api.get("/v1/auth/me", token=access).json()["email_verified"] is True
    assert api.post("/v1/auth/verification/confirm", json={"token": token}).status == 400
    sent = len(mail.to(user["email"]))
    assert api.post("/v1/auth/verification", token=access).status == 202
    mail.deliver()
    assert len(mail.to(user["email"])) == sent  # verified already: nothing to send


def test_an_email_change_needs_the_password_and_the_new_address_confirms_it(api: Api, mail: MailFlow) -> None:
    user = api.register()
    taken = api.register()
    access = api.login(user["email"])["access_token"]
    new = unique_email()
    assert api.patch("/v1/auth/me", token=access, json={"email": new}).status == 422
    wrong = api.patch("/v1/auth/me", token=access, json={"email": new, "current_password": "not it at all"})
    assert wrong.status == 400
    clash = api.patch("/v1/auth/me", token=access, json={"email": taken["email"], "current_password": PASSWORD})
    assert clash.status == 409
    changed = api.patch("/v1/auth/me", token=access, json={"email": new.upper(), "current_password": PASSWORD})
    assert changed.status == 200
    assert (changed.json()["email"], changed.json()["email_verified"]) == (new, False)
    assert api.get("/v1/auth/me", token=access).json()["email"] == new
    token = mail.token(new, CONFIRM)
    assert any("address was changed" in m["subject"] for m in mail.to(user["email"]))
    assert api.post("/v1/auth/verification/confirm", json={"token": token}).status == 204
    assert api.login(new)["access_token"]
    assert api.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD}).status == 401
    assert api.register(user["email"])["email"] == user["email"]  # the old address is free


def test_ses_away_leaves_the_api_alone_and_the_mail_is_retried_with_a_back_off(
    api: Api, mail: MailFlow, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ses_answering(monkeypatch, "TooManyRequestsException")
    user = api.register()
    assert forgot(api, user["email"]).status == 202
    result = mail.deliver()
    assert (result.received, result.deleted) == (2, 0)  # the verification and the reset: both kept
    monkeypatch.undo()
    # Back-off: not visible again after the queue's (test) visibility timeout of 1 s, but after 60.
    attributes = sqs.get_queue_attributes(
        QueueUrl=mail.poller._queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "2"


def test_a_mail_ses_refuses_for_good_is_dropped_not_retried(
    api: Api, mail: MailFlow, monkeypatch: pytest.MonkeyPatch, log_lines: Any
) -> None:
    ses_answering(monkeypatch, "MessageRejected")
    api.register()
    assert mail.deliver().deleted == 1
    refused = [json.loads(line) for line in log_lines.getvalue().splitlines() if "refused a mail" in line]
    assert [line["code"] for line in refused] == ["MessageRejected"]


def test_forgot_answers_202_when_the_mail_queue_is_down(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_QUEUE_URL", "http://127.0.0.1:9/000000000000/gone")
    from watchlist_core import wiring

    wiring.reset()
    assert forgot(api, unique_email()).status == 202


def test_with_verified_addresses_required_only_a_confirmed_account_changes_its_watchlist(
    api: Api, mail: MailFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUIRE_VERIFIED_EMAIL", "true")
    from watchlist_core import wiring

    wiring.reset()
    user = api.register()
    tokens = api.login(user["email"])
    item = {"title": "Alien", "type": "movie"}
    refused = api.post("/v1/watchlists/items", token=tokens["access_token"], json=item)
    assert (refused.status, refused.json()["type"].rsplit(":", 1)[-1]) == (403, "forbidden")
    assert api.get("/v1/watchlists", token=tokens["access_token"]).status == 200  # reading needs no confirmation
    assert api.post("/v1/auth/verification/confirm", json={"token": mail.token(user["email"], CONFIRM)}).status == 204
    renewed = api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    assert api.post("/v1/watchlists/items", token=renewed["access_token"], json=item).status == 201


def test_the_reset_is_the_way_back_in_that_strangers_guesses_hold_back_on_each_redis(
    redis_api: Api, mail: MailFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one Redis server and on a cluster: strangers' guesses reach the account-wide ceiling, so a new device is
    refused; the mailed reset ends every session of the account (each access token 401 at once) and forgives the
    guesses, so the owner signs in from that new device."""
    monkeypatch.setenv("RATE_LIMIT_LOGIN_ACCOUNT_FAILURES", "4/900")
    wiring.reset()
    user = redis_api.register()
    sessions = [redis_api.login(user["email"]) for _ in range(2)]
    for number in range(2):
        guesser = Api(redis_api.handler, source_ip=f"198.51.100.{number + 40}")
        for _ in range(2):
            assert guesser.post("/v1/auth/login", json={"email": user["email"], "password": "guess"}).status == 401
    new_device = Api(redis_api.handler, source_ip="192.0.2.140")
    assert new_device.post("/v1/auth/login", json={"email": user["email"], "password": PASSWORD}).status == 429
    assert forgot(new_device, user["email"]).status == 202
    assert reset(new_device, mail.token(user["email"], RESET)).status == 204
    for tokens in sessions:
        assert redis_api.get("/v1/auth/me", token=tokens["access_token"]).status == 401
    assert new_device.login(user["email"], NEW_PASSWORD)["access_token"]
