"""What Status › Network shows, read from the system: interfaces (MAC, IPv4/IPv6, state), gateways and DNS.

`ip -j` (iproute2) is asked first; without it the facts come from /sys, /proc and /etc/resolv.conf.
Parsers take text, so they are tested on recorded output.
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

IP_TIMEOUT_S = 3


@dataclass
class Interface:
    name: str
    mac: str = ""
    state: str = ""                    # UP | DOWN | UNKNOWN (loopback)
    ipv4: list[str] = field(default_factory=list)     # address/prefix
    ipv6: list[str] = field(default_factory=list)


@dataclass
class NetworkFacts:
    interfaces: list[Interface]
    gateways: list[str]                # "192.0.2.1 (eth0)"
    dns: list[str]
    search: list[str]


def parse_ip_addr(text: str) -> list[Interface]:
    """`ip -j addr` -> interfaces."""
    found = []
    for item in json.loads(text or "[]"):
        iface = Interface(item.get("ifname", "?"), item.get("address", ""), item.get("operstate", ""))
        for addr in item.get("addr_info", []):
            where = iface.ipv4 if addr.get("family") == "inet" else iface.ipv6
            where.append(f"{addr.get('local', '')}/{addr.get('prefixlen', '')}")
        found.append(iface)
    return found


def parse_ip_route(text: str) -> list[str]:
    """`ip -j route` (or `ip -j -6 route`) -> the default gateways as "address (device)"."""
    return [f"{r['gateway']} ({r.get('dev', '?')})" for r in json.loads(text or "[]")
            if r.get("dst") == "default" and r.get("gateway")]


def parse_proc_route(text: str) -> list[str]:
    """/proc/net/route -> the default IPv4 gateways (addresses there are little-endian hex)."""
    gateways = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 3 and cols[1] == "00000000" and cols[2] != "00000000":
            address = socket.inet_ntoa(struct.pack("<L", int(cols[2], 16)))
            gateways.append(f"{address} ({cols[0]})")
    return gateways


def parse_if_inet6(text: str) -> dict[str, list[str]]:
    """/proc/net/if_inet6 -> device -> IPv6 address/prefix."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) == 6:
            packed = bytes.fromhex(cols[0])
            found.setdefault(cols[5], []).append(f"{socket.inet_ntop(socket.AF_INET6, packed)}/{int(cols[2], 16)}")
    return found


def parse_resolv_conf(text: str) -> tuple[list[str], list[str]]:
    """/etc/resolv.conf -> (name servers, search domains)."""
    servers, search = [], []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(words[1])
        elif words and words[0] in ("search", "domain"):
            search.extend(words[1:])
    return servers, search


def _ip(*args: str) -> str:
    return subprocess.run(["ip", "-j", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S,
                          check=True).stdout


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _from_sys() -> list[Interface]:
    """Interfaces without iproute2: MAC and state from /sys, IPv4 by ioctl (no prefix), IPv6 from /proc."""
    from tuiphone.services.identity import interface_ipv4

    v6 = parse_if_inet6(_read("/proc/net/if_inet6"))
    found = []
    for dev in sorted(Path("/sys/class/net").glob("*")):
        v4 = interface_ipv4(dev.name)
        found.append(Interface(dev.name, _read(f"{dev}/address").strip(), _read(f"{dev}/operstate").strip().upper(),
                               [v4] if v4 else [], v6.get(dev.name, [])))
    return found


def gather() -> NetworkFacts:
    """Read the network facts now (runs `ip`, so call it off the UI thread)."""
    servers, search = parse_resolv_conf(_read("/etc/resolv.conf"))
    if shutil.which("ip"):
        try:
            gateways = parse_ip_route(_ip("route")) + parse_ip_route(_ip("-6", "route"))
            return NetworkFacts(parse_ip_addr(_ip("addr")), gateways, servers, search)
        except (OSError, subprocess.SubprocessError, ValueError):
            pass    # an old iproute2 without -j: read the files instead
    return NetworkFacts(_from_sys(), parse_proc_route(_read("/proc/net/route")), servers, search)
