"""The local mailbox: what moto's SES sent, newest first, as a line each for make dev and as a page."""

from __future__ import annotations

import threading
from pathlib import Path

from infra.local.mailbox import follow, messages, one_line, page, record


def test_messages_come_newest_first_and_a_page_shows_them_escaped_with_live_links(tmp_path: Path) -> None:
    mailbox = tmp_path / "mailbox.jsonl"
    assert messages(mailbox) == []
    assert "No mail yet." in page(mailbox)
    record(mailbox, "ann@example.com", "First", "no link here")
    record(mailbox, "bob@example.com", "<b>Reset</b>", "Here:\nhttp://127.0.0.1:8501/reset?token=a.b&x=1\n")
    assert [m["subject"] for m in messages(mailbox)] == ["<b>Reset</b>", "First"]
    shown = page(mailbox)
    assert "&lt;b&gt;Reset&lt;/b&gt;" in shown
    assert '<a href="http://127.0.0.1:8501/reset?token=a.b&amp;x=1">' in shown
    assert shown.index("Reset") < shown.index("First")
    assert one_line(messages(mailbox)[0]) == (
        "mail to bob@example.com: <b>Reset</b>  http://127.0.0.1:8501/reset?token=a.b&x=1"
    )
    assert one_line(messages(mailbox)[1]) == "mail to ann@example.com: First"


def test_follow_says_each_message_once_and_those_left_when_stopped(tmp_path: Path) -> None:
    mailbox = tmp_path / "mailbox.jsonl"
    record(mailbox, "first@example.com", "Before", "sent before make dev followed")
    said: list[str] = []
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(mailbox, said.append, stop, 0.01))
    follower.start()
    record(mailbox, "new@example.com", "After", "text")
    record(mailbox, "new@example.com", "Later", "text")
    stop.set()
    follower.join()
    assert said == [
        "mail to first@example.com: Before",
        "mail to new@example.com: After",
        "mail to new@example.com: Later",
    ]
