"""A call's audio in pjmedia's own ports (`CallMedia.ports`, calls under load): nothing runs in Python per frame.

A Python `AudioMediaPort` costs pjmedia's clock thread two Python callbacks every 20 ms per call. Here the
conference bridge does all of it in C:

    WAV player (looped, one per file, shared) ──► call          what the far end hears
    call ──► call                                               an echo: what it hears goes back
    call ──► WAV recorder (one per call, its own file)          what the call hears, on disk

The caller reads the recorder's file as it grows (once a second, see tuiphone/load/media.py). Players and
recorders are pjsua's: removing one from the bridge while the clock runs is safe (the bridge holds a
reference until its next tick, pjmedia 2.14+), so a recorder goes as soon as its call does.
"""

from __future__ import annotations

from typing import Any

import pjsua2 as pj

from tuiphone.engine.backend import PortMedia
from tuiphone.engine.sip.frames import _FramePort
from tuiphone.engine.sip.objects import _Call
from tuiphone.engine.sip.state import _BackendState
from tuiphone.engine.sip.thread import log


def frame_ports_made() -> int:
    """How many Python frame ports (AudioMediaPort) this process has made: 0 for a process whose calls all
    have pjmedia ports."""
    return _FramePort.made


def _connect(src: Any, dst: Any, on: bool = True) -> None:
    try:
        (src.startTransmit if on else src.stopTransmit)(dst)
    except pj.Error as exc:
        if on:
            log.info("bridge connect failed: %s", exc.reason)


class _LoadMedia(_BackendState):
    """PjsuaBackend's pjmedia ports for calls with `CallMedia.ports` (SIP thread)."""

    _players: dict[str, Any]
    _recorders: dict[int, tuple[str, Any]]      # id(call) -> (its file, its recorder)
    _port_media: dict[int, PortMedia]           # id(call) -> what was connected last

    def _attach_load_media(self, call: _Call, am: Any) -> None:
        """Connect the call's audio as `call.media.ports` says; again after a re-INVITE rebuilt its stream,
        or with a new `record` file (the old recorder goes once the new one hears)."""
        want = call.media.ports
        assert want is not None
        key = id(call)
        before = self._port_media.get(key)
        self._port_media[key] = want
        if before is not None and before.play and before.play != want.play:
            _connect(self._player(before.play), am, False)
        if before is not None and before.echo and not want.echo:
            _connect(am, am, False)
        if want.echo:
            _connect(am, am)
        elif want.play:
            player = self._player(want.play)
            if player is not None:
                _connect(player, am)
        old = self._recorders.get(key)
        if not want.record:
            if old is not None:
                del self._recorders[key]
                _connect(am, old[1], False)
            return                       # `old` goes with this frame: pjsua_recorder_destroy
        if old is not None and old[0] == want.record:
            _connect(am, old[1])         # the same file: connected again (to a rebuilt stream, or still)
            return
        rec = pj.AudioMediaRecorder()
        try:
            rec.createRecorder(want.record)
        except pj.Error as exc:
            log.warning("cannot record the call to %s: %s", want.record, exc.reason)
            return                       # an old recorder, if any, goes on
        self._recorders[key] = (want.record, rec)
        _connect(am, rec)
        if old is not None:              # after the new one: the bridge's next tick makes both changes
            _connect(am, old[1], False)

    def _player(self, path: str) -> Any:
        player = self._players.get(path)
        if player is None:
            player = pj.AudioMediaPlayer()
            try:
                player.createPlayer(path, 0)          # 0: loops
            except pj.Error as exc:
                log.warning("cannot play %s: %s", path, exc.reason)
                return None
            self._players[path] = player
        return player

    def _drop_load_media(self, call: _Call) -> None:
        """The call has ended: its recorder goes (pjsua removed its stream from the bridge already)."""
        self._port_media.pop(id(call), None)
        self._recorders.pop(id(call), None)

    def _close_load_media(self) -> None:
        """Before pjsua goes: every recorder and player (pjsua would destroy them under pjsua2's objects)."""
        self._port_media.clear()
        self._recorders.clear()
        self._players.clear()
