"""Watchlist, the Streamlit front end: a client of the API over HTTP only (WATCHLIST_API_URL).

streamlit run frontend/app.py      (or FRONTEND=1 make dev, which starts it beside the API)

The mails' links open it at `/reset?token=...` and `/verify?token=...`. `streamlit run` finds the `st.App` below and
serves this script through it, with one middleware of ours: every answer carries `Referrer-Policy: no-referrer`, so a
page whose URL held a token never hands that URL to anyone (the script runs as `__main__` in each session, as usual).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import streamlit as st
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parent))  # streamlit runs this file as a script

from watchlist_ui.client import Problem, Session, WatchlistClient

TYPES = ["movie", "show"]
STATUSES = ["planned", "watching", "completed", "dropped"]
SORTS = ["-created_at", "created_at", "title", "-title", "rating", "-rating", "year", "-year"]
ACTIONS = [
    "",
    "user.registered",
    "auth.login_succeeded",
    "auth.login_failed",
    "auth.login_locked",
    "auth.refreshed",
    "auth.refresh_reuse_detected",
    "auth.logout",
    "auth.session_ended",
    "auth.password_changed",
    "auth.password_reset",
    "account.profile_changed",
    "account.email_changed",
    "account.email_verified",
    "account.deleted",
    "item.created",
    "item.updated",
    "item.deleted",
    "admin.role_changed",
    "admin.account_deactivated",
    "admin.account_reactivated",
    "admin.item_deleted",
]

# This browser session's (set on each run of the script, at the end of this file).
session: Session
client: WatchlistClient


def explain(problem: Problem) -> str:
    """A problem's details (and when to retry), as shown to the user."""
    message = f"**{problem.status} {problem.title}**: {problem.detail}"
    if problem.retry_after:
        message += f" Retry in {problem.retry_after} s."
    for error in problem.errors:
        message += f"\n- `{'.'.join(str(part) for part in error['loc'])}`: {error['msg']}"
    return message + f"\n\nrequest id `{problem.request_id}`"


def attempt(action: Callable[[], Any]) -> Any:
    """Run an API call; show its problem details (and when to retry) instead of failing the page."""
    try:
        return action()
    except Problem as problem:
        st.error(explain(problem))
        return None


def sidebar() -> str:
    st.sidebar.title("Watchlist")
    if session.user:
        st.sidebar.write(f"Signed in as **{session.user['email']}** ({session.user['role']})")
        if st.sidebar.button("Log out", key="logout"):
            attempt(client.logout)
            st.rerun()
    pages = ["Watchlist", "Add", "Account", "GitHub", "Health"] if session.user else ["Sign in", "Health"]
    if session.user and session.user["role"] == "admin":
        pages.insert(2, "Admin")
    return str(st.sidebar.radio("Page", pages, key="page"))


def sign_in_page() -> None:
    login, register = st.columns(2)
    with login.form("login"):
        st.subheader("Log in")
        email = st.text_input("E-mail", key="login_email")
        password = st.text_input("Password", type="password", key="login_password")
        if st.form_submit_button("Log in") and attempt(lambda: client.login(email, password)):
            st.rerun()
    with register.form("register"):
        st.subheader("Register")
        email = st.text_input("E-mail", key="register_email")
        password = st.text_input("Password (8 to 128 characters)", type="password", key="register_password")
        name = st.text_input("Display name (optional)", key="register_name")
        if st.form_submit_button("Register") and attempt(lambda: client.register(email, password, name or None)):
            st.success("Registered: you can log in now. A link to confirm your address is on its way.")
    with login.expander("Forgot password?"):
        forgot_form()


def forgot_form() -> None:
    """Asks for a reset link by mail; shows the API's answer, which is the same whether the address has an account."""
    with st.form("forgot"):
        email = st.text_input("E-mail", key="forgot_email")
        if st.form_submit_button("Send me a reset link"):
            message = attempt(lambda: client.forgot_password(email))
            if message:
                st.success(message)


def watchlist_page() -> None:
    st.header("My watchlist")
    type_column, status_column, sort_column, limit_column = st.columns(4)

    def first_page() -> None:  # a cursor belongs to its query: other filters start over
        st.session_state["cursors"] = [None]

    item_type = type_column.selectbox("Type", ["", *TYPES], key="filter_type", on_change=first_page)
    status = status_column.selectbox("Status", ["", *STATUSES], key="filter_status", on_change=first_page)
    sort = sort_column.selectbox("Sort", SORTS, key="sort", on_change=first_page)
    limit = int(limit_column.number_input("Per page", 1, 100, 10, key="limit", on_change=first_page))
    cursors: list[str | None] = st.session_state.setdefault("cursors", [None])
    page = attempt(lambda: client.items(type=item_type, status=status, sort=sort, limit=limit, cursor=cursors[-1]))
    if page is None:
        return
    st.caption(f"{page['total']} items · page {len(cursors)}")
    st.dataframe(
        [{k: item.get(k) for k in ("title", "type", "year", "status", "rating", "notes")} for item in page["items"]],
        width="stretch",
        hide_index=True,
    )
    back, forward = st.columns(2)
    if back.button("← Previous", key="previous", disabled=len(cursors) == 1):
        cursors.pop()
        st.rerun()
    if forward.button("Next →", key="next", disabled=not page["next_cursor"]):
        cursors.append(page["next_cursor"])
        st.rerun()
    if page["items"]:
        edit_item(page["items"])


def edit_item(items: list[dict[str, Any]]) -> None:
    st.subheader("Edit or delete")
    by_label = {f"{item['title']} ({item['type']}, v{item['version']})": item for item in items}
    item = by_label[str(st.selectbox("Item", list(by_label), key="edit_choice"))]
    with st.form("edit"):
        title = st.text_input("Title", item["title"], key="edit_title")
        status = st.selectbox("Status", STATUSES, STATUSES.index(item["status"]), key="edit_status")
        rating = st.number_input("Rating (0: none)", 0, 10, item["rating"] or 0, key="edit_rating")
        notes = st.text_area("Notes", item["notes"] or "", key="edit_notes")
        save, delete = st.columns(2)
        if save.form_submit_button("Save"):
            changes = {"title": title, "status": status, "rating": rating or None, "notes": notes or None}
            if attempt(lambda: client.change(item["id"], changes, item["version"])):
                st.success("Saved.")
                st.rerun()
        if delete.form_submit_button("Delete") and attempt(lambda: client.delete(item["id"], item["version"])):
            st.rerun()


def add_page() -> None:
    st.header("Add to my watchlist")
    with st.form("add"):
        title = st.text_input("Title", key="add_title")
        item_type = st.selectbox("Type", TYPES, key="add_type")
        year = st.number_input("Year (0: unknown)", 0, 2100, 0, key="add_year")
        status = st.selectbox("Status", STATUSES, key="add_status")
        rating = st.number_input("Rating (0: none)", 0, 10, 0, key="add_rating")
        if st.form_submit_button("Add"):
            item: dict[str, Any] = {"title": title, "type": item_type, "status": status}
            item |= ({"year": int(year)} if year else {}) | ({"rating": int(rating)} if rating else {})
            added = attempt(lambda: client.add(item))
            if added:
                st.success(f"Added “{added['title']}”.")


def account_page() -> None:
    st.header("My account")
    # As the API has it now: the address may have been confirmed through its link in another tab meanwhile.
    if attempt(client.refresh_user) is None and not session.user:
        return  # signed out: the session has ended
    address, change = st.columns(2)
    with change.form("email"):  # first, so that the address beside it shows the change at once
        st.subheader("Change the address")
        new_email = st.text_input("New e-mail address", key="email_new")
        current = st.text_input("Current password", type="password", key="email_password")
        if st.form_submit_button("Change address") and attempt(lambda: client.change_email(new_email, current)):
            st.success("Changed: open the link mailed to the new address to confirm it (a notice went to the old one).")
    with address:
        user = session.user or {}
        st.subheader("E-mail address")
        if user.get("email_verified"):
            st.markdown(f"**{user.get('email')}**: verified.")
        else:
            st.markdown(f"**{user.get('email')}**: not verified yet; the link mailed to it confirms it.")
            if st.button("Send verification link", key="send_verification"):
                message = attempt(client.request_verification)
                if message:
                    st.success(message)
    profile, password = st.columns(2)
    with profile.form("profile"):
        st.subheader("Profile")
        name = st.text_input("Display name", value=(session.user or {}).get("display_name", ""), key="profile_name")
        if st.form_submit_button("Save") and attempt(lambda: client.change_profile(name)):
            st.success("Saved.")
    with password.form("password"):
        st.subheader("Password")
        current = st.text_input("Current password", type="password", key="password_current")
        new = st.text_input("New password", type="password", key="password_new")
        if st.form_submit_button("Change password") and attempt(lambda: client.change_password(current, new) or True):
            st.success("Password changed; every other session of yours has ended.")
    st.subheader("Where I am signed in")
    sessions = attempt(client.sessions)
    if sessions:
        st.dataframe(sessions, width="stretch", hide_index=True)
        others = {
            f"{s['user_agent'] or 'unknown'} from {s['source_ip']} ({s['id'][:8]})": s["id"]
            for s in sessions
            if not s["current"]
        }
        if others:
            with st.form("end_session"):
                chosen = st.selectbox("Session", list(others), key="end_session_choice")
                if st.form_submit_button("End this session") and attempt(
                    lambda: client.end_session(others[str(chosen)]) or True
                ):
                    st.success("Ended: its tokens no longer work anywhere.")
    st.subheader("My data")
    # Fetched when asked for only: for a large watchlist it is a large document.
    if st.button("Export my data", key="export_data"):
        st.session_state["export_document"] = attempt(client.export)
    if st.session_state.get("export_document"):
        st.download_button(
            "Download everything (JSON)",
            st.session_state["export_document"],
            "watchlist-export.json",
            "application/json",
        )
    with st.form("delete_account"):
        st.subheader("Delete my account")
        st.caption("Your items, sessions and account go for good; the address can register again.")
        current = st.text_input("Current password", type="password", key="delete_password")
        sure = st.checkbox("Yes, delete it", key="delete_sure")
        if (
            st.form_submit_button("Delete my account")
            and sure
            and attempt(lambda: client.delete_account(current) or True)
        ):
            st.success("Deleted. Goodbye.")


def admin_page() -> None:
    st.header("Administration")
    users_tab, audit_tab = st.tabs(["Users", "Audit trail"])
    with users_tab:
        page = attempt(client.users)
        if page:
            st.dataframe(page["items"], width="stretch", hide_index=True)
            by_email = {user["email"]: user for user in page["items"]}
            with st.form("role"):
                email = st.selectbox("User", list(by_email), key="role_user")
                role = st.selectbox("Role", ["user", "admin"], key="role_value")
                if st.form_submit_button("Change role") and attempt(
                    lambda: client.set_role(by_email[str(email)]["id"], str(role))
                ):
                    st.success(f"{email} is now {role}.")
            with st.form("active"):
                email = st.selectbox("User", list(by_email), key="active_user")
                state = st.radio("Account", ["active", "deactivated"], key="active_value", horizontal=True)
                if st.form_submit_button("Set account") and attempt(
                    lambda: client.set_active(by_email[str(email)]["id"], state == "active")
                ):
                    st.success(f"{email} is now {state}.")
            with st.form("delete_user"):
                email = st.selectbox("User", list(by_email), key="delete_user")
                if st.form_submit_button("Delete account") and attempt(
                    lambda: client.delete_user(by_email[str(email)]["id"]) or True
                ):
                    st.success(f"{email} is deleted, with all its data.")
    with audit_tab:
        action = st.selectbox("Action", ACTIONS, key="audit_action")
        actor = st.text_input("Actor id", key="audit_actor")
        trail = attempt(lambda: client.audit(action=action, actor_id=actor.strip(), limit=100))
        if trail:
            st.dataframe(
                [
                    {
                        "occurred_at": event["occurred_at"],
                        "action": event["action"],
                        "actor": event["actor_id"],
                        "target": (event["target"] or {}).get("id"),
                        "source_ip": event["source_ip"],
                        "request_id": event["request_id"],
                    }
                    for event in trail["items"]
                ],
                width="stretch",
                hide_index=True,
            )


def github_page() -> None:
    st.header("GitHub lookup")
    username = st.text_input("GitHub username", key="github_username")
    if st.button("Look up", key="github_lookup") and username:
        profile = attempt(lambda: client.github_user(username))
        if profile:
            st.subheader(f"{profile['name'] or profile['login']} ({profile['login']})")
            st.write(f"{profile['public_repos']} public repositories · {profile['followers']} followers")
            st.write(profile["html_url"])


def health_page() -> None:
    st.header("Health")
    report = attempt(client.health)
    if report:
        st.metric("Status", report["status"], help=f"version {report['version']}")
        for name, check in report["checks"].items():
            st.write(f"**{name}**: {check['status']} ({check['latency_ms']} ms)")


PAGES = {
    "Sign in": sign_in_page,
    "Watchlist": watchlist_page,
    "Add": add_page,
    "Account": account_page,
    "Admin": admin_page,
    "GitHub": github_page,
    "Health": health_page,
}


def reset_page() -> None:
    st.header("Choose a new password")
    token: str | None = st.session_state.get("link_token")
    if st.session_state.get("reset_done"):
        st.success("Your password is changed, and every session of your account has ended: sign in with the new one.")
    elif not token:
        st.warning("Open this page through the link in your e-mail; or ask for a new link (it works once).")
        forgot_form()
    else:
        with st.form("reset"):
            new = st.text_input("New password (8 to 128 characters)", type="password", key="reset_new")
            again = st.text_input("The new password again", type="password", key="reset_again")
            if st.form_submit_button("Set the new password"):
                if new != again:
                    st.error("The two passwords differ.")
                elif attempt(lambda: client.reset_password(token, new) or True):
                    st.session_state["reset_done"] = True
                    del st.session_state["link_token"]  # used up
                    st.rerun()
    leave_link_page("Sign in")


def verify_page() -> None:
    """Confirms the address as soon as the link opens (once: its outcome is kept for the session's reruns)."""
    st.header("Confirm your e-mail address")
    token: str | None = st.session_state.pop("link_token", None)
    if token:
        try:
            client.confirm_email(token)
            st.session_state["verify_outcome"] = ("success", "Your e-mail address is confirmed. Thank you!")
        except Problem as problem:
            st.session_state["verify_outcome"] = ("error", explain(problem))
    kind, message = st.session_state.get(
        "verify_outcome", ("warning", "Open this page through the link in your e-mail.")
    )
    getattr(st, kind)(message)
    leave_link_page("Go to Watchlist")


def leave_link_page(label: str) -> None:
    if st.button(label, key="leave_link"):
        st.session_state["link"] = None
        st.rerun()


LINK_PAGES: dict[str, Callable[[], None]] = {"reset": reset_page, "verify": verify_page}


# Takes the token off the URL in place (history.replaceState): neither the address bar nor the Back button's entry
# keeps it. Deleting it from st.query_params first would not: Streamlit pushes the shortened URL as a new entry.
_CLEAN_ADDRESS = """<script>
const url = new URL(window.location.href);
url.searchParams.delete("token");
window.history.replaceState(window.history.state, "", url);
</script>"""


def opened_link() -> str | None:
    """The mailed link this browser session began at (`/reset?token=...`, `/verify?token=...`), if any: which page,
    from the URL's path; its token moves from the URL into the session."""
    if "link" not in st.session_state:
        page = urlsplit(st.context.url or "").path.rstrip("/").rpartition("/")[2]
        st.session_state["link"] = page if page in LINK_PAGES else None
    link: str | None = st.session_state["link"]
    if link and "token" in st.query_params:
        if "link_read" in st.session_state:
            # The address bar lost it already: now Streamlit forgets it too (with no new history entry, the URL
            # being the same), and the browser no longer sends it along with each rerun.
            del st.query_params["token"]
        else:
            st.session_state["link_read"] = True
            st.session_state["link_token"] = st.query_params["token"]
            st.html(_CLEAN_ADDRESS, unsafe_allow_javascript=True)
    return link


def rate_limit_state() -> None:
    """Last, so it shows the limit as the page's own requests left it."""
    if session.rate_limit:
        limit = session.rate_limit
        st.sidebar.caption(
            f"Rate limit `{limit.policy}`: {limit.remaining} of {limit.limit} left, resets in {limit.reset_seconds} s"
        )


class NoReferrer:
    """ASGI middleware: `Referrer-Policy: no-referrer` on every HTTP answer of the front end's server, the page of
    `/reset?token=...` among them, so the browser sends that URL to no one (not even along with this server's own
    scripts and styles)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"referrer-policy", b"no-referrer")]
            await send(message)

        await self.app(scope, receive, send_with_policy)


if __name__ == "__main__":  # a run of the script, for one browser session
    st.set_page_config(page_title="Watchlist", layout="wide")
    session = st.session_state.setdefault("session", Session())
    # One client per browser session, kept across reruns: its connection to the API stays open.
    if "client" not in st.session_state:
        api_url = os.environ.get("WATCHLIST_API_URL", "http://127.0.0.1:8000")
        st.session_state["client"] = WatchlistClient(api_url, session)
    client = st.session_state["client"]
    link = opened_link()
    if link:
        LINK_PAGES[link]()
    else:
        PAGES[sidebar()]()
    rate_limit_state()
else:  # `streamlit run frontend/app.py` imports this file once, finds `app`, and serves the script through it
    app = st.App(__file__, middleware=[Middleware(NoReferrer)])
    # uvicorn, which serves it, stops gracefully on SIGTERM and then raises the signal again for the handler found
    # before it started: this one, so that a stop (docker compose, make dev) ends with status 0, not 143.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
