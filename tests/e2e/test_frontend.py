"""The Streamlit front end driven by Streamlit's AppTest against a live `make dev` API over HTTP."""

from __future__ import annotations

import ast
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from infra.commands.dev_stack import dev_stack
from infra.local.frontend import streamlit
from infra.local.servers import free_port, wait_until_answering
from tests.e2e.test_dev_server import ADMIN
from watchlist_core.audit.message import AuditAction
from watchlist_ui.client import Problem, Session, WatchlistClient

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "frontend" / "app.py")
PASSWORD = "frontend password 1"
RESET = "Reset your Watchlist password"
CONFIRM = "Confirm your e-mail address"


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    # Every sign-in of the module comes from one address: more than the per-address login limit allows a minute.
    # A verification link asked for right after registering is mailed too (not held back for a minute).
    with dev_stack(
        ADMIN["email"], ADMIN["password"], RATE_LIMIT_LOGIN="100/60", ACCOUNT_MAIL_INTERVAL_SECONDS="0"
    ) as stack:
        yield stack.api


@pytest.fixture
def app(api_url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("WATCHLIST_API_URL", api_url)
    return AppTest.from_file(APP, default_timeout=30).run()


def submit(app: AppTest, label: str) -> AppTest:
    next(button for button in app.button if button.label == label).click()
    return app.run()


def sign_in(app: AppTest, email: str, password: str) -> AppTest:
    app.text_input(key="login_email").input(email)
    app.text_input(key="login_password").input(password)
    return submit(app, "Log in")


def register_and_sign_in(app: AppTest) -> str:
    email = f"ui-{uuid.uuid4().hex[:10]}@example.com"
    app.text_input(key="register_email").input(email)
    app.text_input(key="register_password").input(PASSWORD)
    submit(app, "Register")
    assert "Registered" in app.success[0].value
    sign_in(app, email, PASSWORD)
    return email


def go(app: AppTest, page: str) -> AppTest:
    return app.radio(key="page").set_value(page).run()


def table(app: AppTest) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = app.dataframe[0].value.to_dict("records")
    return rows


def mailed(api_url: str, to: str, subject: str, count: int = 1) -> list[dict[str, Any]]:
    """The mails to `to` about `subject`, newest first, once at least `count` arrived (the API sends them through its
    mail queue): read from the local mailbox, as a person would from their inbox."""
    deadline = time.monotonic() + 20
    while True:
        mails = [m for m in httpx.get(f"{api_url}/_local/mailbox").json() if m["to"] == to and subject in m["subject"]]
        if len(mails) >= count:
            return mails
        assert time.monotonic() < deadline, f"no {count} mails to {to} about {subject!r}"
        time.sleep(0.3)


def link_in(mail: dict[str, Any]) -> str:
    return str(re.findall(r"https?://\S+", mail["text"])[0])


def open_link(link: str) -> AppTest:
    """The front end in a new browser session opened at a mailed link: its path picks the page, its query the token."""
    url = urlsplit(link)
    page = AppTest.from_file(APP, default_timeout=30)
    page.context["url"] = f"{url.scheme}://{url.netloc}{url.path}"
    page.query_params.update(parse_qsl(url.query))
    return page.run()


def account_address(app: AppTest) -> str:
    return next(m.value for m in app.markdown if "verified" in m.value)


def test_register_sign_in_add_list_edit_delete(app: AppTest) -> None:
    email = register_and_sign_in(app)
    assert app.radio(key="page").options == ["Watchlist", "Add", "Account", "GitHub", "Health"]
    assert any(email in markdown.value for markdown in app.sidebar.markdown)

    go(app, "Add")
    for title, item_type in (("Arrival", "movie"), ("Severance", "show")):
        app.text_input(key="add_title").input(title)
        app.selectbox(key="add_type").set_value(item_type)
        submit(app, "Add")
        assert title in app.success[0].value

    go(app, "Watchlist")
    assert [row["title"] for row in table(app)] == ["Severance", "Arrival"]
    app.selectbox(key="sort").set_value("title").run()
    assert [row["title"] for row in table(app)] == ["Arrival", "Severance"]
    app.selectbox(key="filter_type").set_value("show").run()
    assert [row["title"] for row in table(app)] == ["Severance"]

    app.selectbox(key="edit_status").set_value("completed")
    app.number_input(key="edit_rating").set_value(9)
    submit(app, "Save")
    assert table(app)[0]["status"] == "completed"
    assert table(app)[0]["rating"] == 9
    submit(app, "Delete")
    assert not app.dataframe or table(app) == []


def test_pages_follow_the_cursor(app: AppTest) -> None:
    register_and_sign_in(app)
    go(app, "Add")
    for number in range(3):
        app.text_input(key="add_title").input(f"Film {number}")
        submit(app, "Add")
    go(app, "Watchlist")
    app.number_input(key="limit").set_value(2).run()
    assert [row["title"] for row in table(app)] == ["Film 2", "Film 1"]
    submit(app, "Next →")
    assert [row["title"] for row in table(app)] == ["Film 0"]
    submit(app, "← Previous")
    assert [row["title"] for row in table(app)] == ["Film 2", "Film 1"]


def test_problems_and_rate_limits_are_shown(app: AppTest) -> None:
    sign_in(app, f"nobody-{uuid.uuid4().hex[:8]}@example.com", "wrong password")
    assert "401 Unauthorized" in app.error[0].value
    assert "request id" in app.error[0].value
    assert any("Rate limit `login`" in caption.value for caption in app.sidebar.caption)

    register_and_sign_in(app)
    go(app, "Add")
    submit(app, "Add")  # no title
    assert "422" in app.error[0].value
    assert "`body.title`" in app.error[0].value
    assert any("Rate limit `user`" in caption.value for caption in app.sidebar.caption)


def test_an_expired_access_token_is_renewed_without_the_user_noticing(app: AppTest) -> None:
    register_and_sign_in(app)
    session = app.session_state["session"]
    session.access_token = "expired-or-revoked"
    go(app, "Watchlist")
    assert not app.error
    assert app.session_state["session"].refreshed == 1
    assert app.session_state["session"].access_token != "expired-or-revoked"


def test_the_account_page_renames_changes_the_password_and_ends_another_session(app: AppTest, api_url: str) -> None:
    email = register_and_sign_in(app)
    other = WatchlistClient(api_url, Session())
    other.login(email, PASSWORD)  # another device
    go(app, "Account")
    app.text_input(key="profile_name").input("Grace")
    assert "Saved" in submit(app, "Save").success[0].value
    assert app.session_state["session"].user["display_name"] == "Grace"
    assert len(app.dataframe[0].value) == 2  # this browser's session and the other device's
    assert "Ended" in submit(app, "End this session").success[0].value
    with pytest.raises(Problem):
        other.me()  # its tokens no longer work: not even renewed
    app.text_input(key="password_current").input(PASSWORD)
    app.text_input(key="password_new").input("frontend password 2")
    assert "Password changed" in submit(app, "Change password").success[0].value
    go(app, "Watchlist")
    assert not app.error  # this browser's session goes on


def test_a_forgotten_password_is_reset_through_the_mailed_link(app: AppTest, api_url: str) -> None:
    email = register_and_sign_in(app)  # this browser stays signed in: the reset ends its session too
    visitor = AppTest.from_file(APP, default_timeout=30).run()
    visitor.text_input(key="forgot_email").input(email)
    assert "a link to reset its password is on its way" in submit(visitor, "Send me a reset link").success[0].value

    [mail] = mailed(api_url, email, RESET)
    link = link_in(mail)
    assert urlsplit(link).path == "/reset"
    page = open_link(link)
    assert page.header[0].value == "Choose a new password"
    assert not page.sidebar.radio  # the link's page alone
    page.text_input(key="reset_new").input("frontend password 2")
    page.text_input(key="reset_again").input("frontend password 3")
    assert "differ" in submit(page, "Set the new password").error[0].value
    page.text_input(key="reset_again").input("frontend password 2")
    assert "sign in with the new one" in submit(page, "Set the new password").success[0].value
    assert "token" not in page.query_params  # off the URL (the address bar lost it on the first run, in the browser)

    go(app, "Watchlist")
    assert "401" in app.error[0].value  # every session of the account ended: this browser is signed out
    assert app.run().radio(key="page").options == ["Sign in", "Health"]
    assert "401" in sign_in(app, email, PASSWORD).error[0].value
    submit(page, "Sign in")  # from the link's page to the app's
    sign_in(page, email, "frontend password 2")
    assert not page.error
    assert page.session_state["session"].user["email"] == email
    assert page.session_state["session"].user["email_verified"]  # the link reached the address

    used = open_link(link)
    used.text_input(key="reset_new").input("frontend password 4")
    used.text_input(key="reset_again").input("frontend password 4")
    assert "400" in submit(used, "Set the new password").error[0].value  # a link works once


def test_the_verification_link_confirms_the_address(app: AppTest, api_url: str) -> None:
    email = register_and_sign_in(app)
    go(app, "Account")
    assert account_address(app) == f"**{email}**: not verified yet; the link mailed to it confirms it."
    app.button(key="send_verification").click().run()
    assert "a link to confirm it is on its way" in app.success[0].value
    newest, registered = map(link_in, mailed(api_url, email, CONFIRM, count=2))  # the button's, the registration's

    stale = open_link(registered)  # a new link replaces the one before
    assert "400" in stale.error[0].value
    page = open_link(newest)
    assert urlsplit(newest).path == "/verify"
    assert page.header[0].value == "Confirm your e-mail address"
    assert page.success[0].value == "Your e-mail address is confirmed. Thank you!"
    assert page.run().success[0].value == "Your e-mail address is confirmed. Thank you!"  # once, kept on reruns
    assert "token" not in page.query_params
    assert "link_token" not in page.session_state  # used: the session keeps it no longer

    app.run()  # the account page, as the API has the account now
    assert account_address(app) == f"**{email}**: verified."
    assert not [button for button in app.button if button.key == "send_verification"]
    submit(page, "Go to Watchlist")
    assert page.radio(key="page").options == ["Sign in", "Health"]


def test_the_account_page_changes_the_address(app: AppTest, api_url: str) -> None:
    email = register_and_sign_in(app)
    new_email = f"ui-{uuid.uuid4().hex[:10]}@example.com"
    go(app, "Account")
    app.text_input(key="email_new").input(new_email)
    app.text_input(key="email_password").input("not my password")
    assert "400" in submit(app, "Change address").error[0].value
    app.text_input(key="email_password").input(PASSWORD)
    assert "open the link mailed to the new address" in submit(app, "Change address").success[0].value
    assert app.session_state["session"].user["email"] == new_email
    assert account_address(app) == f"**{new_email}**: not verified yet; the link mailed to it confirms it."
    assert mailed(api_url, email, "e-mail address was changed")  # a notice to the old address
    [mail] = mailed(api_url, new_email, CONFIRM)  # a link to the new one
    link = link_in(mail)

    assert open_link(link).success[0].value == "Your e-mail address is confirmed. Thank you!"
    app.run()
    assert account_address(app) == f"**{new_email}**: verified."
    submit(app, "Log out")
    assert "401" in sign_in(app, email, PASSWORD).error[0].value
    sign_in(app, new_email, PASSWORD)
    assert app.session_state["session"].user["email"] == new_email


def test_the_pages_tell_the_browser_to_send_their_address_to_no_one(api_url: str) -> None:
    """Served as `make dev` and `docker compose up` serve it (`streamlit run frontend/app.py`, which finds the st.App
    in the file): the page a reset link opens answers `Referrer-Policy: no-referrer`, and names nothing elsewhere."""
    port = str(free_port())
    with streamlit(api_url, "127.0.0.1", port) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(base + "/_stcore/health", [process], 60)
        page = httpx.get(base + "/reset?token=a-token", timeout=30)
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "<html" in page.text
        assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', page.text))  # its own scripts and styles
        assert httpx.get(base + "/_stcore/health").headers["referrer-policy"] == "no-referrer"


def test_log_out(app: AppTest) -> None:
    register_and_sign_in(app)
    submit(app, "Log out")
    assert app.radio(key="page").options == ["Sign in", "Health"]


def test_admins_manage_roles_and_read_the_audit_trail(app: AppTest) -> None:
    other = AppTest.from_file(APP, default_timeout=30).run()
    member = register_and_sign_in(other)
    member_id = other.session_state["session"].user["id"]

    sign_in(app, ADMIN["email"], ADMIN["password"])
    assert "Admin" in app.radio(key="page").options
    go(app, "Admin")
    emails = [row["email"] for row in app.dataframe[0].value.to_dict("records")]
    assert member in emails
    app.selectbox(key="role_user").set_value(member)
    app.selectbox(key="role_value").set_value("admin")
    submit(app, "Change role")
    assert f"{member} is now admin" in app.success[0].value
    app.selectbox(key="active_user").set_value(member)
    app.radio(key="active_value").set_value("deactivated")
    submit(app, "Set account")
    assert f"{member} is now deactivated" in app.success[0].value
    go(other, "Watchlist")
    assert other.error  # the member's tokens stopped at once
    app.radio(key="active_value").set_value("active")
    submit(app, "Set account")
    app.selectbox(key="audit_action").set_value("admin.role_changed").run()
    deadline = time.monotonic() + 15  # the trail is written asynchronously, through SQS and the audit worker
    while member_id not in {row["target"] for row in app.dataframe[1].value.to_dict("records")}:
        assert time.monotonic() < deadline, "the role change never reached the audit trail"
        time.sleep(0.5)
        app.run()


def test_the_account_page_exports_the_data_and_deletes_the_account(app: AppTest, api_url: str) -> None:
    email = register_and_sign_in(app)
    go(app, "Add")
    app.text_input(key="add_title").input("Paprika")
    submit(app, "Add")
    go(app, "Account")
    assert not app.get("download_button")  # fetched only when asked for
    app.button(key="export_data").click().run()
    assert app.get("download_button")  # the export, offered as a file
    assert [item["title"] for item in json.loads(app.session_state["export_document"])["items"]] == ["Paprika"]
    app.text_input(key="delete_password").input(PASSWORD)
    submit(app, "Delete my account")
    assert not app.success  # not without ticking "Yes"
    app.checkbox(key="delete_sure").check()
    app.text_input(key="delete_password").input(PASSWORD)
    assert "Deleted" in submit(app, "Delete my account").success[0].value
    assert app.session_state["session"].user is None
    with pytest.raises(Problem):
        WatchlistClient(api_url, Session()).login(email, PASSWORD)
    assert WatchlistClient(api_url, Session()).register(email, PASSWORD)["email"] == email  # free again


def test_an_admin_deletes_an_account(app: AppTest, api_url: str) -> None:
    other = AppTest.from_file(APP, default_timeout=30).run()
    member = register_and_sign_in(other)
    sign_in(app, ADMIN["email"], ADMIN["password"])
    go(app, "Admin")
    app.selectbox(key="delete_user").set_value(member)
    assert f"{member} is deleted" in submit(app, "Delete account").success[0].value
    go(other, "Watchlist")
    assert other.error  # the member's tokens stopped at once
    with pytest.raises(Problem):
        WatchlistClient(api_url, Session()).login(member, PASSWORD)


def test_github_lookup_and_health(app: AppTest) -> None:
    register_and_sign_in(app)
    go(app, "GitHub")
    app.text_input(key="github_username").input("octocat")
    app.button(key="github_lookup").click().run()
    assert app.subheader[0].value == "The Octocat (octocat)"
    app.text_input(key="github_username").input("no--such")
    app.button(key="github_lookup").click().run()
    assert "422" in app.error[0].value

    go(app, "Health")
    assert app.metric[0].value in {"pass", "warn"}
    assert any("dynamodb" in markdown.value for markdown in app.markdown)


class LoseTheFirstAnswer(httpx.HTTPTransport):
    """Delivers every request; the first answer to `path` is lost on its way back (a timeout)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.keys: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path == self.path:
            self.keys.append(request.headers.get("idempotency-key"))
            if len(self.keys) == 1:
                response.read()
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_a_write_whose_answer_is_lost_is_sent_again_with_its_key_and_done_once(api_url: str) -> None:
    transport = LoseTheFirstAnswer("/v1/watchlists/items")
    client = WatchlistClient(api_url, Session(), transport=transport)
    email = f"ui-{uuid.uuid4().hex[:10]}@example.com"
    client.register(email, PASSWORD)
    client.login(email, PASSWORD)
    added = client.add({"title": "Arrival", "type": "movie"})
    assert len(transport.keys) == 2
    assert transport.keys[0] is not None
    assert transport.keys[0] == transport.keys[1]
    page = client.items()
    assert page["total"] == 1
    assert page["items"][0]["id"] == added["id"]


class RecordingSignIns(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/login":
            self.bodies.append(json.loads(request.content))
        return super().handle_request(request)


def test_the_client_signs_in_again_with_its_device_token_for_that_account(api_url: str) -> None:
    """As a device cookie: kept across sign-outs, sent with that account's next sign-in only."""
    transport = RecordingSignIns()
    client = WatchlistClient(api_url, Session(), transport=transport)
    first = f"ui-{uuid.uuid4().hex[:10]}@example.com"
    client.register(first, PASSWORD)
    client.login(first, PASSWORD)
    client.logout()
    client.login(ADMIN["email"], ADMIN["password"])
    kept = client.session.device_tokens[first]
    client.login(first.upper(), PASSWORD)
    assert ["device_token" in body for body in transport.bodies] == [False, False, True]
    assert transport.bodies[2]["device_token"] == kept
    assert client.session.device_tokens[first] != kept  # each sign-in answers a new one


def test_the_audit_filter_offers_each_audit_action_once() -> None:
    """The front end knows the API over HTTP only, so it keeps its own list of the actions to filter the trail by:
    held here to the API's, every one once."""
    tree = ast.parse(Path(APP).read_text())
    listed = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "ACTIONS" for target in node.targets)
    )
    assert sorted(listed) == sorted(["", *(action.value for action in AuditAction)])
