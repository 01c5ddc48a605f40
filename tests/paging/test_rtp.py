"""RTP packets: what we send reads back the same, garbage never raises, loss is counted right."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from tuiphone.audio.rtp import Packetizer, ReceptionStats, RtpPacket, parse_packet, seq_diff, ts_diff


def test_packet_fields_survive_the_wire():
    pkt = RtpPacket(payload_type=9, sequence=65535, timestamp=0xFFFFFFFF, ssrc=0xDEADBEEF,
                    payload=b"\x01\x02\x03", marker=True)
    data = pkt.to_bytes()
    assert data[0] == 0x80 and data[1] == 0x80 | 9 and len(data) == 15
    assert parse_packet(data) == pkt


def test_packetizer_numbers_packets_in_order_and_marks_the_first():
    p = Packetizer(0, ssrc=1234)
    p.sequence, p.timestamp = 65534, 0xFFFFFF00
    packets = [parse_packet(p.packet(bytes(160), 160)) for _ in range(4)]
    assert [x.sequence for x in packets] == [65534, 65535, 0, 1]
    assert [x.timestamp for x in packets] == [0xFFFFFF00, 0xFFFFFFA0, 0x40, 0xE0]
    assert [x.marker for x in packets] == [True, False, False, False]
    assert {x.ssrc for x in packets} == {1234} and p.sent == 4
    p.skip(800)
    after = parse_packet(p.packet(bytes(160), 160))
    assert after.marker and ts_diff(after.timestamp, packets[-1].timestamp) == 960


def test_each_stream_gets_its_own_random_ssrc():
    assert len({Packetizer(0).ssrc for _ in range(8)}) == 8


def test_csrcs_extension_and_padding_are_skipped():
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 8, 7, 1000, 42)
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\xAA\xBB\xCC\xDD"
    data = header + csrcs + extension + b"voice" + b"\x00\x00\x03"
    pkt = parse_packet(data)
    assert pkt is not None and pkt.payload == b"voice" and pkt.payload_type == 8 and pkt.ssrc == 42


def test_bad_datagrams_give_none():
    good = RtpPacket(0, 1, 2, 3, b"abc").to_bytes()
    assert parse_packet(b"") is None
    assert parse_packet(good[:11]) is None                          # shorter than a header
    assert parse_packet(bytes([0x40]) + good[1:]) is None           # version 1
    assert parse_packet(bytes([0x8F]) + good[1:]) is None           # 15 CSRCs that are not there
    assert parse_packet(bytes([0x90]) + good[1:]) is None           # extension that is not there
    assert parse_packet(bytes([0xA0]) + good[1:-1] + b"\x00") is None   # padding count 0
    assert parse_packet(bytes([0xA0]) + good[1:-1] + b"\x40") is None   # more padding than packet
    rtcp_sender_report = bytes([0x80, 200]) + bytes(26)
    assert parse_packet(rtcp_sender_report) is None


@given(st.binary(max_size=200))
def test_garbage_never_raises(data):
    pkt = parse_packet(data)
    assert pkt is None or isinstance(pkt.payload, bytes)


def test_sequence_and_timestamp_differences_wrap():
    assert seq_diff(2, 65534) == 4 and seq_diff(65534, 2) == -4
    assert ts_diff(10, 0xFFFFFFF0) == 26 and ts_diff(0xFFFFFFF0, 10) == -26


def _stats(seqs):
    stats = ReceptionStats()
    for s in seqs:
        stats.add(s & 0xFFFF)
    return stats


def test_loss_counts_the_missing_sequence_numbers():
    stats = _stats([1, 2, 4, 5, 8])
    assert (stats.packets, stats.lost, stats.expected) == (5, 3, 8)


def test_reordered_and_duplicated_packets_are_not_loss():
    stats = _stats([10, 12, 11, 11, 13, 9])
    assert stats.lost == 0 and stats.duplicates == 1 and stats.packets == 6 and stats.expected == 5


def test_loss_is_counted_across_the_sequence_wrap():
    stats = _stats([65533, 65534, 0, 1, 3])
    assert stats.lost == 2 and stats.expected == 7
