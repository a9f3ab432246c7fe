"""Who is asking, and how often: the client identity of a request and per-client request limits.

A client is its IP address (``scope["client"]``, which the trusted-proxy middleware has already replaced
with the X-Forwarded-For address when the request came through a configured proxy) and, when signed in,
its Hugging Face user. Dry runs are limited here, in memory, per web process; submissions are limited in
the database, inside the transaction that records them (app/services/submissions.py).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from fastapi import Request

from app.errors import TryAgainLaterError

SESSION_USER_KEY = "user"


@dataclass(frozen=True, slots=True)
class Submitter:
    """The client behind a request: its address, and its Hub user name when signed in."""

    address: str
    user: str | None = None

    def limit_keys(self) -> tuple[str, ...]:
        keys = [f"ip:{self.address}"]
        if self.user:
            keys.append(f"user:{self.user.lower()}")
        return tuple(keys)


def submitter_of(request: Request) -> Submitter:
    address = request.client.host if request.client else "unknown"
    user: str | None = None
    if "session" in request.scope:
        signed_in = request.session.get(SESSION_USER_KEY)
        if isinstance(signed_in, dict) and isinstance(signed_in.get("name"), str):
            user = signed_in["name"]
    return Submitter(address=address, user=user)


class TooManyRequestsError(TryAgainLaterError):
    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, status_code=429, retry_after_s=retry_after_s)


class SlidingWindowLimiter:
    """At most ``limit`` hits per key in any ``window_s`` seconds; thread-safe; old keys are forgotten."""

    def __init__(self, *, limit: int, window_s: float, what: str) -> None:
        self.limit = limit
        self.window_s = window_s
        self.what = what
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    def hit(self, keys: tuple[str, ...]) -> None:
        """Count one request for every key, or raise TooManyRequestsError (counting nothing)."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            for key in keys:
                hits = self._hits.setdefault(key, deque())
                while hits and hits[0] <= now - self.window_s:
                    hits.popleft()
                if len(hits) >= self.limit:
                    wait = math.ceil(hits[0] + self.window_s - now)
                    raise TooManyRequestsError(
                        f"Too many {self.what} from you: the limit is {self.limit} in "
                        f"{_seconds_in_words(self.window_s)}. Please try again in {max(wait, 1)} seconds.",
                        wait,
                    )
            for key in keys:
                self._hits[key].append(now)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window_s:
            return
        self._last_sweep = now
        stale = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window_s]
        for key in stale:
            del self._hits[key]


def _seconds_in_words(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "an hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "a minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} seconds"
