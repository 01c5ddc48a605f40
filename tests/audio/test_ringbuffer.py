"""The ring between two audio clocks: no locks, no lost samples, and drift kept in check."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuiphone.audio.analysis import band_energy_ratio, dominant_frequency
from tuiphone.audio.ringbuffer import DriftCorrector, SampleRing

RATE = 16000
FRAME = 320


def test_samples_come_out_in_order_across_the_wrap() -> None:
    ring = SampleRing(10)
    assert ring.write(np.arange(1, 8, dtype=np.int16)) == 7
    assert ring.read(5).tolist() == [1, 2, 3, 4, 5]
    assert ring.write(np.arange(8, 14, dtype=np.int16)) == 6     # wraps past the end
    assert ring.fill == 8
    assert ring.read(8).tolist() == [6, 7, 8, 9, 10, 11, 12, 13]
    assert ring.underruns == 0 and ring.overruns == 0


def test_reading_too_much_pads_with_silence_and_counts_an_underrun() -> None:
    ring = SampleRing(16)
    ring.write(np.array([5, 6, 7], dtype=np.int16))
    assert ring.read(5).tolist() == [5, 6, 7, 0, 0]
    assert ring.underruns == 1 and ring.padded == 2
    assert ring.fill == 0


def test_writing_into_a_full_ring_drops_the_new_samples_and_counts_an_overrun() -> None:
    ring = SampleRing(4)
    assert ring.write(np.array([1, 2, 3], dtype=np.int16)) == 3
    assert ring.write(np.array([4, 5, 6], dtype=np.int16)) == 1
    assert ring.overruns == 1 and ring.dropped == 2
    assert ring.read(4).tolist() == [1, 2, 3, 4]


def test_latest_shows_the_last_samples_written_even_when_already_read() -> None:
    ring = SampleRing(8)
    ring.write(np.arange(1, 7, dtype=np.int16))
    ring.read(6)
    ring.write(np.arange(7, 11, dtype=np.int16))
    assert ring.latest(5).tolist() == [6, 7, 8, 9, 10]
    assert ring.latest(100).tolist() == [3, 4, 5, 6, 7, 8, 9, 10]   # never more than it holds


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=60), st.integers(1, 50))
def test_the_ring_behaves_like_a_bounded_queue(ops: list[tuple[bool, int]], capacity: int) -> None:
    ring, model, counter = SampleRing(capacity), [], 0
    for is_write, n in ops:
        if is_write:
            block = np.arange(counter, counter + n, dtype=np.int64) % 30000
            counter += n
            stored = ring.write(block.astype(np.int16))
            assert stored == min(n, capacity - len(model))
            model.extend(block[:stored].tolist())
        else:
            got = ring.read(n).tolist()
            real = min(n, len(model))
            assert got == model[:real] + [0] * (n - real)
            del model[:real]
        assert ring.fill == len(model)


def test_a_meter_history_keeps_the_newest_samples_without_a_reader() -> None:
    ring = SampleRing(5)
    for start in range(0, 40, 3):
        ring.write_over(np.arange(start, start + 3, dtype=np.int16))
    assert ring.latest(5).tolist() == [37, 38, 39, 40, 41]
    ring.write_over(np.arange(100, 112, dtype=np.int16))     # more than it holds at once
    assert ring.latest(5).tolist() == [107, 108, 109, 110, 111]
    assert ring.overruns == 0


def test_a_producer_and_a_consumer_thread_pass_every_sample_intact() -> None:
    ring = SampleRing(1000)
    total = 200_000
    seen = np.zeros(total, dtype=np.int16)

    def produce() -> None:
        sent = 0
        while sent < total:
            block = (np.arange(sent, min(sent + 373, total)) % 30000).astype(np.int16)
            stored = ring.write(block)
            sent += stored
            if not stored:
                time.sleep(0.0002)             # full: let the consumer run instead of spinning on the GIL

    def consume() -> None:
        got = 0
        buf = np.zeros(517, dtype=np.int16)
        while got < total:
            n = ring.read_into(buf)
            seen[got : got + n] = buf[:n]
            got += n
            if not n:
                time.sleep(0.0002)

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    assert np.array_equal(seen, (np.arange(total) % 30000).astype(np.int16))


def _simulate(
    skew: float, seconds: float, producer_block: int = FRAME, consumer_block: int = FRAME,
    target: int = 960, freq: float = 1000.0, jitter_s: float = 0.002,
) -> tuple[DriftCorrector, np.ndarray, np.ndarray]:
    """Producer at RATE*(1+skew) with timing jitter, consumer at RATE, in simulated time.

    Returns the corrector, the consumer's output and the fill seen at each read.
    """
    rng = np.random.default_rng(7)
    ring = SampleRing(RATE)
    corrector = DriftCorrector(ring, target=target)
    amplitude = 8000.0
    produced = 0
    producer_period = producer_block / (RATE * (1.0 + skew))
    consumer_period = consumer_block / RATE
    reads = int(seconds / consumer_period)
    out = np.zeros(reads * consumer_block, dtype=np.int16)
    fills = np.zeros(reads, dtype=np.int64)
    block = 0
    next_write = producer_period / 2                # the two clocks tick out of phase
    for i in range(reads):
        now = i * consumer_period
        while next_write <= now:
            t = np.arange(produced, produced + producer_block)
            ring.write(np.rint(amplitude * np.sin(2 * math.pi * freq / RATE * t)).astype(np.int16))
            produced += producer_block
            block += 1
            next_write = (block + 0.5) * producer_period + rng.uniform(-jitter_s, jitter_s)
        fills[i] = ring.fill
        corrector.read_into(out[i * consumer_block : (i + 1) * consumer_block])
    return corrector, out, fills


def _steepest_step(amplitude: float = 8000, freq: float = 1000.0) -> float:
    """The largest sample-to-sample step of a clean sine, allowing for the stretch of a correction."""
    return amplitude * 2 * math.pi * freq / RATE * 1.02 + 2


@pytest.mark.parametrize("skew", [0.005, -0.005])
def test_half_a_percent_clock_skew_is_corrected_for_minutes_without_clicks(skew: float) -> None:
    seconds = 180.0
    corrector, out, fills = _simulate(skew, seconds)
    settled = fills[50:]                                     # after the first second
    assert settled.max() < 960 + 640 and settled.min() >= FRAME
    assert corrector.underruns == 0 and corrector.resyncs == 0 and corrector.ring.overruns == 0
    # the producer's surplus (or shortfall) of 0.5 % was taken up by corrections
    assert corrector.adjusted == pytest.approx(skew * RATE * seconds, abs=960)
    assert corrector.corrections >= abs(skew) * RATE * seconds / 4
    # no click: no step between samples is steeper than the sine itself allows
    body = out[RATE:].astype(np.int64)
    assert np.abs(np.diff(body)).max() <= _steepest_step()
    # played at our clock, the producer's tone comes out 0.5 % off, still one clean tone
    tail = body[-RATE * 4 :]
    assert dominant_frequency(tail, RATE) == pytest.approx(1000 * (1 + skew), abs=6)
    assert band_energy_ratio(tail, RATE, 1000 * (1 + skew), 15) > 0.99


def test_matching_clocks_need_no_corrections() -> None:
    corrector, _, fills = _simulate(0.0, 60.0)
    assert corrector.corrections == 0 and corrector.underruns == 0
    assert fills[50:].max() - fills[50:].min() <= FRAME


def test_bursty_producer_blocks_are_smoothed_not_chased() -> None:
    # a sound card handing over 60 ms at once, read in 20 ms frames, 0.3 % fast
    corrector, out, fills = _simulate(0.003, 120.0, producer_block=960, target=1600)
    assert corrector.underruns == 0 and corrector.ring.overruns == 0
    assert fills[50:].max() < 1600 + 1600 and fills[50:].min() >= FRAME
    assert corrector.adjusted == pytest.approx(0.003 * RATE * 120, abs=1600)
    assert np.abs(np.diff(out[RATE:].astype(np.int64))).max() <= _steepest_step()


def test_output_is_silent_until_the_ring_reaches_its_target() -> None:
    ring = SampleRing(4000)
    corrector = DriftCorrector(ring, target=640)
    ring.write(np.full(500, 100, dtype=np.int16))
    assert not corrector.read(FRAME).any() and corrector.priming
    ring.write(np.full(200, 100, dtype=np.int16))
    assert (corrector.read(FRAME) == 100).all() and not corrector.priming


def test_a_stream_that_stops_and_comes_back_counts_one_underrun() -> None:
    ring = SampleRing(4000)
    corrector = DriftCorrector(ring, target=640, deadband=1000)   # no drift corrections here
    ring.write(np.full(960, 7, dtype=np.int16))
    for _ in range(3):
        corrector.read(FRAME)
    frame = corrector.read(FRAME)                  # ran dry: silence
    assert not frame.any() and corrector.underruns == 0
    ring.write(np.full(960, 7, dtype=np.int16))    # the stream comes back
    corrector.read(FRAME)
    assert corrector.underruns == 1 and corrector.padded == FRAME


def test_a_stream_that_ends_is_not_an_underrun() -> None:
    ring = SampleRing(4000)
    corrector = DriftCorrector(ring, target=640, gap_limit=RATE)
    ring.write(np.full(960, 7, dtype=np.int16))
    for _ in range(60):                            # 1.2 s of nothing after the call hung up
        corrector.read(FRAME)
    ring.write(np.full(960, 7, dtype=np.int16))    # the next call, much later
    for _ in range(3):
        corrector.read(FRAME)
    assert corrector.underruns == 0


def test_a_consumer_coming_back_after_a_break_skips_the_stale_audio() -> None:
    ring = SampleRing(16000)
    corrector = DriftCorrector(ring, target=640)
    ring.write(np.zeros(700, dtype=np.int16))
    corrector.read(FRAME)
    ring.write(np.ones(15000, dtype=np.int16))     # the reader was away for almost a second
    for _ in range(200):
        corrector.read(FRAME)
        if corrector.resyncs:
            break
    assert corrector.resyncs == 1
    assert ring.fill <= 640
