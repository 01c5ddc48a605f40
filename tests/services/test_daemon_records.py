"""`tuiphone daemon` keeps the phone's database like the TUI does: saved blocklist, blocklist changes, history."""

from __future__ import annotations

import pytest

from tuiphone.store import Store

pytestmark = pytest.mark.peers


def test_the_saved_blocklist_refuses_a_caller_and_changes_and_calls_are_kept(daemons, phones, tmp_path):
    with Store(tmp_path / "daemon-data" / "tuiphone.db") as store:   # what an earlier TUI session saved
        store.set_blocklist(["tuiphone"])                               # the From user of a direct tuiphone call
    daemon, cti = daemons()

    caller = phones("caller", ["call", daemon.keypad, "--timeout", "10", "--json"])
    rc, report = caller.result()
    assert (rc, report["result"], report["sip_status"]) == (1, "rejected", 603)
    assert cti.ok("api-get_phone_status") == "available"      # it never rang

    cti.ok("api-send_key", keys="STAR:4:0:5:5:5:SEND")           # *40555: block 555, answered once it is done
    daemon.stop()                                                # SIGTERM: pending writes finish first

    with Store(tmp_path / "daemon-data" / "tuiphone.db") as store:
        assert store.blocklist() == ["tuiphone", "555"]
        calls = store.calls()
    assert [(c.direction, c.disposition, c.remote_number) for c in calls] == [("in", "blocked", "tuiphone")]
