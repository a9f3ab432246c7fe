"""Who is asking, and how often: the client identity of a request and per-client request limits.

A client is its IP address (``scope["client"]``, which the trusted-proxy middleware has already replaced
with the X-Forwarded-For address when the request came through a configured proxy) and, when signed in,
its Hugging Face user. Model checks (dry runs, and the checks of every submission) are limited here: in
memory per web process by default, or in Redis shared by every web process when ``LIMITS_URL`` names one.
Submissions are limited in the database, inside the transaction that records them
(app/services/intake/submissions.py).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fastapi import Request

from app.errors import TryAgainLaterError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from app.config import Settings

SESSION_USER_KEY = "user"
REDIS_KEY_PREFIX = "rewardboard:limit:"
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Submitter:
    """The client behind a request: its address, and its Hub user name when signed in."""

    address: str
    user: str | None = None
    maintainer: bool = False  # a maintainer's request: the submission and check limits do not apply

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


class RequestLimiter(Protocol):
    async def hit(self, keys: tuple[str, ...]) -> None:
        """Count one request for every key, or raise TooManyRequestsError (counting nothing)."""


class SlidingWindowLimiter:
    """At most ``limit`` hits per key in any ``window_s`` seconds, in this process; thread-safe; old keys
    are forgotten."""

    def __init__(self, *, limit: int, window_s: float, what: str) -> None:
        self.limit = limit
        self.window_s = window_s
        self.what = what
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    async def hit(self, keys: tuple[str, ...]) -> None:
        self.hit_now(keys)

    def hit_now(self, keys: tuple[str, ...]) -> None:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            for key in keys:
                hits = self._hits.setdefault(key, deque())
                while hits and hits[0] <= now - self.window_s:
                    hits.popleft()
                if len(hits) >= self.limit:
                    raise too_many(self.what, self.limit, self.window_s, hits[0] + self.window_s - now)
            for key in keys:
                self._hits[key].append(now)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window_s:
            return
        self._last_sweep = now
        stale = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window_s]
        for key in stale:
            del self._hits[key]


# One atomic step for all keys, on Redis's clock: drop the hits that left the window; if a key is full,
# answer the seconds until its oldest hit leaves; else record this hit under every key.
_REDIS_SLIDING_WINDOW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window_ms = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window_ms)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tonumber(oldest[2]) + window_ms - now_ms
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now_ms, ARGV[3])
  redis.call('PEXPIRE', key, window_ms)
end
return -1
"""


class RedisSlidingWindowLimiter:
    """The same limit, counted in Redis so that every web process shares it.

    When Redis cannot be reached the request is let through and a warning logged: a limiter that is down
    must not stop people from checking models (the submission limits in the database still hold).
    """

    def __init__(self, client: Redis, *, limit: int, window_s: float, what: str, name: str) -> None:
        self.client = client
        self.limit = limit
        self.window_s = window_s
        self.what = what
        self.prefix = f"{REDIS_KEY_PREFIX}{name}:"
        self._script = client.register_script(_REDIS_SLIDING_WINDOW)

    @classmethod
    def from_url(
        cls, url: str, *, limit: int, window_s: float, what: str, name: str
    ) -> RedisSlidingWindowLimiter:
        from redis.asyncio import Redis

        client = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(client, limit=limit, window_s=window_s, what=what, name=name)

    async def hit(self, keys: tuple[str, ...]) -> None:
        from redis.exceptions import RedisError

        window_ms = int(self.window_s * 1000)
        member = uuid.uuid4().hex
        try:
            wait_ms = int(
                await self._script(
                    keys=[self.prefix + key for key in keys], args=[window_ms, self.limit, member]
                )
            )
        except (RedisError, OSError) as error:
            logger.warning("request limits unavailable (%s); letting the request through", error)
            return
        if wait_ms >= 0:
            raise too_many(self.what, self.limit, self.window_s, wait_ms / 1000)


def check_limiter(settings: Settings) -> RequestLimiter:
    """The limit on model checks per client: shared through Redis when ``limits_url`` is set."""
    options = {"limit": settings.client_validation_limit, "window_s": settings.client_validation_window_s}
    if settings.limits_url:
        return RedisSlidingWindowLimiter.from_url(
            settings.limits_url, **options, what="model checks", name="checks"
        )
    return SlidingWindowLimiter(**options, what="model checks")


def too_many(what: str, limit: int, window_s: float, wait_s: float) -> TooManyRequestsError:
    wait = max(math.ceil(wait_s), 1)
    return TooManyRequestsError(
        f"Too many {what} from you: the limit is {limit} in {_seconds_in_words(window_s)}. "
        f"Please try again in {wait} seconds.",
        wait,
    )


def _seconds_in_words(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "an hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "a minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} seconds"
