"""Where a webhook may point: http or https, no credentials, and only public addresses, after DNS resolution.

A URL is checked when it is submitted and again before every delivery, since a name can resolve elsewhere
later (DNS rebinding). The check resolves the host once and judges every address it resolves to; the
delivery then connects to one of those checked addresses, with the original host in the Host header and
as the TLS server name (``WebhookTarget``), so no second resolution can swap in an address nobody checked.
``WEBHOOK_ALLOW_PRIVATE`` lets tests and one-machine setups deliver to loopback; the rule itself is the same.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# getaddrinfo's signature, so tests can stand in a resolver: (host, port, family, type) -> entries.
Resolver = Callable[..., Sequence[tuple[Any, ...]]]

_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # embeds an IPv4 address in its last 32 bits (RFC 6052)
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


class WebhookUrlError(ValueError):
    """The webhook URL is not acceptable; the message says why, in words."""


class WebhookUnresolvedError(WebhookUrlError):
    """The host name did not resolve (now): at delivery a later try may succeed."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A checked webhook URL and the addresses its host resolved to (all of them allowed)."""

    url: str
    scheme: str
    host: str  # as written (lower case), without brackets
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_webhook_url(url: str) -> SplitResult:
    """The URL's parts when its form is acceptable (http or https, a host, no user or password)."""
    text = url.strip()
    if not text:
        raise WebhookUrlError("The webhook URL is empty.")
    if len(text) > MAX_URL_LENGTH:
        raise WebhookUrlError(f"The webhook URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(character) < 0x21 or ord(character) == 0x7F for character in text):
        raise WebhookUrlError("The webhook URL contains spaces or control characters.")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookUrlError("The webhook URL must start with http:// or https://.")
    if "@" in parts.netloc:
        raise WebhookUrlError("The webhook URL must not contain a user name or password.")
    if not parts.hostname:
        raise WebhookUrlError("The webhook URL has no host name.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise WebhookUrlError("The webhook URL's port is not a number from 1 to 65535.") from None
    if parts.port == 0:
        raise WebhookUrlError("The webhook URL's port is not a number from 1 to 65535.")
    return parts


def address_problem(address: IPAddress) -> str | None:
    """Why a webhook may not go to ``address``, in words; None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            problem = address_problem(embedded)
            if problem is not None:
                return f"{problem} (inside the IPv6 address {address})"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE:
        return "a carrier-grade NAT (shared) address"
    if isinstance(address, ipaddress.IPv6Address) and address in _SITE_LOCAL:
        return "a site-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def check_webhook_url(
    url: str, *, allow_private: bool = False, resolve: Resolver | None = None
) -> WebhookTarget:
    """Check the URL's form, resolve its host and require every address to be public (unless
    ``allow_private``); raises WebhookUrlError with the reason. Blocks on DNS: call it off the event loop."""
    parts = parse_webhook_url(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if scheme == "https" else 80)
    addresses = _resolve(host, port, resolve or socket.getaddrinfo)
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                where = "is" if _literal(host) is not None else f"resolves to {address},"
                raise WebhookUrlError(
                    f"The webhook URL's host {host} {where} {problem}; webhooks are sent only to public "
                    "internet addresses."
                )
    return WebhookTarget(url=url.strip(), scheme=scheme, host=host, port=port, addresses=addresses)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _resolve(host: str, port: int, resolve: Resolver) -> tuple[IPAddress, ...]:
    literal = _literal(host)
    if literal is not None:
        return (literal,)
    try:
        host.encode("idna")
    except UnicodeError:
        raise WebhookUrlError(f"The webhook URL's host name {host!r} is not a valid domain name.") from None
    try:
        entries = resolve(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise WebhookUnresolvedError(
            f"The webhook URL's host name {host} does not resolve to an address."
        ) from None
    addresses: list[IPAddress] = []
    for entry in entries:
        sockaddr = entry[4]
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookUnresolvedError(f"The webhook URL's host name {host} does not resolve to an address.")
    return tuple(addresses)


def host_of(url: str | None) -> str | None:
    """The host a webhook URL points to, for showing (never its path or query, which may hold a token)."""
    if not url:
        return None
    try:
        return parse_webhook_url(url).hostname
    except WebhookUrlError:
        return None
