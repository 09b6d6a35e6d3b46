"""The local mailbox: every mail the local SES (moto's) sent, as one JSON line each in a file the moto server
appends to (infra/local/moto_atomic.py) and the local gateway serves at /_local/mailbox: JSON newest first, or a page
for a browser. `make dev` prints each new one as a line. Deployed stacks have no such path: SES sends real mail."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAILBOX_VARIABLE = "LOCAL_MAILBOX"  # the file's path, for the moto server that writes it
MAILBOX_PATH = "/_local/mailbox"
_LINK = re.compile(r"https?://\S+")
_LOCK = threading.Lock()


def record(path: Path, to: str, subject: str, text: str) -> None:
    line = json.dumps(
        {"to": to, "subject": subject, "text": text, "sent_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    with _LOCK, path.open("a", encoding="utf-8") as mailbox:
        mailbox.write(line + "\n")


def messages(path: Path) -> list[dict[str, Any]]:
    """Every message, newest first."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in reversed(lines) if line.strip()]


def one_line(message: dict[str, Any]) -> str:
    """How `make dev` prints a message: to whom, what, and its link if it has one."""
    link = _LINK.search(message["text"])
    return f"mail to {message['to']}: {message['subject']}" + (f"  {link[0]}" if link else "")


def page(path: Path) -> str:
    """The mailbox for a person in a browser: newest first, links clickable."""
    entries = []
    for message in messages(path):
        text = _LINK.sub(lambda link: f'<a href="{link[0]}">{link[0]}</a>', html.escape(message["text"]))
        entries.append(
            f"<article><h2>{html.escape(message['subject'])}</h2><p>to {html.escape(message['to'])}, "
            f"{html.escape(message['sent_at'])}</p><pre>{text}</pre></article>"
        )
    body = "\n".join(entries) or "<p>No mail yet.</p>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
        "<title>Local mailbox</title><style>body{font-family:sans-serif;max-width:50rem;margin:auto}"
        "article{border-bottom:1px solid #ccc}pre{white-space:pre-wrap}</style></head>"
        f"<body><h1>Local mailbox</h1>{body}</body></html>"
    )


def answer(path: Path, accept: str) -> tuple[bytes, str]:
    """The body and content type of GET /_local/mailbox: JSON, newest first; the page when a browser asks for HTML."""
    if "text/html" in accept:
        return page(path).encode(), "text/html; charset=utf-8"
    return json.dumps(messages(path)).encode(), "application/json"


def follow(path: Path, say: Callable[[str], None], stop: threading.Event, interval: float = 0.5) -> None:
    """Says each message of the file, as one line, as it comes, until `stop` is set: then those not said yet."""
    seen = 0
    while True:
        stopping = stop.wait(interval)
        if not path.exists() or path.stat().st_size <= seen:
            if stopping:
                return
            continue
        with path.open("rb") as mailbox:
            mailbox.seek(seen)
            added = mailbox.read()
        complete = added[: added.rfind(b"\n") + 1]
        seen += len(complete)
        for line in complete.decode("utf-8").splitlines():
            if line.strip():
                say(one_line(json.loads(line)))
        if stopping:
            return


@contextmanager
def printing(path: Path, say: Callable[[str], None]) -> Iterator[None]:
    """Each new message said as one line while inside; on the way out, those sent last too."""
    stop = threading.Event()
    printer = threading.Thread(target=follow, args=(path, say, stop), daemon=True)
    printer.start()
    try:
        yield
    finally:
        stop.set()
        printer.join(2)
