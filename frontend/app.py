"""Watchlist, the Streamlit front end: a client of the API over HTTP only (WATCHLIST_API_URL).

streamlit run frontend/app.py      (or FRONTEND=1 make dev, which starts it beside the API)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

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
    "account.profile_changed",
    "item.created",
    "item.updated",
    "item.deleted",
    "admin.role_changed",
    "admin.account_deactivated",
    "admin.account_reactivated",
    "admin.item_deleted",
]

st.set_page_config(page_title="Watchlist", layout="wide")
session: Session = st.session_state.setdefault("session", Session())
# One client per browser session, kept across reruns: its connection to the API stays open.
if "client" not in st.session_state:
    st.session_state["client"] = WatchlistClient(os.environ.get("WATCHLIST_API_URL", "http://127.0.0.1:8000"), session)
client: WatchlistClient = st.session_state["client"]


def attempt(action: Callable[[], Any]) -> Any:
    """Run an API call; show its problem details (and when to retry) instead of failing the page."""
    try:
        return action()
    except Problem as problem:
        message = f"**{problem.status} {problem.title}**: {problem.detail}"
        if problem.retry_after:
            message += f" Retry in {problem.retry_after} s."
        for error in problem.errors:
            message += f"\n- `{'.'.join(str(part) for part in error['loc'])}`: {error['msg']}"
        st.error(message + f"\n\nrequest id `{problem.request_id}`")
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
            st.success("Registered: you can log in now.")


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


def rate_limit_state() -> None:
    """Last, so it shows the limit as the page's own requests left it."""
    if session.rate_limit:
        limit = session.rate_limit
        st.sidebar.caption(
            f"Rate limit `{limit.policy}`: {limit.remaining} of {limit.limit} left, resets in {limit.reset_seconds} s"
        )


PAGES[sidebar()]()
rate_limit_state()
