"""A GitHub user's public profile, as the API answers it: apart from the client (github.py), which the first
GitHub lookup imports, so that the app's routes, which name the model, do not import the client with them."""

from __future__ import annotations

from watchlist_core.domain import Model


class GitHubProfile(Model):
    login: str
    name: str | None
    public_repos: int
    followers: int
    html_url: str
    avatar_url: str
