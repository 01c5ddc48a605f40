"""Packet capture: SIP messages written as pcap with real IP/UDP/TCP framing, read back by tshark (Debian
`tshark`) and by a pure parser; the real packets of a call recorded by dumpcap."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from tests.tools import SIP_ON_ANY_PORT, decode_as, require_tool
from tuiphone.engine.events import SipMessage
from tuiphone.services.call_ports import sdp_media
from tuiphone.services.pcap import DumpcapCapture, SipPcapWriter, _checksum, read_pcap

TSHARK = shutil.which("tshark")


@pytest.fixture
def tshark_installed() -> None:
    require_tool("tshark", "tshark")


needs_tshark = pytest.mark.usefixtures("tshark_installed")

INVITE = ("INVITE sip:200@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
          "From: \"张三\" <sip:100@10.0.0.1>;tag=a\r\nTo: <sip:200@10.0.0.2>\r\nCall-ID: c1@10.0.0.1\r\n"
          "CSeq: 1 INVITE\r\nContact: <sip:100@10.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n")
OK = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:100@10.0.0.1>;tag=a\r\n"
      "To: <sip:200@10.0.0.2>;tag=b\r\nCall-ID: c1@10.0.0.1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def msg(direction: str, text: str, transport: str = "UDP", remote: str = "10.0.0.2:5062", t: float = 1.5) -> SipMessage:
    return SipMessage(time=1700000000 + t, direction=direction, transport=transport, remote=remote,
                      first_line=text.split("\r\n")[0], call_id="c1@10.0.0.1", text=text)


def write(path, messages, local="10.0.0.1:5060") -> None:
    writer = SipPcapWriter(path, lambda transport: local)
    for m in messages:
        writer(m)
    writer.close()
    assert writer.count == len(messages)


def test_udp_messages_become_ipv4_packets_with_valid_checksums(tmp_path):
    path = tmp_path / "sip.pcap"
    write(path, [msg("out", INVITE), msg("in", OK, t=1.75)])
    (t1, p1), (t2, p2) = read_pcap(path)
    assert (t1, t2) == (1700000001.5, 1700000001.75)
    assert _checksum(p1[:20]) == 0 and _checksum(p2[:20]) == 0        # IPv4 header checksums hold
    src, dst = p1[12:16], p1[16:20]
    assert (src, dst) == (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    assert struct.unpack("!HH", p1[20:24]) == (5060, 5062)
    assert struct.unpack("!HH", p2[20:24]) == (5062, 5060)
    pseudo = p1[12:20] + struct.pack("!BBH", 0, 17, len(p1) - 20)
    assert _checksum(pseudo + p1[20:]) == 0                            # UDP checksum holds
    assert p1[28:].decode() == INVITE


@needs_tshark
@pytest.mark.parametrize("transport, local, remote", [("UDP", "10.0.0.1:5060", "10.0.0.2:5062"),
                                                      ("TCP", "10.0.0.1:5060", "10.0.0.2:5062"),
                                                      ("UDP", "[2001:db8::1]:5060", "[2001:db8::2]:5062")])
def test_tshark_decodes_the_file_as_sip(tmp_path, transport, local, remote):
    path = tmp_path / "sip.pcap"
    write(path, [msg("out", INVITE, transport, remote), msg("in", OK, transport, remote, t=1.75)], local=local)
    out = subprocess.run([TSHARK, "-r", str(path), "-Y", "sip", "-T", "fields", "-E", "separator=|",
                          "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.from.display.info",
                          "-e", f"{transport.lower()}.srcport"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [line.split("|") for line in out.stdout.splitlines()]
    assert rows == [["INVITE", "", '"张三"', "5060"], ["", "200", "", "5062"]]
    checks = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"]
    bad = subprocess.run([TSHARK, "-r", str(path), *checks, "-Y",
                          "ip.checksum.status == 0 || udp.checksum.status == 0 || tcp.checksum.status == 0"],
                         capture_output=True, text=True, timeout=60)
    good = subprocess.run([TSHARK, "-r", str(path), *checks, "-Y", f"{transport.lower()}.checksum.status == 1"],
                          capture_output=True, text=True, timeout=60)
    assert bad.stdout == "" and len(good.stdout.splitlines()) == 2, (bad.stdout, good.stdout)


@pytest.mark.peers
@needs_tshark
def test_a_real_call_written_by_the_phone_and_recorded_by_dumpcap(tmp_path, phones):
    from tests.phoneproc import sip_port
    from tuiphone.config import Config
    from tuiphone.engine.phone import Phone
    from tuiphone.engine.sip import PjsuaBackend

    callee = phones("callee", ["answer", "--tone", "800", "--timeout", "30"], ready=True)
    port = sip_port()
    full = DumpcapCapture(tmp_path / "full.pcapng", "127.0.0.1", port)
    full.start()
    phone = Phone(Config(), PjsuaBackend(), port=port, bind="127.0.0.1")
    sip_only = SipPcapWriter(tmp_path / "sip.pcap", phone.backend.local_address)
    trace: list[SipMessage] = []
    phone.subscribe(sip_only)
    phone.subscribe(full.ports)         # the capture learns the call's RTP ports from its SIP messages
    phone.subscribe(lambda e: trace.append(e) if isinstance(e, SipMessage) else None)
    phone.start()
    try:
        line = phone.call(callee.keypad).result(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(c.state.value == "talking" for c in phone.lines()):
            time.sleep(0.05)
        time.sleep(1.5)
        phone.hangup(line).result(5)
        while phone.lines() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        phone.stop()
        sip_only.close()
        full.stop()

    def tshark(path, *args: str) -> list[str]:
        out = subprocess.run([TSHARK, "-r", str(path), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()
    fields = ["-T", "fields", "-E", "separator=|", "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.Call-ID"]
    written = tshark(tmp_path / "sip.pcap", *SIP_ON_ANY_PORT, "-Y", "sip", *fields)
    assert len(written) == len(trace)
    assert [r.split("|")[0] for r in written if r.split("|")[0]][:1] == ["INVITE"]
    assert {"INVITE", "ACK", "BYE"} <= {r.split("|")[0] for r in written}
    assert "200" in {r.split("|")[1] for r in written}
    assert {r.split("|")[2] for r in written} == {m.call_id for m in trace}
    known = decode_as(sip={port, callee.port}, rtp={media for m in trace for _, media, _ in sdp_media(m.text)})
    captured = tshark(tmp_path / "full.pcapng", *known, "-Y", "sip", *fields)
    assert {"INVITE", "ACK", "BYE"} <= {r.split("|")[0] for r in captured}
    rtp = tshark(tmp_path / "full.pcapng", *known, "-Y", "rtp", "-T", "fields", "-e", "rtp.p_type")
    assert len(rtp) > 50, "the full capture holds the call's RTP"


class RtpLikeStream:
    """Another program's RTP on loopback: version-2 UDP packets every 10 ms between two ports of its own."""

    def __init__(self, seconds: float = 20.0) -> None:
        self.socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        for sock in self.socks:
            sock.bind(("127.0.0.1", 0))
        self.ports = {sock.getsockname()[1] for sock in self.socks}
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(seconds,), daemon=True)

    def _run(self, seconds: float) -> None:
        a, b = self.socks
        deadline = time.monotonic() + seconds         # bounded: it stops by itself
        while not self._stop.wait(0.01) and time.monotonic() < deadline:
            header = struct.pack("!BBHII", 0x80, 0, self.sent & 0xFFFF, self.sent * 160, 0x1234)
            a.sendto(header + b"\xff" * 160, b.getsockname())
            self.sent += 1

    def __enter__(self) -> RtpLikeStream:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.socks:
            sock.close()


@pytest.mark.peers
@needs_tshark
def test_pcap_full_keeps_the_calls_sip_and_rtp_and_nobody_elses(tmp_path, phones):
    require_tool("dumpcap", "wireshark-common")
    callee = phones("callee", ["answer", "--tone", "800", "--timeout", "30"], ready=True)
    full = tmp_path / "call.pcapng"
    with RtpLikeStream() as other:
        time.sleep(0.3)
        caller = phones("caller", ["--pcap-full", str(full), "call", callee.keypad, "--duration", "1.5", "--json"])
        rc, report = caller.result()
        sent_during = other.sent
    assert (rc, report["result"]) == (0, "answered")
    assert sent_during > 100, "the other program's stream flowed during the call"
    def read(*args: str) -> list[list[str]]:
        out = subprocess.run([TSHARK, "-r", str(full), *args, "-T", "fields", "-E", "separator=|",
                              "-e", "udp.srcport", "-e", "udp.dstport", "-e", "tcp.srcport", "-e", "tcp.dstport",
                              "-e", "sip.Method", "-e", "rtp.p_type", "-e", "sdp.media.port"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [row.split("|") for row in out.stdout.splitlines()]
    sip_ports = {caller.port, callee.port}
    media = {int(row[6]) for row in read(*decode_as(sip=sip_ports)) if row[6]}     # both ends' SDP
    rows = read(*decode_as(sip=sip_ports, rtp=media))
    invites = [row for row in rows if row[4] == "INVITE" and row[6]]
    assert invites, "the capture holds the caller's INVITE with its SDP"
    rtp_port = int(invites[0][6])
    phone_ports = {caller.port, rtp_port, rtp_port + 1}
    for row in rows:
        ends = {int(p) for p in row[:4] if p}
        assert ends & phone_ports, f"a packet that is not the phone's: {row}"
        assert not ends & other.ports, f"the other program's packet was captured: {row}"
    assert {"INVITE", "BYE"} <= {row[4] for row in rows}
    assert sum(1 for row in rows if row[5]) > 40, "1.5 s of RTP both ways"


@pytest.mark.peers
@needs_tshark
def test_f2_started_during_a_call_keeps_that_calls_rtp_and_nobody_elses(tmp_path, phones):
    """Menu › Packet Capture F2 (PhoneCapture) knows the ports of a call already up from the SIP it has seen."""
    require_tool("dumpcap", "wireshark-common")
    from tests.inprocess import phone_factory
    from tuiphone.services.packet_capture import PhoneCapture

    callee = phones("callee", ["answer", "--tone", "800", "--timeout", "30"], ready=True)
    with phone_factory() as make, RtpLikeStream() as other:
        phone = make({})
        capture = PhoneCapture(phone, tmp_path)
        line = phone.call(callee.keypad).result(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(c.state.value == "talking" for c in phone.lines()):
            time.sleep(0.05)
        files = capture.start(full=True)            # the call's INVITE and 200 went before the capture
        time.sleep(1.0)
        phone.hangup(line).result(5)
        while phone.lines() and time.monotonic() < deadline:
            time.sleep(0.05)
        capture.stop()
    # the capture holds no SDP to tell tshark which ports are RTP, and its heuristic gives way to any dissector
    # registered for a port (34962 PROFINET, 44818 EtherNet/IP, 54328 Elasticsearch, ...: 7 even ports of the
    # ephemeral range; pjsip's free port was one of them once in CI, and that run counted 0 RTP packets).
    # Both ends' ports are named: tshark tries the lower port's dissector first.
    rtp_ports = {port for msg in phone.seen if isinstance(msg, SipMessage) for _, port, _ in sdp_media(msg.text)}
    assert len(rtp_ports) == 2, rtp_ports
    sip_ports = {phone.port, callee.port}
    out = subprocess.run([TSHARK, "-r", str(files.full), *decode_as(sip=sip_ports, rtp=rtp_ports), "-T", "fields",
                          "-E", "separator=|", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "sip.Method",
                          "-e", "rtp.p_type"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [row.split("|") for row in out.stdout.splitlines()]
    assert "BYE" in {row[2] for row in rows}
    assert sum(1 for row in rows if row[3]) > 40, "1 s of the call's RTP both ways"
    assert not any({int(p) for p in row[:2] if p} & other.ports for row in rows), "another program's packet"
