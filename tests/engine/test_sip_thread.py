"""The SIP thread waits up to 100 ms for network events when nothing is due, so an idle phone costs
little CPU; its own timers and work from other threads still run on time."""

from __future__ import annotations

import statistics
import time

from tests.engine.test_localport import backend  # noqa: F401  (the real-pjsua backend fixture)


def test_the_sip_thread_waits_long_but_wakes_for_timers_and_work(backend):  # noqa: F811
    """It sleeps up to 100 ms for network events, yet a timer fires on time and work from another
    thread runs at once."""
    delays = []
    for _ in range(5):
        fired: list[float] = []

        def arm(fired: list[float] = fired) -> float:
            backend.schedule(0.05, lambda: fired.append(time.monotonic()))
            return time.monotonic()

        armed = backend.submit(arm).result(5)
        time.sleep(0.2)
        assert fired, "a 50 ms timer did not fire in 200 ms"
        delays.append(fired[0] - armed)
    assert 0.045 <= statistics.median(delays) < 0.07     # waiting blindly up to 100 ms would give ~75 ms
    trips = []
    for _ in range(20):
        time.sleep(0.03)                     # let it settle into a long wait
        t0 = time.monotonic()
        backend.submit(lambda: None).result(5)
        trips.append(time.monotonic() - t0)
    assert statistics.median(trips) < 0.01
