"""Paging groups: which multicast groups a phone pages and listens to, checked for the user.

A group is a multicast `addr:port` in 224.0.1.0-238.255.255.255 on a port that SIP and CTI do not
take (tuiphone/addresses.py parses both, for the config too); list order is priority, 1 the highest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tuiphone.addresses import parse_multicast, port_clash, used_ports

MAX_GROUPS = 10


class PagingError(ValueError):
    """A paging group, port or socket that cannot be used; `str()` is a sentence for the user."""


@dataclass(frozen=True)
class PagingGroup:
    """A multicast group to listen to; priority 1 is the highest."""

    address: str
    port: int
    label: str = ""
    priority: int = 1

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"

    def __str__(self) -> str:
        return f"{self.label} ({self.target})" if self.label else self.target


def parse_group(text: str) -> tuple[str, int]:
    """`addr:port` of a paging group in 224.0.1.0-238.255.255.255, or a PagingError naming it."""
    try:
        return parse_multicast(text.strip())
    except ValueError as exc:
        raise PagingError(f"paging group {text!r} {exc}") from None


def check_port(target: str, port: int, used: Mapping[int, str]) -> None:
    """Refuse a paging port that SIP, RTP or CTI already uses (`used` maps port -> who)."""
    clash = port_clash(port, used)
    if clash:
        raise PagingError(f"paging group {target} {clash}")


def check_groups(entries: Iterable[str | tuple[str, int] | tuple[str, int, str]],
                 used: Mapping[int, str] | None = None) -> list[PagingGroup]:
    """Groups from `addr:port` strings or (addr, port[, label]) tuples, in priority order.

    Each must be a paging multicast address, listed once, on a port nothing else uses; at most 10.
    """
    groups: list[PagingGroup] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            address, port, label = *parse_group(entry), ""
        else:
            address, port, label = entry[0], int(entry[1]), (entry[2] if len(entry) > 2 else "")
            address, port = parse_group(f"{address}:{port}")
        if index >= MAX_GROUPS:
            raise PagingError(f"a phone listens to at most {MAX_GROUPS} paging groups; "
                              f"remove {address}:{port} or another one")
        group = PagingGroup(address, port, label, priority=index + 1)
        if any(g.target == group.target for g in groups):
            raise PagingError(f"paging group {group.target} is listed twice; list each group once")
        check_port(group.target, port, used or {})
        groups.append(group)
    return groups


def groups_from_config(cfg: Any) -> list[PagingGroup]:
    """The `[[paging.listen]]` groups of a loaded config, in priority order."""
    return check_groups(((*parse_group(g.address), g.label) for g in cfg.paging.listen), used_ports(cfg))


def barge_level(priority: int, barge: int) -> bool:
    """Whether a page of `priority` interrupts a SIP call: `paging.barge` 0 = never, N = 1..N-1 do."""
    return barge > 0 and 1 <= priority < barge
