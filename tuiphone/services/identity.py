"""Who the phone is, for Action URL and idle-screen variables: $mac, $phone_ip, $product, $program_version."""

from __future__ import annotations

import fcntl
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from tuiphone import __version__

PRODUCT = "tuiphone"
_SIOCGIFADDR = 0x8915
SYS_NET = Path("/sys/class/net")


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of a network interface (Linux ioctl), or None."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        return None
    finally:
        sock.close()


def mac_for_ip(ip: str, sys_net: Path = SYS_NET) -> str:
    """The MAC (12 lowercase hex digits, like the GXP's $mac) of the interface with `ip`;
    for an unknown or wildcard address, the first interface with a real MAC; "" when there is none."""
    names = sorted(p.name for p in sys_net.iterdir()) if sys_net.is_dir() else []
    macs: dict[str, str] = {}
    for name in names:
        try:
            macs[name] = (sys_net / name / "address").read_text().strip().replace(":", "").lower()
        except OSError:
            continue
    for name, mac in macs.items():
        if interface_ipv4(name) == ip:
            return mac
    return next((mac for mac in macs.values() if mac.strip("0")), "")


@dataclass(frozen=True)
class PhoneIdentity:
    mac: str
    phone_ip: str
    product: str = PRODUCT
    program_version: str = __version__

    @classmethod
    def of(cls, phone: object) -> PhoneIdentity:
        """The identity of a running phone: the address its SIP transport uses, and that interface's MAC."""
        try:
            address = phone.backend.local_address()          # type: ignore[attr-defined]
        except Exception:           # no UDP transport: TCP/TLS only, or not started
            address = ""
        host = address[1:].split("]", 1)[0] if address.startswith("[") else address.rsplit(":", 1)[0]
        return cls(mac=mac_for_ip(host), phone_ip=host)
