"""Shared short-lived state in Redis: rate-limit counters, the response cache and revoked tokens.

Every key of one user carries the hash tag `{u:<id>}`, so one user's keys share a cluster slot and
one pipeline can touch them all.
"""
