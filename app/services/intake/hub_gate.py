"""A process-wide gate in front of every Hub call made for a request.

At most ``slots`` jobs talk to the Hub at once, each in a thread of the gate's own pool, so the threads
that serve the other pages are never taken by a slow Hub. A request waits at most ``wait_s`` for a slot
(asynchronously: waiting holds no thread and no database connection) and its job gets ``deadline_s``;
either limit answers 503 with Retry-After. A job the deadline gave up on keeps its slot until its last Hub
request times out, so a stalled Hub can never hold more than ``slots`` threads.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from app.errors import TryAgainLaterError

T = TypeVar("T")
_POLL_S = 0.05
# Time the waiting request allows past the deadline, for a job that checked it just in time to finish its
# last short database step.
_FINISH_GRACE_S = 2.0


class HubBusyError(TryAgainLaterError):
    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, status_code=503, retry_after_s=retry_after_s)


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a job must have finished talking to the Hub (``time.monotonic`` seconds)."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0


class HubGate:
    def __init__(self, *, slots: int, wait_s: float, deadline_s: float) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self.deadline_s = deadline_s
        self._free = threading.BoundedSemaphore(slots)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="hub-gate")
        self._busy = 0
        self._waiting = 0
        self._busy_lock = threading.Lock()

    @property
    def busy(self) -> int:
        """Jobs holding a slot now (running, or given up on and still waiting for the Hub)."""
        with self._busy_lock:
            return self._busy

    @property
    def waiting(self) -> int:
        """Requests waiting for a free slot now."""
        with self._busy_lock:
            return self._waiting

    def _retry_after(self) -> int:
        return max(math.ceil(self.deadline_s), 1)

    async def _take_slot(self) -> bool:
        if not self._free.acquire(blocking=False) and not await self._wait_for_slot():
            return False
        with self._busy_lock:
            self._busy += 1
        return True

    async def _wait_for_slot(self) -> bool:
        give_up = time.monotonic() + self.wait_s
        with self._busy_lock:
            self._waiting += 1
        try:
            while time.monotonic() < give_up:
                await asyncio.sleep(_POLL_S)
                if self._free.acquire(blocking=False):
                    return True
            return False
        finally:
            with self._busy_lock:
                self._waiting -= 1

    def _give_back_slot(self) -> None:
        with self._busy_lock:
            self._busy -= 1
        self._free.release()

    async def run(self, job: Callable[[Deadline], T]) -> T:
        """Run ``job(deadline)`` in the gate's pool; 503 (HubBusyError) when no slot frees up in time or
        the job outlives its deadline."""
        if not await self._take_slot():
            raise HubBusyError(
                "Too many Hub checks are running right now (the Hub may be slow); "
                f"please try again in {self._retry_after()} seconds.",
                self._retry_after(),
            )
        deadline = Deadline.after(self.deadline_s)

        def guarded() -> T:
            try:
                return job(deadline)
            finally:
                self._give_back_slot()

        try:
            future = self._pool.submit(guarded)
        except BaseException:
            self._give_back_slot()
            raise
        waited = asyncio.wrap_future(future)
        waited.add_done_callback(_consume_outcome)
        try:
            return await asyncio.wait_for(asyncio.shield(waited), self.deadline_s + _FINISH_GRACE_S)
        except TimeoutError:
            raise HubBusyError(
                f"The Hugging Face Hub did not answer within {self.deadline_s:g} seconds; "
                f"please try again in {self._retry_after()} seconds.",
                self._retry_after(),
            ) from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    """Read the outcome of a job nobody waits for any more, so asyncio does not report it as lost."""
    if not future.cancelled():
        future.exception()
