"""Telling a Hub outage (retry later) from a real answer, whatever HTTP client the Hub libraries use."""

from __future__ import annotations

from typing import Final

_NETWORK_ERROR_NAMES: Final = (
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "TimeoutException",
    "NetworkError",
)


def is_network_error(exc: BaseException) -> bool:
    """True for failures worth retrying later: no connection, timeouts, a 5xx, offline without a cache."""
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if isinstance(exc, ConnectionError | TimeoutError | LocalEntryNotFoundError):
        return True
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return status is None or status >= 500
    return any(cls.__name__ in _NETWORK_ERROR_NAMES for cls in type(exc).__mro__)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
