"""On port 0 the kernel picks the UDP port; TCP on the same number may already belong to another program
(an ephemeral port of some TCP connection). The phone picks another pair instead of failing to start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paging.netns import Netns, netns_available

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(netns_available() is not None, reason=str(netns_available()))


def test_port_zero_skips_a_udp_port_whose_tcp_twin_is_taken():
    ns = Netns()
    try:
        # six ephemeral ports in this namespace; TCP holds the first three, so UDP lands on a port whose
        # TCP twin is taken about one start in two
        subprocess.run(ns.command(["sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40005"]), check=True,
                       timeout=10)
        holders = []
        with ns.inside():
            for port in (40000, 40001, 40002):
                holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                holder.bind(("127.0.0.1", port))
                holder.listen()
                holders.append(holder)
        try:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            for _ in range(5):
                proc = subprocess.run(ns.command([sys.executable, "-m", "tests.engine.port_zero_probe"]), cwd=ROOT,
                                      env=env, capture_output=True, text=True, timeout=30)
                assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
                udp, tcp = proc.stdout.split("PORTS ", 1)[1].split()
                assert udp == tcp and udp.rsplit(":", 1)[1] in {"40003", "40004", "40005"}, proc.stdout
        finally:
            for holder in holders:
                holder.close()
    finally:
        ns.delete()
