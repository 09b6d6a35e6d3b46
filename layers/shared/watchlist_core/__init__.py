"""Watchlist domain core shared by every function through the shared Lambda layer."""

__version__ = "0.1.0"
