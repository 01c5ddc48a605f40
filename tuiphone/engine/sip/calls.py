"""Calls: making, answering, ending, hold and resume (one re-INVITE at a time, on a settled stream), DTMF,
transfers, call quality, and what the backend does with pjsua's call and media state callbacks."""

from __future__ import annotations

import time
from typing import Any

import pjsua2 as pj

from tuiphone.engine.backend import CallMedia
from tuiphone.engine.quality import CallQuality, estimate_mos
from tuiphone.engine.sip.bridge import _audio_of
from tuiphone.engine.sip.objects import DIRECT, SOCKETS_PER_CALL, _budget_key, _Call
from tuiphone.engine.sip.state import _BackendState
from tuiphone.engine.sip.thread import log
from tuiphone.engine.wiretext import from_wire

STREAM_SETTLE_S = 0.3        # a re-INVITE waits at most this long for a new stream's first packets (_stream_settled)
_CALL_STATES = {
    pj.PJSIP_INV_STATE_CALLING: "calling",
    pj.PJSIP_INV_STATE_INCOMING: "incoming",
    pj.PJSIP_INV_STATE_EARLY: "early",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting",
    pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}


def _stream_settled(call: Any) -> bool:
    """Whether the call's audio stream has sent its first RTP packet (when it sends) and heard the far end's
    (when it receives). A re-INVITE rebuilds the stream, and pjsua carries the RTP sequence number over to
    the new one from the old one's last packet sent; one rebuilt before its first packet was counted starts
    again from 0, while SRTP (offered on every call) has already protected a higher one: libsrtp then refuses
    every packet of the new stream ("replay check failed (index too old)") and that direction stays silent
    for the rest of the call. The same holds for the far end's stream, which our re-INVITE rebuilds."""
    try:
        ci = call.getInfo()
        dirs = [mi.dir for mi in ci.media
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status != pj.PJSUA_CALL_MEDIA_NONE]
        if not dirs:
            return True
        st = call.getStreamStat(0).rtcp
    except pj.Error:
        return True
    sent = not dirs[0] & pj.PJMEDIA_DIR_ENCODING or st.txStat.pkt > 0
    heard = not dirs[0] & pj.PJMEDIA_DIR_DECODING or st.rxStat.pkt > 0
    return bool(sent and heard)


def _add_headers(prm: Any, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        h = pj.SipHeader()
        h.hName, h.hValue = name, value
        prm.txOption.headers.append(h)


class _Calls(_BackendState):
    """PjsuaBackend's calls (SIP thread)."""

    # ----- calls -----------------------------------------------------------------------------
    def make_call(self, account: int | None, uri: str, headers: dict[str, str], media: CallMedia,
                  from_uri: str = "") -> int:
        acc = self._accounts[DIRECT if account is None else account]
        if from_uri and account is not None:
            acc = self._anonymous_account(account, from_uri)     # a Contact that hides the user ID too
        now = time.monotonic()
        if not self._budget.fits(SOCKETS_PER_CALL, now):
            raise ValueError(f"cannot call {uri}: the phone is out of media sockets for a moment; "
                             "try again in a second")
        call = _Call(self, acc)
        call.media = media
        prm = pj.CallOpParam(True)
        _add_headers(prm, headers)
        if from_uri:
            prm.txOption.localUri = from_uri
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:
            raise ValueError(f"cannot call {uri}: {exc.reason}") from None
        cid: int = call.getId()
        self._calls[cid] = call
        try:
            self._budget.confirm(_budget_key(call.getInfo().callIdString), SOCKETS_PER_CALL, now)
        except pj.Error:
            pass
        return cid

    def _call(self, cid: int) -> _Call:
        """The call with pjsua id `cid`; ValueError (never KeyError) when it has gone."""
        call = self._calls.get(cid)
        if call is None:
            raise ValueError(f"call {cid} has ended")
        return call

    def call_alive(self, cid: int) -> bool:
        """Whether pjsua still has the call the phone knows by `cid` (a line whose call vanished is freed)."""
        call = self._calls.get(cid)
        if call is None:
            return False
        try:
            active: bool = call.isActive()
            return active
        except pj.Error:
            return False

    def answer(self, cid: int, code: int, media: CallMedia | None = None,
               headers: dict[str, str] | None = None) -> None:
        if code >= 300 and cid == self._in_incoming:
            # pjsua2 frees the INVITE's cloned rdata once onIncomingCall returns; a refusal sent inside it may
            # end and reset the call first, and pjsip then asserts (pjsip_rx_data_free_cloned): refuse it on
            # the next loop turn instead, before any other network event
            self._jobs.put(lambda: self._end_refused(cid, code, headers))
            return
        call = self._call(cid)
        if media is not None:
            call.media = media
        prm = pj.CallOpParam()
        prm.statusCode = code
        _add_headers(prm, headers or {})
        try:
            call.answer(prm)
        except pj.Error as exc:
            raise ValueError(f"cannot answer call {cid}: {exc.reason}") from None

    def _end_refused(self, cid: int, code: int, headers: dict[str, str] | None) -> None:
        try:
            self.answer(cid, code, headers=headers)
        except (KeyError, ValueError, pj.Error):
            pass                   # the caller gave up (CANCEL) in the meantime: nothing left to refuse

    def hangup(self, cid: int, code: int = 0) -> None:
        if cid == self._in_incoming:      # see answer(): not from inside onIncomingCall
            self._jobs.put(lambda: self.hangup(cid, code))
            return
        call = self._calls.get(cid)
        if call is None:
            return
        prm = pj.CallOpParam()
        prm.statusCode = code
        try:
            call.hangup(prm)
        except pj.Error as exc:
            log.info("hangup of call %s: %s", cid, exc.reason)

    def hold(self, cid: int) -> None:
        self._want_hold(cid, True)

    def unhold(self, cid: int) -> None:
        self._want_hold(cid, False)

    def _want_hold(self, cid: int, on: bool) -> None:
        """Hold or resume: one re-INVITE at a time per call, carrying what was asked last (a resume asked
        while a hold still waits replaces it, instead of racing it and losing)."""
        call = self._calls.get(cid)
        if call is None:
            return
        call.want_hold = on
        if not call.reinviting:
            call.reinviting = True
            self._reinvite(cid)

    def _reinvite(self, cid: int, tries: int = 30) -> None:
        """Send the hold or resume the call wants; while another re-INVITE of it is still pending, or its new
        stream has not sent (and heard) its first packet yet (see _stream_settled), try again shortly."""
        call = self._calls.get(cid)
        if call is None:
            return
        if time.monotonic() - call.media_since < STREAM_SETTLE_S and not _stream_settled(call):
            del call
            self.schedule(0.02, lambda: self._reinvite(cid, tries))
            return
        unhold = not call.want_hold
        prm = pj.CallOpParam(True)
        failure = None
        try:
            if unhold:
                prm.opt.flag = pj.PJSUA_CALL_UNHOLD
                call.reinvite(prm)
            else:
                call.setHold(prm)
        except pj.Error as exc:
            failure = exc.reason    # keep no reference to the exception: its frames hold the Call
        if failure is None or tries <= 0:
            call.reinviting = False
        del call
        if failure is None:
            return
        if tries > 0:
            self.schedule(0.1, lambda: self._reinvite(cid, tries - 1))
        else:
            log.warning("call %s: %s failed: %s", cid, "resume" if unhold else "hold", failure)

    def set_mute(self, cid: int, on: bool) -> None:
        call = self._call(cid)
        call.muted = on
        if call.port is not None:
            call.port.muted = on
        if call.local and call.connected_media is not None:
            am = _audio_of(call)
            if am is not None:
                self._join_local_media(call, am, True)      # the microphone stops (or starts) reaching it

    def set_media(self, cid: int, media: CallMedia) -> None:
        call = self._call(cid)
        call.media = media
        am = _audio_of(call) if call.connected_media is not None else None
        if am is not None:
            self._attach_port(call, am)
        elif call.port is not None:
            call.port.media = media

    def send_dtmf(self, cid: int, digits: str, method: str) -> None:
        prm = pj.CallSendDtmfParam()
        prm.digits = digits
        prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
        prm.duration = 160
        self._call(cid).sendDtmf(prm)

    def blind_transfer(self, cid: int, uri: str) -> None:
        self._call(cid).xfer(uri, pj.CallOpParam(True))

    def attended_transfer(self, cid: int, other_cid: int) -> None:
        prm = pj.CallOpParam(True)
        # PJSUA_XFER_NO_REQUIRE_REPLACES (not exported to Python): no "Require: replaces" in the transferee's
        # INVITE, so a target without Replaces (baresip 1.0 answers 420) takes it as a new call, as desk
        # phones send it; the phone then ends its consultation leg itself (Phone.on_transfer_status)
        prm.options = 1
        self._call(cid).xferReplaces(self._call(other_cid), prm)

    def quality(self, cid: int) -> CallQuality:
        call = self._call(cid)
        codec = ""
        try:
            codec = call.getStreamInfo(0).codecName
            st = call.getStreamStat(0).rtcp
        except pj.Error:
            return CallQuality(codec=codec, rx_packets=0, rx_lost=0, rx_loss_pct=0.0, jitter_ms=0.0,
                               tx_packets=0, rtt_ms=0.0, mos=0.0)
        rx, lost = st.rxStat.pkt, st.rxStat.loss
        loss_pct = 100.0 * lost / (rx + lost) if rx + lost else 0.0
        jitter = st.rxStat.jitterUsec.mean / 1000.0
        rtt = st.rttUsec.mean / 1000.0
        mos = estimate_mos(rtt_ms=rtt, jitter_ms=jitter, loss_pct=loss_pct, codec=codec) if rx else 0.0
        return CallQuality(codec=codec, rx_packets=rx, rx_lost=lost, rx_loss_pct=loss_pct, jitter_ms=jitter,
                           tx_packets=st.txStat.pkt, rtt_ms=rtt, mos=mos)

    def rx_activity(self, cid: int) -> int | None:
        """A count that moves while the far end sends media: RTP packets received plus RTCP receiver reports
        received (pjmedia counts those in txStat.updateCount). None when the call has no audio stream, or one
        the far end agreed not to send on (it offered recvonly or inactive)."""
        call = self._calls.get(cid)
        if call is None:
            return None
        try:
            ci = call.getInfo()         # kept: its media vector lives as long as it does
            for mi in ci.media:
                if mi.type != pj.PJMEDIA_TYPE_AUDIO or mi.status not in (pj.PJSUA_CALL_MEDIA_ACTIVE,
                                                                         pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                    continue
                if not mi.dir & pj.PJMEDIA_DIR_DECODING:
                    return None
                st = call.getStreamStat(mi.index).rtcp
                count: int = st.rxStat.pkt + st.txStat.updateCount
                return count
        except pj.Error:
            pass
        return None

    # ----- pjsua2 callbacks (SIP thread) --------------------------------------------------------
    def _on_call_state(self, call: _Call) -> None:
        ci = call.getInfo()
        cid = ci.id
        state = _CALL_STATES.get(ci.state, "calling")
        self._calls.setdefault(cid, call)
        now = time.monotonic()
        key = _budget_key(ci.callIdString)
        if state == "disconnected":
            self._budget.release(key, now)
        else:
            self._budget.confirm(key, SOCKETS_PER_CALL, now)
        self.listener.on_call_state(cid, state, ci.lastStatusCode, from_wire(ci.lastReason),
                                    from_wire(ci.callIdString))
        if state == "disconnected":
            self._drop_port(call)
            call.forget_id()       # pjsua may hand this id to the next INVITE before the object goes
            if self._calls.get(cid) is call:
                del self._calls[cid]      # not the call object itself: it is deleted after this callback
                self._ended.append(call)

    def _on_media_state(self, call: _Call) -> None:
        call.media_since = time.monotonic()
        ci = call.getInfo()
        active, remote_hold = False, False
        for mi in ci.media:
            if mi.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if mi.status in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                active = True
            remote_hold = mi.status == pj.PJSUA_CALL_MEDIA_REMOTE_HOLD
        if active:
            self._connect_port(call)
        codec = ""
        try:
            codec = call.getStreamInfo(0).codecName
        except pj.Error:
            pass
        self.listener.on_media_state(ci.id, active, remote_hold, codec)
