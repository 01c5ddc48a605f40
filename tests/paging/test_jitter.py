"""The listener's jitter buffer: order restored, duplicates and late packets dropped, losses
filled by a fading repeat of the last frame, and the timeline never shifted by any of it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tuiphone.audio.jitter import FADE_FRAMES, JitterBuffer

FRAME = 160          # 20 ms at 8 kHz: the test "codec" carries raw int16 samples, one tick each
BASE_TS = 0xFFFFF000  # near the 32-bit wrap, so every test crosses it


def _buffer(**kwargs) -> JitterBuffer:
    return JitterBuffer(lambda p: np.frombuffer(p, dtype=np.int16), out_per_tick=1, frame=FRAME, rate=8000,
                        ticks=lambda p: len(p) // 2, **kwargs)


def _audio(n_packets: int, size: int = FRAME) -> np.ndarray:
    return (np.arange(n_packets * size) % 20000 + 1).astype(np.int16)   # never 0: silence stands out


def _packets(audio: np.ndarray, size: int = FRAME) -> list[tuple[int, bytes]]:
    return [((BASE_TS + i) & 0xFFFFFFFF, audio[i : i + size].tobytes()) for i in range(0, len(audio), size)]


def _play(jb: JitterBuffer, arrivals: list[list[tuple[int, bytes]]]) -> list[np.ndarray]:
    """One list of packets arrives before each 20 ms tick; returns the frames played."""
    out = []
    for batch in arrivals:
        for ts, payload in batch:
            jb.put(ts, payload)
        frame = jb.pop()
        if frame is not None:
            assert len(frame) == FRAME
            out.append(frame)
    return out


def _plays_in_order(played: np.ndarray, audio: np.ndarray, size: int = FRAME) -> bool:
    """Each packet's audio appears whole, in order (made-up audio may sit between packets)."""
    pos = 0
    for start in range(0, len(audio), size):
        chunk = audio[start : start + size]
        hits = np.flatnonzero(played[pos:] == chunk[0])
        if not any(np.array_equal(played[pos + h : pos + h + len(chunk)], chunk) for h in hits):
            return False
        pos += int(next(h for h in hits if np.array_equal(played[pos + h : pos + h + len(chunk)], chunk)))
        pos += len(chunk)
    return True


def _one_per_tick(packets, extra_ticks: int = 5):
    return [[p] for p in packets] + [[] for _ in range(extra_ticks)]


def test_in_order_stream_plays_unchanged_after_the_target_delay():
    audio = _audio(20)
    jb = _buffer(target_ms=60)
    frames = _play(jb, _one_per_tick(_packets(audio)))
    played = np.concatenate(frames)
    assert np.array_equal(played[: len(audio)], audio)
    assert jb.concealed == FRAME * 3       # only after the stream ended, while waiting for more
    assert len(frames) == 20 + 5 - 2       # the first two ticks filled the 60 ms target


def test_reordered_packets_play_in_order():
    audio = _audio(20)
    packets = _packets(audio)
    for i in range(2, 18, 3):              # swap neighbours: each arrives one tick late
        packets[i], packets[i + 1] = packets[i + 1], packets[i]
    jb = _buffer(target_ms=60)
    played = np.concatenate(_play(jb, _one_per_tick(packets)))
    assert np.array_equal(played[: len(audio)], audio)
    assert jb.late == 0 and jb.concealed == 3 * FRAME


def test_duplicates_are_dropped():
    audio = _audio(10)
    packets = _packets(audio)
    arrivals = [[p, p] for p in packets] + [[packets[3]]] + [[] for _ in range(3)]
    jb = _buffer(target_ms=40)
    played = np.concatenate(_play(jb, arrivals))
    assert np.array_equal(played[: len(audio)], audio)
    assert jb.duplicates == 10


def test_a_lost_packet_is_filled_with_the_last_frame_fading_and_the_rest_stays_in_place():
    audio = _audio(12)
    packets = _packets(audio)
    del packets[6]
    jb = _buffer(target_ms=40)
    played = np.concatenate(_play(jb, _one_per_tick(packets)))
    before, gap, after = played[: 6 * FRAME], played[6 * FRAME : 7 * FRAME], played[7 * FRAME : 12 * FRAME]
    assert np.array_equal(before, audio[: 6 * FRAME])
    assert np.array_equal(after, audio[7 * FRAME : 12 * FRAME])        # no shift after the loss
    last = audio[5 * FRAME : 6 * FRAME].astype(float)
    gain = 1.0 - np.arange(FRAME) / (FADE_FRAMES * FRAME)
    assert np.allclose(gap, np.rint(last * gain), atol=1)
    assert abs(gap[-1]) < abs(gap[0])


def test_a_packet_after_its_time_is_dropped_not_played_out_of_place():
    audio = _audio(12)
    packets = _packets(audio)
    late = packets.pop(4)
    arrivals = _one_per_tick(packets)
    arrivals[9].append(late)               # five ticks late: its slot has been concealed already
    jb = _buffer(target_ms=40)
    played = np.concatenate(_play(jb, arrivals))
    assert jb.late == 1
    assert np.array_equal(played[5 * FRAME : 11 * FRAME], audio[5 * FRAME : 11 * FRAME])


def test_concealment_fades_to_silence():
    jb = _buffer(target_ms=20)
    frames = _play(jb, [[p] for p in _packets(_audio(2))] + [[] for _ in range(6)])
    levels = [float(np.abs(f.astype(float)).mean()) for f in frames[2:]]
    assert levels[0] > levels[1] > levels[2] > 0 and levels[3] == levels[4] == 0
    assert jb.last_kind == "silence"


def test_a_stalled_stream_loses_no_audio_when_it_resumes():
    audio = _audio(12)
    packets = _packets(audio)
    arrivals = _one_per_tick(packets[:6], 0) + [[] for _ in range(4)] + _one_per_tick(packets[6:])
    jb = _buffer(target_ms=40)
    played = np.concatenate(_play(jb, arrivals))
    # the packets after the stall were late, not lost: every one plays, and the delay grows instead
    assert np.array_equal(played[: 5 * FRAME], audio[: 5 * FRAME])
    assert _plays_in_order(played, audio)
    assert jb.late == 0 and jb.concealed >= 4 * FRAME


def test_a_sender_pause_is_not_filled_twice():
    audio = _audio(10)
    packets = _packets(audio)
    # the sender pauses 5 frames and moves its timestamps on by as much (no packets meanwhile)
    resumed = [((ts + 5 * FRAME) & 0xFFFFFFFF, p) for ts, p in packets[5:]]
    arrivals = _one_per_tick(packets[:5], 0) + [[] for _ in range(5)] + _one_per_tick(resumed)
    jb = _buffer(target_ms=40)
    frames = _play(jb, arrivals)
    played = np.concatenate(frames)
    start = int(np.flatnonzero(played == audio[5 * FRAME])[0])
    assert np.array_equal(played[start : start + 5 * FRAME], audio[5 * FRAME :])
    assert start == 10 * FRAME            # 5 frames of audio, 5 of pause, then the rest, no extra gap


def test_long_packets_come_out_as_20_ms_frames():
    size = 1400                           # ffmpeg's default: 175 ms per packet, one every 8.75 ticks
    audio = _audio(6, size)
    packets = _packets(audio, size)
    arrivals = [[] for _ in range(60)]
    for k, p in enumerate(packets):
        arrivals[int(k * 8.75)].append(p)
    jb = _buffer(target_ms=60)
    frames = _play(jb, arrivals)
    played = np.concatenate(frames)
    assert all(len(f) == FRAME for f in frames)
    assert _plays_in_order(played, audio, size)
    assert jb.late == 0 and jb.trimmed == 0


def test_a_burst_beyond_the_maximum_delay_is_trimmed_to_the_target():
    audio = _audio(50)
    jb = _buffer(target_ms=60, max_ms=200)
    frames = _play(jb, [_packets(audio)] + [[] for _ in range(10)])
    assert jb.trimmed > 0
    played = np.concatenate(frames)
    assert np.array_equal(played[: 3 * FRAME], audio[-3 * FRAME :])   # the newest 60 ms are what is left


def test_an_early_packet_arriving_second_moves_the_start_back():
    audio = _audio(6)
    packets = _packets(audio)
    arrivals = [[packets[1]], [packets[0]]] + [[p] for p in packets[2:]] + [[] for _ in range(3)]
    jb = _buffer(target_ms=40)
    played = np.concatenate(_play(jb, arrivals))
    assert np.array_equal(played[: len(audio)], audio)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_drops_and_local_reordering_keep_the_timeline(data):
    n = 30
    audio = _audio(n)
    packets = _packets(audio)
    keep = [i for i in range(n) if not data.draw(st.booleans(), label=f"drop {i}") or i == 0]
    arrivals = [[] for _ in range(n + 10)]
    for i in keep:                         # packet i is sent at tick i and delayed by up to 1.9 ticks
        arrivals[int(i + data.draw(st.floats(0, 1.9), label=f"delay {i}"))].append(packets[i])
    jb = _buffer(target_ms=60)
    played = np.concatenate(_play(jb, arrivals))
    # every packet kept plays exactly in its own slot (delays within the 60 ms target are absorbed)
    for i in keep:
        assert np.array_equal(played[i * FRAME : (i + 1) * FRAME], audio[i * FRAME : (i + 1) * FRAME])
