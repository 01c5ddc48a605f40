"""The local port in C on a real pjsua bridge: frames go round, nothing flows while no call is joined,
and a closed port is inert. The port is looped to itself in the bridge, so what is sent comes back."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.phoneproc import sip_port
from tuiphone.audio.analysis import band_energy_ratio, level_dbfs
from tuiphone.audio.sources import ToneSource
from tuiphone.engine.backend import TransportSettings
from tuiphone.engine.sip import PjsuaBackend


class _Listener:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@pytest.fixture
def backend():
    b = PjsuaBackend(_Listener())
    b.start(TransportSettings(bind_address="127.0.0.1", port=sip_port(), transports=("udp",)))
    yield b
    b.stop()


def _sound_card(port, seconds: float, tone: ToneSource | None) -> np.ndarray:
    """Play a sound card's part from another thread for `seconds`: send a frame, take a frame, every 20 ms."""
    heard: list[np.ndarray] = []

    def run() -> None:
        next_at = time.monotonic()
        end = next_at + seconds
        while next_at < end:
            next_at += 0.02
            time.sleep(max(0.0, next_at - time.monotonic()))
            port.tx[:] = tone.read(port.frame_samples) if tone else 0
            port.send()
            if port.receive():
                heard.append(port.rx.copy())

    t = threading.Thread(target=run)       # not the SIP thread: it registers itself with pjlib
    t.start()
    t.join(seconds + 5)
    return np.concatenate(heard) if heard else np.zeros(0, dtype=np.int16)


def _loop(backend, port, on: bool) -> None:
    def job() -> None:
        if on:
            port.activate()
        port.connect(port.slot, port.slot, on)
        if not on:
            port.deactivate()
    backend.submit(job).result(5)


def test_a_frame_sent_into_the_bridge_comes_back_out(backend):
    port = backend.submit(backend.open_local_port).result(5)
    assert port is not None and backend.submit(backend.open_local_port).result(5) is port
    _loop(backend, port, True)
    heard = _sound_card(port, 1.5, ToneSource(700))
    assert port.sent > 60 and port.received > 60
    assert band_energy_ratio(heard[8000:], 16000, 700, width_hz=40) > 0.8


def test_nothing_flows_while_no_call_is_joined(backend):
    port = backend.submit(backend.open_local_port).result(5)
    heard = _sound_card(port, 0.5, ToneSource(700))
    assert len(heard) == 0 and port.sent == 0 and port.received == 0


def test_what_the_mic_heard_before_a_call_is_not_sent_when_it_starts(backend):
    port = backend.submit(backend.open_local_port).result(5)
    _loop(backend, port, True)
    _sound_card(port, 0.6, ToneSource(700))          # a call: the tone fills the buffers
    _loop(backend, port, False)
    _loop(backend, port, True)                       # the next call starts with silence
    first = _sound_card(port, 0.3, None)
    assert level_dbfs(first) < -60


def test_a_closed_port_is_inert(backend):
    port = backend.submit(backend.open_local_port).result(5)
    _loop(backend, port, True)
    backend.submit(port.close).result(5)
    assert not port.active
    port.send()
    assert port.receive() is False and port.sent == 0


def test_a_pjsua2_without_the_c_functions_falls_back_to_the_python_port(backend, monkeypatch, caplog):
    from tuiphone.engine.localport import LocalPortError
    from tuiphone.engine.sip import bridge

    def refuse(*args, **kwargs):
        raise LocalPortError("this pjsua2 build lacks a pjmedia function the local port needs (pjmedia_x)")

    monkeypatch.setattr(bridge, "LocalPort", refuse)
    assert backend.submit(backend.open_local_port).result(5) is None
    assert "runs in Python instead" in caplog.text

