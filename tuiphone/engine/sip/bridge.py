"""pjsua's conference bridge: which ports hear which (calls, their Python ports, the phone's local port),
conferences, and `bridge_report` to see what the bridge has."""

from __future__ import annotations

import ctypes
import os
from typing import Any

import pjsua2 as pj

from tuiphone.engine.backend import CallMedia
from tuiphone.engine.localport import LocalPort, LocalPortError
from tuiphone.engine.sip.frames import CLOCK_RATE, FRAME_SAMPLES, _FramePort, _make_port
from tuiphone.engine.sip.objects import _Call
from tuiphone.engine.sip.state import _BackendState
from tuiphone.engine.sip.thread import log


def _audio_of(call: Any) -> Any:
    """The call's current audio media (fresh: a re-INVITE may have rebuilt its stream), or None."""
    try:
        return call.getAudioMedia(-1)
    except pj.Error:
        return None


def _start(src: Any, dst: Any) -> None:
    try:
        src.startTransmit(dst)
    except pj.Error as exc:
        log.info("bridge connect failed: %s", exc.reason)


def _stop(src: Any, dst: Any) -> None:
    try:
        src.stopTransmit(dst)
    except pj.Error:
        pass       # already gone with its stream


class _Bridge(_BackendState):
    """PjsuaBackend's bridge links and ports (SIP thread)."""

    def _connect_port(self, call: _Call) -> None:
        am = call.getAudioMedia(-1)
        # always (re)connect: a re-INVITE may rebuild the stream and drop the bridge links
        self._attach_port(call, am)
        call.connected_media = am
        if call.media.ports is None and self._ep is not None:
            # The sound device's slot (silence: the null device) always transmits to the call. pjmedia 2.15
            # stopped sending a call's RTP for good when nothing transmitted to its slot and the SIP thread
            # asked for the call's info or stream stats while the stream started on a loaded machine
            # (tests/test_conference.py, 2 CPU hogs: 1 call in 3 sent 0-11 packets, then none).
            devices = self._ep.audDevManager()
            _start(devices.getCaptureDevMedia(), am)
        if call.local:
            self._join_local_media(call, am, True)
        for other_id in call.links:
            other = self._calls.get(other_id)
            other_am = _audio_of(other) if other is not None and other.connected_media is not None else None
            if other_am is not None:
                _start(am, other_am)
                _start(other_am, am)

    def bridge_report(self) -> list[dict[str, Any]]:
        """Each call's audio as pjsua has it (status, direction, bridge slot), what its slot sends to, its
        conference links, and its stream's packet counts: what to look at when a conference member hears
        nobody (SIP thread)."""
        out: list[dict[str, Any]] = []
        for cid, call in sorted(self._calls.items()):
            try:
                ci = call.getInfo()
            except pj.Error:
                continue
            media = [(int(mi.status), int(mi.dir), int(mi.audioConfSlot)) for mi in ci.media
                     if mi.type == pj.PJMEDIA_TYPE_AUDIO]
            am = _audio_of(call)
            slot, listeners = -1, []
            if am is not None:
                try:
                    info = am.getPortInfo()
                    slot, listeners = info.portId, list(info.listeners)
                except pj.Error:
                    pass
            try:
                st = call.getStreamStat(0).rtcp
                packets = {"tx": st.txStat.pkt, "rx": st.rxStat.pkt}
            except pj.Error:
                packets = {}
            out.append({"cid": cid, "media": media, "slot": slot, "listeners": listeners,
                        "links": sorted(call.links), "packets": packets})
        return out

    # ----- the phone's own audio and conferences ------------------------------------------------
    def open_local_port(self) -> LocalPort | None:
        """The phone's local port in C, for the sound card's callbacks to speak into and listen from.

        None when this pjsua2 cannot make one, or when TUIPHONE_LOCAL_PORT=python asks for the port in
        Python (the benchmark compares both): then `set_local_media` gives the port its source and sinks."""
        if os.environ.get("TUIPHONE_LOCAL_PORT", "").lower() == "python":
            return None
        if self._native is None:
            try:
                self._native = LocalPort(ctypes.CDLL(pj._pjsua2.__file__), CLOCK_RATE, FRAME_SAMPLES)
            except (LocalPortError, OSError, AttributeError) as exc:
                log.warning("%s; the local port runs in Python instead", exc)
                return None
        return self._native

    def set_local_media(self, media: CallMedia) -> None:
        """The phone's microphone (source) and speaker (sinks) on a local port in Python (no C port)."""
        if self._local is None:
            self._local = _make_port("local", media, self)
        else:
            self._local.media = media

    def join_local(self, cid: int, on: bool) -> None:
        call = self._call(cid)
        call.local = on
        am = _audio_of(call) if call.connected_media is not None else None
        if am is None:
            self._update_local_active()
            return       # connected when its media becomes active
        self._join_local_media(call, am, on)

    def _join_local_media(self, call: _Call, am: Any, on: bool) -> None:
        """Join the local port and a call's audio both ways (the microphone not while the call is muted),
        or part them."""
        speak = on and not call.muted
        native = self._native
        if native is not None:
            if on:
                native.activate()             # before the bridge sends: what is left from before goes first
            slot, peer = native.slot, am.getPortId()
            native.connect(peer, slot, on)
            native.connect(slot, peer, speak)
            if not on:
                self._update_local_active()   # the last call parted: the device side stops exchanging
        elif self._local is not None:
            (_start if on else _stop)(am, self._local)
            (_start if speak else _stop)(self._local, am)

    def _update_local_active(self) -> None:
        """Tell the sound card's side whether any call is joined to the C local port."""
        if self._native is not None:
            if any(c.local and c.connected_media is not None for c in self._calls.values()):
                self._native.activate()
            else:
                self._native.deactivate()

    def link(self, cid: int, other_cid: int, on: bool) -> None:
        """Conference two calls in the bridge: each hears the other (and the local port, when joined)."""
        a, b = self._call(cid), self._call(other_cid)
        if on:
            a.links.add(other_cid)
            b.links.add(cid)
        else:
            a.links.discard(other_cid)
            b.links.discard(cid)
        am_a = _audio_of(a) if a.connected_media is not None else None
        am_b = _audio_of(b) if b.connected_media is not None else None
        if am_a is None or am_b is None:
            return       # linked when both have active media (see _connect_port)
        if on:
            _start(am_a, am_b)
            _start(am_b, am_a)
        else:
            _stop(am_a, am_b)
            _stop(am_b, am_a)

    def _attach_port(self, call: _Call, am: Any) -> None:
        """Give the call a Python port only for what its media needs: every port costs pjmedia's clock two
        Python callbacks a frame, and a call that only talks through the local port needs none."""
        media, port = call.media, call.port
        if media.ports is not None:
            self._attach_load_media(call, am)     # pjmedia's own ports (load_media.py), no Python port
            return
        if media.source is None and not media.sinks:
            if port is not None:
                call.port = None
                _stop(port, am)
                _stop(am, port)
                self._retire_port(port)
            return
        if port is None:
            port = self._spare_ports.pop() if self._spare_ports else _make_port(f"callport{id(call)}", media, self)
            call.port = port
            port.muted = call.muted
        port.media = media
        if media.source is not None:
            _start(port, am)
        else:
            _stop(port, am)
        if media.sinks:
            _start(am, port)
        else:
            _stop(am, port)

    def _retire_port(self, port: _FramePort) -> None:
        """Keep a port no call uses for the next call that needs one, silent meanwhile.

        Destroying it while the media clock runs is not safe: pjsua removes a port from the bridge on a
        later clock tick but frees it at once, so a tick in progress (or the next) calls into freed memory
        (SIGSEGV in onFrameReceived). Ports are destroyed only in _destroy, once the clock has stopped."""
        port.media = CallMedia()
        port.muted = False
        self._spare_ports.append(port)

    def _drop_port(self, call: _Call) -> None:
        if call.media.ports is not None:
            self._drop_load_media(call)
        port, call.port = call.port, None
        call.connected_media = None
        for other_id in call.links:
            other = self._calls.get(other_id)
            if other is not None:
                other.links.discard(call.getId())
        call.links.clear()
        if port is not None:
            self._retire_port(port)
        self._update_local_active()
