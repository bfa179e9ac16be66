"""Where a webhook may point: a public http(s) endpoint, checked when it is made and at each send.

Whoever holds a key with ``webhooks:write`` chooses the URL, and the gateway POSTs to it from
inside the network it runs in: a URL naming 127.0.0.1, 10.0.0.7, the cloud's metadata address
169.254.169.254, or a name that resolves to one of them, would let that caller reach what only
the gateway can (server-side request forgery). So a webhook's host must be, and resolve only to,
public addresses: not loopback, private, link-local, multicast, reserved or unspecified, in IPv4
or IPv6, where an IPv4 address carried in an IPv6 one (``::ffff:127.0.0.1``, 6to4) counts as
itself. ``REFUNDBOT_WEBHOOK_ALLOW_PRIVATE=true`` lifts this for development (``make run``).

:func:`problem` checks a URL when a webhook is made: a name is looked up with the event loop's
``getaddrinfo`` (never blocking it); one that resolves nowhere yet is accepted, as it reaches
nothing. Since what a name resolves to can change, each send is checked again
(:class:`bot.api.delivery.Deliverer`): an address written in the URL by :func:`check_host`, a
name by :class:`PublicResolver` inside the worker's HTTP session (:func:`client_session`), in
the very lookup its connection then uses, so no answer can change in between. Either raises
:class:`Refused` before any connection is opened.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import aiohttp
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from bot.settings import GatewaySettings

MAX_URL_CHARS = 2000
#: How long a lookup may take when a webhook is made (a name not resolved by then is accepted).
LOOKUP_SECONDS = 5.0
_ONLY_PUBLIC = (
    "webhooks only go to public addresses "
    "(REFUNDBOT_WEBHOOK_ALLOW_PRIVATE=true allows others, for development)"
)

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(OSError):
    """A webhook's host is, or resolves to, an address inside the network."""


def inside(address: Address) -> str | None:
    """Return what makes ``address`` one webhooks may not reach, or ``None`` when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is not None:
            return inside(carried)
    kinds = (
        ("a loopback address", address.is_loopback),
        ("an unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("a site-local address", getattr(address, "is_site_local", False)),
        ("not a public address", not address.is_global),
    )
    return next((kind for kind, found in kinds if found), None)


def url_problem(url: str, settings: GatewaySettings) -> str | None:
    """Return why ``url`` cannot be a webhook's, or ``None``; names are not looked up here."""
    if len(url) > MAX_URL_CHARS:
        return f"at most {MAX_URL_CHARS} characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "an absolute http(s) URL, such as https://shop.example/refundbot"
    if parts.username is not None or parts.password is not None:
        return "credentials do not belong in the URL"
    if parts.scheme == "http" and not settings.webhook_allow_http:
        if not (settings.demo_shop and _loopback(host)):
            return "use https (plain http is only for REFUNDBOT_WEBHOOK_ALLOW_HTTP=true)"
    return None if settings.webhook_allow_private else _address_problem(host)


async def problem(url: str, settings: GatewaySettings) -> str | None:
    """Return why ``url`` cannot be a webhook's, looking its host's name up; ``None`` if it can."""
    why = url_problem(url, settings)
    host = urlsplit(url).hostname
    if why is not None or settings.webhook_allow_private or host is None:
        return why
    if _address(host) is not None:  # an address: checked above
        return None
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), LOOKUP_SECONDS
        )
    except (OSError, asyncio.TimeoutError):
        return None  # it reaches nothing now; each send looks it up again
    return _name_problem(host, [str(info[4][0]) for info in found])


def check_host(url: str, *, allow_private: bool) -> None:
    """Raise :class:`Refused` if ``url`` names an address inside the network (names: the resolver).

    The host is read as aiohttp reads it to connect, which skips the resolver for an address.
    """
    host = URL(url).raw_host
    why = None if allow_private or host is None else _address_problem(host)
    if why is not None:
        raise Refused(why)


class PublicResolver(ThreadedResolver):
    """The loop's ``getaddrinfo``, refusing a name with any address inside the network."""

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__()
        self._allow_private = allow_private

    async def resolve(
        self, hostname: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[dict[str, Any]]:
        """Return the addresses of ``hostname``; raise :class:`Refused` if one is not public."""
        found = await super().resolve(hostname, port, family)
        why = None if self._allow_private else _name_problem(hostname, [f["host"] for f in found])
        if why is not None:
            raise Refused(why)
        return found


def client_session(settings: GatewaySettings) -> aiohttp.ClientSession:
    """Return the session webhooks are sent with (in a running loop; the caller closes it).

    A session of its own: no cookies from shops' endpoints, no share of other connections, no
    proxy from the environment (a proxy would look names up itself), and names looked up by
    :class:`PublicResolver`.
    """
    resolver = PublicResolver(allow_private=settings.webhook_allow_private)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=resolver),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


def _address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _address_problem(host: str) -> str | None:
    address = _address(host)
    kind = None if address is None else inside(address)
    return None if kind is None else f"{host} is {kind}: {_ONLY_PUBLIC}"


def _name_problem(host: str, addresses: list[str]) -> str | None:
    for found in addresses:
        address = _address(found)
        kind = "not an IP address" if address is None else inside(address)
        if kind is not None:
            # Not which address: that would tell the caller about the network inside.
            return f"{host} resolves to {kind}: {_ONLY_PUBLIC}"
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback
