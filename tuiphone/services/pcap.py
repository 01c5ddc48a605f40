"""Packet capture without root (seed 3.25): the phone's SIP messages written as a pcap file.

Each SipMessage becomes an IPv4 or IPv6 packet (LINKTYPE_RAW) carrying a UDP datagram or a TCP segment
between the phone's transport address and the far end, with real lengths and checksums, so Wireshark
and tshark decode it as SIP. Messages that went over TLS are written as the plain SIP they carried,
in TCP on the TLS ports (in Wireshark: Decode As… SIP for that port).

`DumpcapCapture` records the real packets (SIP and RTP) with `dumpcap` where it exists and may capture: only
the phone's own SIP ports and the RTP ports of its calls (see call_ports), not other programs' traffic.
"""

from __future__ import annotations

import collections
import ipaddress
import itertools
import logging
import os
import select
import shutil
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from tuiphone.engine.events import Event, SipMessage
from tuiphone.services.call_ports import CallPorts
from tuiphone.services.pcapng import IDB, ISB, Block, Packet, PcapngStream

log = logging.getLogger(__name__)

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_RAW = 101
SNAPLEN = 262144
UDP, TCP = 17, 6


def split_address(text: str) -> tuple[str, int]:
    """'1.2.3.4:5060' or '[::1]:5060' -> (host, port)."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return host, int(port)
    host, _, port = text.rpartition(":")
    return host, int(port)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def ip_packet(src: tuple[str, int], dst: tuple[str, int], payload: bytes, proto: int = UDP,
              seq: int = 0, ack: int = 0, ident: int = 0) -> bytes:
    """An IPv4/IPv6 packet carrying `payload` in UDP, or in one TCP segment (PSH+ACK) with seq/ack."""
    src_ip, dst_ip = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    if src_ip.version != dst_ip.version:    # a v4-mapped peer seen from a v6 socket, say
        src_ip = ipaddress.ip_address("::ffff:" + str(src_ip)) if src_ip.version == 4 else src_ip
        dst_ip = ipaddress.ip_address("::ffff:" + str(dst_ip)) if dst_ip.version == 4 else dst_ip
    s, d = src_ip.packed, dst_ip.packed
    if proto == UDP:
        length = 8 + len(payload)
        header = struct.pack("!HHHH", src[1], dst[1], length, 0)
        check = _checksum(_pseudo_header(s, d, UDP, length) + header + payload) or 0xFFFF
        segment = struct.pack("!HHHH", src[1], dst[1], length, check) + payload
    else:
        header = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, 0x18,
                             65535, 0, 0)
        check = _checksum(_pseudo_header(s, d, TCP, len(header) + len(payload)) + header + payload)
        segment = header[:16] + struct.pack("!H", check) + header[18:] + payload
    if len(s) == 4:
        head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), ident & 0xFFFF, 0x4000, 64, proto, 0, s, d)
        head = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
        return head + segment
    return struct.pack("!IHBB16s16s", 6 << 28, len(segment), proto, 64, s, d) + segment


class SipPcapWriter:
    """An event subscriber that appends every SipMessage to a pcap file (`--pcap FILE`).

    `local_address(transport)` gives the phone's "ip:port" for "udp", "tcp" or "tls"
    (e.g. `phone.backend.local_address`); it is asked once per transport.
    """

    def __init__(self, path: str | Path, local_address: Callable[[str], str]):
        self.path = Path(path)
        self._local_address = local_address
        self._locals: dict[str, tuple[str, int]] = {}
        self._file: BinaryIO = open(self.path, "wb")
        self._file.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))
        self._file.flush()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._seq: dict[tuple[tuple[str, int], tuple[str, int]], int] = {}
        self.count = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, SipMessage):
            with self._lock:
                if not self._file.closed:
                    self._write(event)

    def _local(self, transport: str) -> tuple[str, int]:
        if transport not in self._locals:
            try:
                self._locals[transport] = split_address(self._local_address(transport.lower()))
            except (KeyError, ValueError, OSError):
                self._locals[transport] = ("127.0.0.1", 5060)    # the transport has no address to show
        return self._locals[transport]

    def _write(self, msg: SipMessage) -> None:
        try:
            remote = split_address(msg.remote)
            ipaddress.ip_address(remote[0])
        except ValueError:
            log.debug("pcap: no address in %r; message not written", msg.remote)
            return
        local = self._local(msg.transport.upper())
        src, dst = (local, remote) if msg.direction == "out" else (remote, local)
        payload = msg.text.encode("utf-8", "replace")
        if msg.transport.upper() == "UDP":
            packet = ip_packet(src, dst, payload, UDP, ident=next(self._ids))
        else:
            seq = self._seq.get((src, dst), 1)
            ack = self._seq.get((dst, src), 1)
            self._seq[(src, dst)] = seq + len(payload)
            packet = ip_packet(src, dst, payload, TCP, seq=seq, ack=ack, ident=next(self._ids))
        seconds = int(msg.time)
        self._file.write(struct.pack("<IIII", seconds, int((msg.time - seconds) * 1e6), len(packet), len(packet)))
        self._file.write(packet)
        self._file.flush()
        self.count += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_pcap(path: str | Path) -> list[tuple[float, bytes]]:
    """(time, packet) of each record of a pcap file (microsecond, either byte order)."""
    data = Path(path).read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == PCAP_MAGIC else ">"
    if struct.unpack(order + "I", data[:4])[0] != PCAP_MAGIC:
        raise ValueError(f"{path} is not a pcap file")
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack(order + "IIII", data[pos:pos + 16])
        out.append((sec + usec / 1e6, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return out


STOP_GRACE_S = 0.5
HOLD_S = 2.0        # a packet waits this long for the SIP message naming its port before it is kept or dropped


class CaptureError(Exception):
    """A capture that cannot start; `str()` says why and what to do."""


class DumpcapCapture:
    """Real SIP+RTP packets of the phone, recorded by `dumpcap` into a pcapng file.

    dumpcap captures UDP and TCP of the phone's address (RTP-looking UDP only, besides the SIP port) and writes
    to a pipe, not a file; each packet waits here `HOLD_S` in memory, then goes to the file if `ports` (a
    CallPorts that follows the phone's SIP messages) says it is the phone's: its SIP ports or the RTP ports
    its calls use. Other programs' packets are never written. Subscribe `ports` to the phone's events.
    """

    def __init__(self, path: str | Path, address: str, sip_port: int, interface: str | None = None,
                 ports: CallPorts | None = None):
        self.path = Path(path)
        self.address, self.sip_port = address, sip_port
        self.interface = interface or ("lo" if ipaddress.ip_address(address).is_loopback else "any")
        self.ports = ports if ports is not None else CallPorts(address, {sip_port}, {sip_port})
        self.kept = self.dropped = 0
        self._proc: subprocess.Popen | None = None
        self._pump: threading.Thread | None = None
        self._ready = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def filter(self) -> str:
        """The kernel's part of the choice: the phone's address, TCP, its SIP port and RTP-looking UDP."""
        host = f"host {self.address}" if self.address not in ("0.0.0.0", "::") else "ip or ip6"
        udp = " or ".join(f"port {p}" for p in sorted(self.ports.udp | {self.sip_port}))
        return f"{host} and (tcp or (udp and ({udp} or udp[8] & 0xc0 = 0x80)))"

    def start(self, ready_timeout: float = 5.0) -> None:
        program = shutil.which("dumpcap")
        if program is None:
            raise CaptureError("dumpcap is not installed (Debian package wireshark-common); "
                               "the SIP-only capture (--pcap) needs nothing")
        try:
            out = open(self.path, "wb")
        except OSError as exc:
            raise CaptureError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        argv = [program, "-q", "-i", self.interface, "-f", self.filter, "-w", "-"]
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True)
        self._pump = threading.Thread(target=self._copy, args=(self._proc, out), name="dumpcap", daemon=True)
        self._pump.start()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline and not self._ready.is_set():
            if self._proc.poll() is not None:
                self._pump.join(2)
                assert self._proc.stderr is not None     # a pipe (stderr=PIPE above)
                message = self._proc.stderr.read().decode(errors="replace").strip().splitlines()
                self._proc = None
                self.path.unlink(missing_ok=True)
                raise CaptureError(f"dumpcap could not capture on {self.interface}: "
                                   f"{message[-1] if message else 'it stopped at once'} (capturing needs "
                                   "permission: run as root or add your user to the wireshark group)")
            self._ready.wait(0.05)

    def _copy(self, proc: subprocess.Popen, out: BinaryIO) -> None:
        """dumpcap's stream to the file: blocks in order, each packet after HOLD_S if it is the phone's."""
        stream = PcapngStream()
        pending: collections.deque[Packet | Block] = collections.deque()
        assert proc.stdout is not None      # a pipe (stdout=PIPE in start)
        fd = proc.stdout.fileno()
        with out:
            while True:
                if select.select([fd], [], [], 0.2)[0]:
                    data = os.read(fd, 65536)
                    if not data:
                        break
                    try:
                        pending.extend(stream.feed(data))
                    except ValueError:
                        log.warning("dumpcap wrote something that is not pcapng; the capture stops")
                        break
                self._release(pending, out, time.time() - HOLD_S)
            self._release(pending, out, None)
        proc.stdout.close()

    def _release(self, pending: collections.deque, out: BinaryIO, before: float | None) -> None:
        wrote = False
        while pending and (before is None or not isinstance(pending[0], Packet) or pending[0].time <= before):
            item = pending.popleft()
            if isinstance(item, Packet):
                if self.ports.keeps(item):
                    out.write(item.block)
                    self.kept += 1
                    wrote = True
                else:
                    self.dropped += 1
            elif item.kind != ISB:          # dumpcap's statistics count what it saw, others' too: left out
                out.write(item.block)
                wrote = True
                if item.kind == IDB:
                    self._ready.set()       # the interface is open: it is capturing
        if wrote:
            out.flush()

    @classmethod
    def of_phone(cls, path: str | Path, phone: Any, ports: CallPorts | None = None) -> DumpcapCapture:
        """A capture of `phone`'s own SIP ports and its calls' RTP, on the interface of its SIP address.

        `ports` is a CallPorts that knows already the calls in progress (a new one without); it follows the
        phone's events until `stop()`.
        """
        address, port = split_address(phone.backend.local_address("udp"))
        if ports is None:
            ports = CallPorts(address, {port}, _tcp_ports(phone, port))
        capture = cls(path, address, port, ports=ports)
        capture._unsubscribe = phone.subscribe(ports)
        return capture

    def stop(self, timeout: float = 5.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self._join(timeout)
            return
        # the last packets (a BYE just sent) wait in the kernel's capture buffer for a moment before dumpcap
        # reads them; it drops what it has not read when it is told to stop
        time.sleep(STOP_GRACE_S)
        os.kill(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout)
        self._join(timeout)
        log.info("dumpcap capture %s: %d packets of the phone kept, %d of others left out",
                 self.path, self.kept, self.dropped)
        self._proc = None

    def _join(self, timeout: float) -> None:
        """Wait for the last packets to be written, then stop following the phone's SIP messages."""
        if self._pump is not None:
            self._pump.join(timeout)
            self._pump = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def _tcp_ports(phone: Any, udp_port: int) -> set[int]:
    """The phone's TCP and TLS listening ports (the UDP port's number when it does not say)."""
    ports = {udp_port}
    for transport in ("tcp", "tls"):
        try:
            ports.add(split_address(phone.backend.local_address(transport))[1])
        except (KeyError, ValueError, OSError, AttributeError):
            pass
    return ports
