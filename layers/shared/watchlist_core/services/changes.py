"""The port through which services announce that a user's data changed (the response cache listens)."""

from __future__ import annotations

from typing import Protocol


class DataChangeListener(Protocol):
    def user_data_changed(self, user_id: str) -> None: ...
