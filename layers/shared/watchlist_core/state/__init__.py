"""Shared short-lived state in Redis, standalone or cluster: rate-limit counters, the response cache, ended
sessions, the login throttle and third-party lookups. Which keys exist and which hash slot each lives in:
state/keys.py."""
