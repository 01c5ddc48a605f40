"""The phone's capacity: reading an INVITE's offer, the media socket budget, and lines whose call is gone."""

from __future__ import annotations

import pytest

from tests.engine.test_phone import CALLER, make_phone
from tuiphone.engine.capacity import SocketBudget, read_invite
from tuiphone.engine.events import LineState
from tuiphone.engine.phone import PhoneError


def _invite(media: list[str], to_tag: str = "") -> bytes:
    body = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" + "".join(
        f"{m}\r\na=rtpmap:0 PCMU/8000\r\n" for m in media)
    head = ("INVITE sip:phone@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
            f"To: <sip:phone@192.0.2.2>{';tag=' + to_tag if to_tag else ''}\r\nFrom: <sip:a@192.0.2.1>;tag=1\r\n"
            "Call-ID: abc@192.0.2.1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return (head + body).encode()


def _after(packet: bytes, offer) -> list[bytes]:
    out = bytearray(packet)
    for pos, size in offer.drop_ports:
        out[pos:pos + size] = b"0" * size
    return [line.split(b" ")[1] for line in bytes(out).split(b"\r\n") if line.startswith(b"m=")]


def test_sixteen_audio_lines_keep_only_the_first_stream() -> None:
    packet = _invite([f"m=audio {4000 + 2 * i} RTP/AVP 0" for i in range(16)])
    offer = read_invite(packet)
    assert (offer.call_id, offer.initial, offer.streams, offer.sockets) == ("abc@192.0.2.1", True, 1, 2)
    assert _after(packet, offer) == [b"4000"] + [b"0000"] * 15


def test_video_and_unknown_transports_give_way_to_an_rtp_audio_stream() -> None:
    packet = _invite(["m=video 5000 RTP/AVP 96", "m=audio 6000 UDP/TLS/RTP/SAVPF 0", "m=audio 7000 RTP/AVP 0",
                      "m=audio 0 RTP/AVP 0"])
    offer = read_invite(packet)
    assert _after(packet, offer) == [b"0000", b"0000", b"7000", b"0"]


def test_a_reinvite_is_not_a_new_call_but_is_trimmed_too() -> None:
    packet = _invite(["m=audio 4000 RTP/AVP 0", "m=video 4002 RTP/AVP 96"], to_tag="xyz")
    offer = read_invite(packet)
    assert not offer.initial and _after(packet, offer) == [b"4000", b"0000"]


def test_other_requests_and_invites_without_sdp() -> None:
    assert read_invite(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\n") is None
    offer = read_invite(b"INVITE sip:x SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n")
    assert (offer.streams, offer.drop_ports, offer.sockets) == (0, (), 2)


def test_the_budget_counts_closed_sockets_until_pjlib_reuses_their_handles() -> None:
    budget = SocketBudget(limit=6, hold_s=0.5)
    for n in range(3):
        assert budget.fits(2, 0.0)
        budget.take(f"c{n}", 2, 0.0)
    assert not budget.fits(2, 0.0) and budget.in_use(0.0) == 6
    budget.release("c0", 1.0)
    assert not budget.fits(2, 1.2)          # closed, but its handles are not free yet
    assert budget.fits(2, 1.5)
    budget.settle(1.5)                      # c1, c2 were never made into calls by pjsua
    assert budget.in_use(2.0) == 0


def test_a_confirmed_call_stays_counted_after_settling() -> None:
    budget = SocketBudget(limit=10, hold_s=0.5)
    budget.take("a", 2, 0.0)
    budget.confirm("a", 2, 0.0)
    budget.settle(0.1)
    assert budget.in_use(5.0) == 2 and budget.known("a")
    budget.release("a", 5.0)
    assert not budget.known("a") and budget.in_use(5.6) == 0


# ----- lines whose call is gone (fake stack) ---------------------------------------------------------------

def test_a_line_whose_call_vanished_is_freed_by_the_line_check() -> None:
    rig = make_phone()
    cid = rig.sip.incoming(0, CALLER)
    rig.sip.vanish(cid)
    assert [ln.state for ln in rig.phone.lines()] == [LineState.RINGING]
    rig.phone.check_lines()
    assert rig.phone.lines() == []
    assert rig.states(1)[-1] == LineState.ENDED


def test_a_reused_call_id_ends_the_old_line_and_rings_the_new_call() -> None:
    rig = make_phone()
    cid = rig.sip.incoming(0, CALLER)
    rig.sip.vanish(cid)
    rig.sip.incoming(0, '"Bob" <sip:300@pbx.example.com>', cid=cid)
    lines = rig.phone.lines()
    assert [(ln.line, ln.state, ln.remote_number) for ln in lines] == [(1, LineState.RINGING, "300")]
    rig.phone.check_lines()
    assert len(rig.phone.lines()) == 1


def test_answering_a_call_that_is_gone_is_a_sentence_not_a_crash() -> None:
    rig = make_phone()
    cid = rig.sip.incoming(0, CALLER)
    rig.sip.vanish(cid)                     # pjsua no longer knows it
    with pytest.raises(PhoneError, match="has no call any more"):
        rig.phone.answer(1).result()
    assert rig.phone.lines() == []
    with pytest.raises(PhoneError, match="Line 1 has no call"):
        rig.phone.reject(1).result()


def test_more_lines_than_the_stack_holds_are_kept_and_logged(caplog) -> None:
    caplog.set_level("INFO")
    rig = make_phone()
    rig.sip.call_slots = 4
    rig.phone._fit_lines()
    assert "holds 4 calls at once" in caplog.text and rig.phone.max_lines == 6


def test_one_source_cannot_take_the_sockets_calls_from_elsewhere_need() -> None:
    budget = SocketBudget(limit=8, hold_s=0.5)
    budget.take("f1", 2, 0.0, source="198.51.100.9:5060")
    budget.take("f2", 2, 0.0, source="198.51.100.9:5060")
    assert not budget.fits(2, 0.0, "198.51.100.9:5060")       # its half of 8 is used
    assert budget.fits(2, 0.0, "192.0.2.10:5060") and budget.fits(2, 0.0)


def test_the_top_via_names_the_source_when_pjsip_cannot() -> None:
    offer = read_invite(_invite(["m=audio 4000 RTP/AVP 0"]))
    assert offer.via == "192.0.2.1"
