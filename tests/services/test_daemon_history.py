"""`tuiphone daemon`'s call history survives a crash, and keeps callers whose names are not UTF-8."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.services.helpers import wait_for

pytestmark = pytest.mark.peers

BAD_NAME = "\udcff\udcfe\udcc3("      # as argv, this is the bytes ff fe c3 28: SIPp sends them as they are


def calls(db: Path) -> list[tuple[str, str, float, str]]:
    """(remote name, disposition, duration, number) of every call, newest first, read as another reader
    would (not through Store, which would finish interrupted calls itself)."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT remote_name, disposition, duration_s, remote_number FROM calls "
                           "ORDER BY started DESC, id DESC").fetchall()
    except sqlite3.OperationalError:          # no table yet
        return []
    finally:
        con.close()


def test_kill_9_mid_call_leaves_the_call_in_history_as_interrupted_with_its_talk_time(daemons, phones, tmp_path):
    callee = phones("callee", ["answer", "--timeout", "30", "--json"], ready=True)
    daemon, cti = daemons()
    db = tmp_path / "daemon-data" / "tuiphone.db"
    cti.ok("api-make_call", phonenumber=callee.keypad)
    cti.wait_state("connected")
    wait_for(lambda: [r[1] for r in calls(db)] == ["in_progress"], 5, "the row written when it was dialed")
    # the talk time so far is written every 2 s: wait for one, then kill the phone
    wait_for(lambda: calls(db)[0][2] > 0, 10, "the talk time so far to be written")
    os.kill(daemon.pid, signal.SIGKILL)
    daemon._popen.wait(5)

    again, cti = daemons()                              # the same data dir
    (row,) = calls(db)
    assert row[1] == "interrupted" and 0 < row[2] < 10, row
    assert cti.ok("api-get_phone_status") == "available"


def test_a_caller_whose_name_is_not_utf8_is_in_the_history(daemons, sipp, tmp_path):
    daemon, cti = daemons()
    db = tmp_path / "daemon-data" / "tuiphone.db"
    run = sipp("uac_cancel_from_name.xml", remote=daemon.address, service="tuiphone", pause_ms=300,
               keys={"caller": "u", "from_name": BAD_NAME}, timeout=5)
    result = run.wait()
    assert result.passed, result.explain()
    assert b'From: "\xff\xfe\xc3(" <sip:u@' in run.message_file.read_bytes()    # the bytes went out as they are
    wait_for(lambda: [r[1] for r in calls(db)] == ["missed"], 5, "the call to be in history")
    assert calls(db)[0][::3] == ("\ufffd\ufffd\ufffd(", "u")
    assert cti.ok("api-get_phone_status") == "available"
