"""Addresses and ports as the user writes them, and the ports the phone itself takes.

The config (`[sip]`, `[cti]`, `[[paging.listen]]`, `[[keys]]`) and paging (`tuiphone page`,
`tuiphone listen`, the pager) read them with these same parsers, and refuse a paging port that
SIP or CTI already uses with the same sentence. Plain stdlib: the audio package imports this.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_HOST_PORT_HELP = "like pbx.example.com, pbx.example.com:5060, 192.0.2.10 or [2001:db8::1]:5060"


def _check_port_text(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return int(text)


def _check_hostname(host: str) -> None:
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not a valid IPv4 address") from None
        return
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid host name")


def split_host_port(text: str) -> tuple[str, int | None]:
    """Split `host[:port]` (a host name, an IPv4 address or `[IPv6]`) into host and port.

    Raises ValueError with a sentence for the user when `text` is not of that form.
    """
    if text.lower().startswith(("sip:", "sips:")):
        raise ValueError("write only host[:port], without the 'sip:' prefix")
    if any(ch.isspace() for ch in text) or "/" in text or ";" in text or "@" in text:
        raise ValueError(f"must be host[:port], {_HOST_PORT_HELP}")
    if text.startswith("["):
        match = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", text)
        if not match:
            raise ValueError(f"must be host[:port], {_HOST_PORT_HELP}")
        try:
            ipaddress.IPv6Address(match[1])
        except ValueError:
            raise ValueError(f"{match[1]!r} is not a valid IPv6 address") from None
        return match[1], None if match[2] is None else _check_port_text(match[2])
    if text.count(":") > 1:
        raise ValueError("an IPv6 address needs brackets, like [2001:db8::1]:5060")
    host, colon, port = text.partition(":")
    if not host:
        raise ValueError(f"the host is missing; must be host[:port], {_HOST_PORT_HELP}")
    _check_hostname(host)
    return host, _check_port_text(port) if colon else None


def parse_multicast(text: str) -> tuple[str, int]:
    """Parse a paging group `addr:port`: IPv4 multicast in 224.0.1.0–238.255.255.255, port 1–65535."""
    help_text = "must be a multicast address and port, like 224.1.1.1:4009"
    host, colon, port = text.partition(":")
    if not colon or not port:
        raise ValueError(f"{help_text}; the port is missing")
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(f"{help_text}; {host!r} is not an IPv4 address") from None
    if not ipaddress.IPv4Address("224.0.1.0") <= address <= ipaddress.IPv4Address("238.255.255.255"):
        raise ValueError(f"{help_text}; {host} is outside the paging range 224.0.1.0–238.255.255.255")
    try:
        return str(address), _check_port_text(port)
    except ValueError as exc:
        raise ValueError(f"{help_text}; {exc}") from None


def parse_listen_address(text: str) -> tuple[str, int]:
    """Parse a local `address:port` to listen on (IPv4 or `[IPv6]`), e.g. the CTI server's."""
    help_text = "must be an address and port to listen on, like 127.0.0.1:8088 or [::1]:8088"
    try:
        host, port = split_host_port(text)
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(help_text) from None
    if port is None:
        raise ValueError(f"{help_text}; the port is missing")
    return host, port


def used_ports(cfg: Any) -> dict[int, str]:
    """Ports the phone's SIP transports and CTI server take, by port: {5060: "sip.port", ...}."""
    used: dict[int, str] = {}
    if cfg.sip.port:
        used[cfg.sip.port] = "sip.port"
    if cfg.sip.tls.port and "tls" in cfg.sip.transports:
        used.setdefault(cfg.sip.tls.port, "sip.tls.port")
    if cfg.cti.enabled:
        used.setdefault(parse_listen_address(cfg.cti.listen)[1], "cti.listen")
    return used


def port_clash(port: int, used: Mapping[int, str]) -> str | None:
    """The sentence for a paging port that something in `used` (port -> who) takes, or None."""
    if port in used:
        return f"uses port {port}, which {used[port]} already uses; pick another port"
    return None
