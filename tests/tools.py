"""Programs the tests drive that `scripts/test` installs: a missing one fails the test with what to install,
never skips it (a skip would hide that the behaviour went untested)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable

import pytest


def require_tool(name: str, package: str) -> str:
    """The path of program `name`; the test fails, naming the Debian package, when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: install the Debian package {package} (./scripts/test does)",
                    pytrace=False)
    return path


# Wireshark gives a UDP or TCP packet to the dissector registered for its lower port, then the higher, and tries its
# heuristics (SIP's among them) only after, so a SIP message or RTP packet on a port another protocol owns is shown
# as that protocol: 22222 RTPproxy, 24576 MINT, 26000 Quake ... (11 even ports of the tests' SIP range 20000-32000),
# 44818 EtherNet/IP, 34962 PROFINET ... in the ephemeral range. CI once read 0 SIP messages from a call's capture.
SIP_ON_ANY_PORT = ("-o", "udp.try_heuristic_first:TRUE", "-o", "tcp.try_heuristic_first:TRUE")
"""tshark options for a capture that holds nothing but SIP: its heuristics first. SIP is then found on each of the
328 UDP and 574 TCP ports tshark 4.0 registers a dissector for (checked). Not for RTP: a weak heuristic may take
a packet of random audio; name RTP's ports (`decode_as`)."""


def decode_as(sip: Iterable[int] = (), rtp: Iterable[int] = ()) -> list[str]:
    """tshark options naming the ports a test knows to be SIP's (UDP and TCP) and RTP's."""
    args = [arg for port in sorted(set(sip)) for arg in ("-d", f"udp.port=={port},sip", "-d", f"tcp.port=={port},sip")]
    return args + [arg for port in sorted(set(rtp)) for arg in ("-d", f"udp.port=={port},rtp")]
