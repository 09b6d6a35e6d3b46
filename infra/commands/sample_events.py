"""The sample events under events/: loading one with its {{placeholders}} filled, and the function it belongs to
(the folder under events/ names it: api, the HTTP API; audit, the audit queue's consumer; relay, the scheduled outbox
relay; mail, the mail queue's consumer, which sends account mail through SES).

Placeholders, filled with a freshly registered user: {{access_token}}, {{refresh_token}}, {{admin_token}},
{{user_id}}, {{item_id}}, {{email}}, {{password}}, {{unique}}, and new audit event ids {{event_id_1}} to
{{event_id_3}}. `make invoke` and the tests fill them through the same loader.
"""

from __future__ import annotations

import importlib
import json
import uuid
from pathlib import Path
from typing import Any

from ulid import ULID

from infra import ROOT
from infra.aws.template import load_template
from watchlist_core.domain import Credentials, ItemDraft, ItemType, Registration
from watchlist_core.wiring import get_services

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 (a throwaway local demo account)
LOCAL_ADDRESS = "127.0.0.1"  # where the demo logins come from, for the login throttle
EVENTS_ROOT = ROOT / "events"
FUNCTION_MODULES = {
    "api": "watchlist_api.handler",
    "audit": "watchlist_audit.handler",
    "relay": "watchlist_audit.relay",
    "mail": "watchlist_mail.handler",
}


def placeholder_values() -> dict[str, str]:
    """A new user with one item and a session, and a new admin: the values sample events refer to."""
    auth = get_services().auth
    unique = uuid.uuid4().hex[:12]
    email = f"demo-{unique}@example.com"
    user = auth.register(Registration(email=email, password=DEMO_PASSWORD, display_name="Demo"))
    tokens = auth.login(Credentials(email=email, password=DEMO_PASSWORD), LOCAL_ADDRESS)
    item = get_services().watchlists.add(user.id, ItemDraft(title="Arrival", type=ItemType.MOVIE, year=2016))
    admin_email = f"admin-{unique}@example.com"
    auth.ensure_admin(admin_email, DEMO_PASSWORD)
    admin_tokens = auth.login(Credentials(email=admin_email, password=DEMO_PASSWORD), LOCAL_ADDRESS)
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "admin_token": admin_tokens.access_token,
        "user_id": user.id,
        "item_id": item.id,
        "email": email,
        "password": DEMO_PASSWORD,
        "unique": unique,
        "event_id_1": str(ULID()),
        "event_id_2": str(ULID()),
        "event_id_3": str(ULID()),
    }


def load_event(path: Path, values: dict[str, str]) -> dict[str, Any]:
    """A sample event with its {{placeholders}} replaced (values are JSON-safe: ids, tokens, e-mails)."""
    text = path.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    event: dict[str, Any] = json.loads(text)
    return event


def handler_for(path: Path) -> Any:
    """The handler of the function whose folder under events/ holds `path` (imported on first use)."""
    function = path.resolve().relative_to(EVENTS_ROOT).parts[0]
    return importlib.import_module(FUNCTION_MODULES[function]).handler


def function_for(path: Path) -> str:
    """The template's logical id of the function whose folder under events/ holds `path` (for `sam local`)."""
    handler = FUNCTION_MODULES[path.resolve().relative_to(EVENTS_ROOT).parts[0]] + ".handler"
    resources: dict[str, dict[str, Any]] = load_template()["Resources"]
    return next(
        name for name, resource in resources.items() if resource.get("Properties", {}).get("Handler") == handler
    )
