"""LogThrottle: a few lines per key per window, then one line with the count of the rest."""

from __future__ import annotations

import logging
import threading

from tuiphone.logthrottle import LogThrottle, one_line


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(caplog, **kw) -> tuple[LogThrottle, Clock]:
    caplog.set_level(logging.DEBUG, logger="t")
    clock = Clock()
    return LogThrottle(logging.getLogger("t"), clock=clock, **kw), clock


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "t"]


def test_a_flood_of_one_kind_costs_burst_lines_then_one_count(caplog):
    throttle, clock = make(caplog, burst=3, window_s=60)
    shown = [throttle.info("bad-packet", "dropped packet %d from %s", n, "127.0.0.1:5") for n in range(1000)]
    assert shown[:3] == [True] * 3 and not any(shown[3:])
    assert lines(caplog) == [f"dropped packet {n} from 127.0.0.1:5" for n in range(3)]
    clock.now += 61
    assert throttle.info("bad-packet", "dropped packet again")
    assert lines(caplog)[3:] == ["997 more like this suppressed in the last 60 s: dropped packet 3 from 127.0.0.1:5",
                                 "dropped packet again"]
    assert throttle.suppressed_total == 997


def test_keys_have_their_own_budget_and_an_ended_window_is_told_by_any_later_line(caplog):
    throttle, clock = make(caplog, burst=1, window_s=10)
    throttle.warning("a", "first a")
    throttle.warning("a", "second a")
    throttle.warning("b", "first b")
    assert lines(caplog) == ["first a", "first b"]
    clock.now += 11
    throttle.info("c", "first c")
    assert lines(caplog)[2:] == ["1 more like this suppressed in the last 10 s: second a", "first c"]
    assert caplog.records[2].levelno == logging.WARNING


def test_flush_tells_the_counts_left(caplog):
    throttle, _ = make(caplog, burst=0)
    throttle.error("x", "boom")
    throttle.error("x", "boom")
    assert lines(caplog) == []
    throttle.flush()
    assert lines(caplog) == ["2 more like this suppressed in the last 1 s: boom"]


def test_a_line_is_one_short_line_whatever_it_is_given(caplog):
    throttle, _ = make(caplog)
    throttle.info("k", "pjsip: %s", "Dropping packet:\r\nINVITE sip:x SIP/2.0\r\nVia: " + "A" * 5000)
    (line,) = lines(caplog)
    assert "\n" not in line and len(line) <= 300 and line.startswith("pjsip: Dropping packet:")
    assert one_line("  a\nb", 10) == "a" and one_line("x" * 20, 10) == "x" * 9 + "…"
    throttle.info("k", "100% bad %s")          # a stray % is no reason to fail
    assert lines(caplog)[-1] == "100% bad %s"


def test_many_keys_do_not_grow_memory_and_threads_share_it_safely(caplog):
    throttle, _ = make(caplog, burst=1)

    def flood(n: int) -> None:
        for i in range(300):
            throttle.debug(f"k{n}-{i}", "line")

    threads = [threading.Thread(target=flood, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(throttle._windows) <= 256


def test_a_failure_is_one_line_with_its_traceback_only_at_debug(caplog):
    throttle, _ = make(caplog, burst=2)
    caplog.set_level(logging.INFO, logger="t")
    for _ in range(5):
        try:
            {}["missing"]
        except KeyError as exc:
            throttle.failed("job", "SIP thread job", exc)
    assert lines(caplog) == ["SIP thread job failed: KeyError: 'missing'"] * 2
    assert not any(r.exc_info for r in caplog.records)
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="t")
    throttle2 = LogThrottle(logging.getLogger("t"))
    throttle2.failed("job", "timer", ValueError("x"))
    assert [r.exc_info is not None for r in caplog.records] == [False, True]
