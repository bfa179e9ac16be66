from __future__ import annotations

import pytest

from bot.gateway.addresses import Network, address_of, networks

PROXIES = networks(["10.0.0.1", "192.168.0.0/16"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # No trusted proxies: the header is anyone's to write, so it is ignored.
        ("203.0.113.7", ["1.2.3.4"], (), "203.0.113.7"),
        # A peer that is not a trusted proxy: ignored too.
        ("203.0.113.7", ["1.2.3.4"], PROXIES, "203.0.113.7"),
        # Behind the proxy: the address it saw.
        ("10.0.0.1", ["198.51.100.9"], PROXIES, "198.51.100.9"),
        # A client that forges the start of the list does not get to choose.
        ("10.0.0.1", ["1.2.3.4, 198.51.100.9"], PROXIES, "198.51.100.9"),
        # Two trusted hops.
        ("10.0.0.1", ["198.51.100.9, 192.168.4.4"], PROXIES, "198.51.100.9"),
        ("10.0.0.1", ["198.51.100.9", "192.168.4.4"], PROXIES, "198.51.100.9"),
        # Only proxies in the list: the first one named.
        ("10.0.0.1", ["192.168.4.4"], PROXIES, "192.168.4.4"),
        ("10.0.0.1", [], PROXIES, "10.0.0.1"),
    ],
)
def test_client_address(
    peer: str, forwarded: list[str], trusted: tuple[Network, ...], expected: str
) -> None:
    assert address_of(peer, forwarded, trusted) == expected
