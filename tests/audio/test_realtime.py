"""The interpreter tuning run_app applies for audio: checked in a child process, since frozen objects stay
frozen (and the switch interval stays changed) for the rest of the process that asks for it."""

from __future__ import annotations

import json
import subprocess
import sys

from tuiphone.audio.realtime import SWITCH_INTERVAL_S
from tuiphone.collector import GC_THRESHOLDS

CHILD = """
import gc, json, sys
from tuiphone.audio.realtime import hand_over_sooner
from tuiphone.collector import freeze_what_lives
alive = [[i] for i in range(1000)]
hand_over_sooner()
freeze_what_lives()
print(json.dumps({"frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold(),
                  "switch": sys.getswitchinterval()}))
"""


def test_the_startup_objects_leave_the_collector_and_the_gil_is_handed_over_sooner() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(out.stdout)
    assert seen["frozen"] >= 1000                     # at least the lists made before the freeze
    assert tuple(seen["thresholds"]) == GC_THRESHOLDS
    assert seen["switch"] == SWITCH_INTERVAL_S < 0.005   # Python's default is 5 ms
