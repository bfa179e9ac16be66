"""Where a request comes from: the peer, or the client a trusted reverse proxy names.

``X-Forwarded-For`` is a list each proxy appends the address it saw to; anyone can write the
start of it. It is read from the right, only while the hop that wrote it is a proxy the gateway
was told to trust (``REFUNDBOT_TRUSTED_PROXIES``): the first address not of a trusted proxy is
the client's. Without trusted proxies the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

#: The longest address kept (an IPv6 address with a zone fits).
MAX_ADDRESS_CHARS = 64

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(trusted: Sequence[str]) -> tuple[Network, ...]:
    """Return the trusted proxies' networks (as the settings give them)."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def client_address(request: web.BaseRequest, trusted: Sequence[Network]) -> str:
    """Return the address of the client that made ``request``."""
    return address_of(request.remote or "", request.headers.getall("X-Forwarded-For", []), trusted)


def address_of(peer: str, forwarded_headers: Sequence[str], trusted: Sequence[Network]) -> str:
    """Return the client's address from the peer's and the ``X-Forwarded-For`` headers."""
    if not trusted or not _is_trusted(peer, trusted):
        return peer[:MAX_ADDRESS_CHARS]
    forwarded = [
        hop.strip() for header in forwarded_headers for hop in header.split(",") if hop.strip()
    ]
    for hop in reversed(forwarded):
        if not _is_trusted(hop, trusted):
            return hop[:MAX_ADDRESS_CHARS]
    return (forwarded[0] if forwarded else peer)[:MAX_ADDRESS_CHARS]


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
