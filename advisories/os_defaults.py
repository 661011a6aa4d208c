"""The iptables backend each OS release's own tools use by default (``host-iptables-mode``).

iptables 1.8 has two backends, legacy (x_tables) and nft (nf_tables); which one ``iptables``
runs on a host is the distribution's choice (its alternatives priority, or the only one it
ships). Where a release's default is verified from the distribution's own sources, a node's OS
image settles ``host-iptables-mode``; the value is labelled as an OS default, not as read, since
an administrator may have switched the host. Releases not listed here stay unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["OS_DEFAULT", "OS_IPTABLES_DEFAULTS", "OsIptablesDefault", "iptables_default"]

OS_DEFAULT: Final = "OS default"
"""How evidence and answers label a value taken from this table."""


@dataclass(frozen=True, slots=True)
class OsIptablesDefault:
    """The default iptables backend of one OS release, with where that is documented."""

    os_name: str
    """An :data:`advisories.derive.OS_RELEASES` name (``Ubuntu 22.04``)."""
    mode: str
    """``nft`` or ``legacy``."""
    source: str
    """The distribution's own document that says so."""
    note: str


_REDHAT_BLOG: Final = (
    "https://developers.redhat.com/blog/2020/08/18/"
    "iptables-the-two-variants-and-their-relationship-with-nftables"
)
_RHEL8: Final = (
    "https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/8/html/"
    "considerations_in_adopting_rhel_8/networking_considerations-in-adopting-rhel-8"
)
_RHEL9: Final = (
    "https://docs.redhat.com/en/documentation/red_hat_enterprise_linux/10/html/"
    "configuring_firewalls_and_packet_filters/migrating-from-iptables-to-nftables"
)
_UBUNTU: Final = "https://lists.ubuntu.com/archives/ubuntu-devel/2020-August/041142.html"
_DEBIAN: Final = (
    "https://salsa.debian.org/pkg-netfilter-team/pkg-iptables/-/blob/master/debian/README.Debian"
)

OS_IPTABLES_DEFAULTS: Final = (
    OsIptablesDefault(
        "CentOS/RHEL 7",
        "legacy",
        _REDHAT_BLOG,
        "iptables 1.4.21, which has no nft backend ('root@rhel-7 # iptables -V: v1.4.21')",
    ),
    OsIptablesDefault(
        "CentOS/RHEL/Rocky/Alma 8",
        "nft",
        _RHEL8,
        "RHEL 8 replaces iptables with nftables; iptables is iptables-nft (v1.8.4 (nf_tables))",
    ),
    OsIptablesDefault(
        "RHEL/Rocky/Alma 9",
        "nft",
        _RHEL9,
        "RHEL 9 ships iptables only as iptables-nft (deprecated in favour of nft)",
    ),
    OsIptablesDefault(
        "Ubuntu 18.04",
        "legacy",
        _UBUNTU,
        "Ubuntu switched iptables to the nft backend in 20.10; earlier releases use legacy",
    ),
    OsIptablesDefault(
        "Ubuntu 20.04",
        "legacy",
        _UBUNTU,
        "'The 20.04 LTS release cycle was not an ideal time to perform the switch'; 20.10 did it",
    ),
    OsIptablesDefault("Ubuntu 22.04", "nft", _UBUNTU, "nft by default since 20.10"),
    OsIptablesDefault("Ubuntu 24.04", "nft", _UBUNTU, "nft by default since 20.10"),
    OsIptablesDefault(
        "Debian 10",
        "nft",
        _DEBIAN,
        "the iptables package gives the nft variant the higher alternatives priority (buster+)",
    ),
    OsIptablesDefault("Debian 11", "nft", _DEBIAN, "nft variant preferred since Debian 10"),
    OsIptablesDefault("Debian 12", "nft", _DEBIAN, "nft variant preferred since Debian 10"),
)
"""Verified defaults. Not verified, hence unknown: Amazon Linux 2 and 2023, openEuler, Kylin,
and any release :func:`advisories.derive.parse_os` does not recognise."""

_BY_NAME: Final = {d.os_name: d for d in OS_IPTABLES_DEFAULTS}


def iptables_default(os_name: str | None) -> OsIptablesDefault | None:
    """The verified default of a recognised OS release, or None."""
    return _BY_NAME.get(os_name) if os_name else None
