"""Clients of third-party APIs, and what protects the service from them (timeouts, retries, a breaker)."""
