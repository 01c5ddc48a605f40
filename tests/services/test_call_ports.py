"""Which captured packets are the phone's: its SIP ports, and its calls' RTP ports while the calls last."""

from __future__ import annotations

import struct

from tuiphone.engine.events import SipMessage
from tuiphone.services.call_ports import GRACE_S, CallPorts, sdp_media
from tuiphone.services.pcapng import TCP, UDP, Packet, PcapngStream

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n{extra}")


def sip(direction: str, first: str, when: float, sdp_port: int | None = None, cseq: str = "1 INVITE",
        transport: str = "UDP", extra: str = "", via: str = "127.0.0.1:5060") -> SipMessage:
    body = SDP.format(port=sdp_port, extra=extra) if sdp_port else ""
    text = (f"{first}\r\nVia: SIP/2.0/{transport} {via};branch=z9hG4bK1\r\nCall-ID: c1\r\nCSeq: {cseq}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}")
    return SipMessage(time=when, direction=direction, transport=transport, remote="127.0.0.1:5070",
                      first_line=first, call_id="c1", text=text)


def udp(src: int, dst: int, when: float, proto: int = UDP) -> Packet:
    return Packet(b"", when, proto, ("127.0.0.1", src), ("127.0.0.1", dst))


def test_sdp_media_gives_each_streams_address_and_ports():
    assert sdp_media(sip("out", "INVITE sip:a SIP/2.0", 0, 4000).text) == [("127.0.0.1", 4000, 4001)]
    assert sdp_media(sip("out", "INVITE sip:a SIP/2.0", 0, 4000, extra="a=rtcp:4009\r\n").text) == \
        [("127.0.0.1", 4000, 4009)]
    assert sdp_media(sip("out", "INVITE sip:a SIP/2.0", 0, 4000, extra="a=rtcp-mux\r\n").text) == \
        [("127.0.0.1", 4000, 4000)]
    held = sip("out", "INVITE sip:a SIP/2.0", 0, 4000).text.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")
    assert sdp_media(held) == [("", 4000, 4001)]
    assert sdp_media(sip("out", "BYE sip:a SIP/2.0", 0).text) == []


def test_a_calls_ports_are_the_phones_while_the_call_lasts_and_nobody_elses():
    ports = CallPorts("127.0.0.1", {5060}, {5060})
    ports(sip("out", "INVITE sip:200@127.0.0.1:5070 SIP/2.0", 100.0, 40000))
    ports(sip("in", "SIP/2.0 200 OK", 100.5, 41000))
    assert ports.keeps(udp(5060, 5070, 100.0))                  # SIP
    assert ports.keeps(udp(40000, 41000, 101.0))                # the phone's RTP
    assert ports.keeps(udp(41001, 40001, 101.0))                # the far end's RTCP to the phone's
    assert ports.keeps(udp(33333, 41000, 101.0))                # from another port of the phone (NAT) to the far end
    assert not ports.keeps(udp(47000, 47002, 101.0))            # another program's stream
    assert not ports.keeps(udp(40000, 41000, 90.0))             # before the call named the port
    ports(sip("out", "BYE sip:200@127.0.0.1:5070 SIP/2.0", 110.0, cseq="2 BYE"))
    assert ports.keeps(udp(41000, 40000, 110.0 + GRACE_S / 2))  # RTP trailing the BYE
    assert not ports.keeps(udp(41000, 40000, 110.0 + GRACE_S + 1))     # the port may be someone else's now
    assert not ports.keeps(udp(40000, 41000, 101.0, TCP))


def test_a_failed_call_gives_its_ports_back_and_tcp_connections_count_as_sip():
    ports = CallPorts("127.0.0.1", {5060}, {5060})
    ports(sip("out", "INVITE sip:200@127.0.0.1:5070 SIP/2.0", 100.0, 40000, transport="TCP", via="127.0.0.1:51234"))
    ports(sip("in", "SIP/2.0 486 Busy Here", 100.5, transport="TCP"))
    assert not ports.keeps(udp(40000, 41000, 100.5 + GRACE_S + 1))
    assert ports.keeps(udp(51234, 5070, 100.0, TCP))            # the connection the phone opened


def test_pcapng_stream_gives_the_packets_time_and_ports_even_in_pieces():
    def block(kind: int, body: bytes) -> bytes:
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", 1, 0, 262144) + struct.pack("<HHB3x", 9, 1, 9) + b"\0\0\0\0")
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + 4, 0, 0, 64, 17, 0, bytes([127, 0, 0, 1]),
                     bytes([127, 0, 0, 2])) + struct.pack("!HHHH", 4000, 5000, 12, 0) + b"\x80\0\0\0"
    frame = b"\0" * 12 + b"\x08\x00" + ip
    stamp = 1_700_000_000_250_000_000          # nanoseconds (if_tsresol 9)
    epb = block(6, struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, len(frame), len(frame))
                + frame + b"\0" * (-len(frame) % 4))
    stream, data = PcapngStream(), shb + idb + epb
    items = stream.feed(data[:30]) + stream.feed(data[30:])
    assert [(b.kind, b.block) for b in items[:2]] == [(0x0A0D0D0A, shb), (1, idb)]
    packet = items[2]
    assert (packet.proto, packet.src, packet.dst) == (UDP, ("127.0.0.1", 4000), ("127.0.0.2", 5000))
    assert abs(packet.time - 1_700_000_000.25) < 1e-6 and packet.block == epb
