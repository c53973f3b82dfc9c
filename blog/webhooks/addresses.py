"""Where a webhook may go (SSRF): public http(s) addresses only, checked at registration
and again at each delivery, whose connection is pinned to the addresses checked (so a
DNS answer changed in between cannot send it inside the network)."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from blog.webhooks.exceptions import InvalidWebhookUrl, WebhookUrlNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Target:
    """Where to connect for a URL: ``url`` (its host replaced by the checked address
    when pinned), with the ``Host`` and TLS server name of the original."""

    url: str
    host: str  # the Host header: the original host[:port]
    server_name: str  # for TLS (SNI and the certificate's check)
    pinned: bool


def parse(url: str) -> SplitResult:
    """The URL's parts, if it may name a webhook at all (InvalidWebhookUrl otherwise)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidWebhookUrl() from error
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise InvalidWebhookUrl()
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidWebhookUrl()
    if port == 0:
        raise InvalidWebhookUrl()
    return parts


def is_internal(address: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified or otherwise not
    globally reachable; an IPv6 address embedding an IPv4 one is judged by both."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None and is_internal(embedded):
            return True
        if address.teredo is not None and any(is_internal(a) for a in address.teredo):
            return True
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 answer may carry a zone ("fe80::1%eth0"): it is link-local all the same.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _port(parts: SplitResult) -> int:
    return parts.port or SCHEMES[parts.scheme]


def check_registration(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that cannot be a webhook, or whose host is internal. A host that
    does not resolve (yet) is accepted: each delivery checks again."""
    parts = parse(url)
    if allow_private:
        return
    assert parts.hostname is not None  # noqa: S101 - parse() saw it
    try:
        addresses = resolve(parts.hostname, _port(parts))
    except (OSError, UnicodeError):
        return
    if any(is_internal(address) for address in addresses):
        raise WebhookUrlNotAllowed()


def target(url: str, *, allow_private: bool) -> Target:
    """Where a delivery connects: the URL's first address, once every address it
    resolves to is checked. Raises WebhookUrlNotAllowed, InvalidWebhookUrl, or OSError
    when the host does not resolve."""
    parts = parse(url)
    assert parts.hostname is not None  # noqa: S101 - parse() saw it
    host = parts.netloc
    if allow_private:
        return Target(url, host, parts.hostname, pinned=False)
    addresses = resolve(parts.hostname, _port(parts))
    if not addresses or any(is_internal(address) for address in addresses):
        raise WebhookUrlNotAllowed()
    first = addresses[0]
    literal = f"[{first}]" if first.version == 6 else str(first)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return Target(parts._replace(netloc=netloc).geturl(), host, parts.hostname, pinned=True)
