"""The order test files are handed to the xdist workers: the longest first.

`scripts/test` runs `pytest -n 2 --dist loadfile --no-loadscope-reorder`: a worker takes the next whole file when
it is almost done with its own, in collection order. Left to itself xdist sorts the files by their number of
tests, so a slow file of one test (every screen in Chinese, the browser's terminal) came last and one worker ran
it alone while the other had finished. Longest first (LPT) leaves only short files for the end, and the two
workers end together.

The seconds each file took are in tests/file_seconds.json; refresh them after a full run with
`python3 -m tests.file_order /path/to/junit.xml` (a run with `--junitxml`). A file not listed yet (a new one)
counts a second a test until then. Single-process runs keep pytest's own order.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

SECONDS_FILE = Path(__file__).with_name("file_seconds.json")
UNKNOWN_TEST_S = 1.0


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def known_seconds() -> dict[str, float]:
    try:
        return json.loads(SECONDS_FILE.read_text())
    except (OSError, ValueError):
        return {}


def longest_first(items: list) -> list:
    """`items` (pytest items) regrouped file by file, the longest file first; a file's own tests keep their
    order, and files of equal time keep theirs."""
    by_file: dict[str, list] = defaultdict(list)
    for item in items:
        by_file[file_of(item.nodeid)].append(item)
    seconds = known_seconds()

    def cost(name: str) -> float:
        return seconds.get(name, UNKNOWN_TEST_S * len(by_file[name]))

    ordered = sorted(by_file, key=lambda name: -cost(name))      # a stable sort: ties keep collection order
    return [item for name in ordered for item in by_file[name]]


def seconds_from_junit(path: str) -> dict[str, float]:
    """Each file's seconds in a junit report (each test case's time is its setup, call and teardown)."""
    totals: dict[str, float] = defaultdict(float)
    for case in ET.parse(path).iter("testcase"):
        parts = (case.get("classname") or "").split(".")
        while parts and not parts[-1].startswith("test_"):
            parts.pop()                              # tests.x.test_y.SomeClass -> tests/x/test_y.py
        if parts:
            totals["/".join(parts) + ".py"] += float(case.get("time") or 0)
    return {name: round(s, 1) for name, s in sorted(totals.items(), key=lambda kv: -kv[1])}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 -m tests.file_order JUNIT.xml   (rewrites tests/file_seconds.json)")
    SECONDS_FILE.write_text(json.dumps(seconds_from_junit(sys.argv[1]), indent=1) + "\n")
