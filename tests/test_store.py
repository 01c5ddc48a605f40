"""The phone's database: call history, phonebook, groups, blocklist; WAL, crash safety, schema version."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tuiphone.engine.events import CallLogEntry
from tuiphone.store import (
    HISTORY_KEEP,
    SCHEMA_VERSION,
    Contact,
    Number,
    Store,
    StoreError,
    keeps,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "data" / "tuiphone.db") as s:
        yield s


def entry(number: str, direction: str = "in", disposition: str = "answered", started: float = 1000.0,
          duration: float = 12.0, account: int | None = 0) -> CallLogEntry:
    return CallLogEntry(direction=direction, account=account, remote_uri=f"sip:{number}@pbx", remote_name="",
                        remote_number=number, started=started, duration_s=duration, disposition=disposition,
                        reason="200 OK")


def test_database_is_created_in_wal_mode_with_the_schema_version(tmp_path: Path):
    path = tmp_path / "new" / "tuiphone.db"
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_history_filters_all_missed_incoming_outgoing_newest_first(store: Store):
    store.add_log_entry(entry("100", "in", "answered", started=1))
    store.add_log_entry(entry("200", "in", "missed", started=2, duration=0))
    store.add_log_entry(entry("300", "out", "answered", started=3))
    store.add_log_entry(entry("400", "in", "dnd", started=4, duration=0))
    store.add_log_entry(entry("500", "in", "blocked", started=5, duration=0))
    numbers = {kind: [c.remote_number for c in store.calls(kind)] for kind in ("all", "missed", "incoming",
                                                                             "outgoing")}
    assert numbers == {"all": ["500", "400", "300", "200", "100"], "missed": ["400", "200"],
                       "incoming": ["500", "400", "200", "100"], "outgoing": ["300"]}
    first = store.calls("all")[0]
    assert (first.direction, first.account, first.remote_uri, first.reason) == ("in", 0, "sip:500@pbx", "200 OK")


def test_delete_one_call_and_clear_only_what_a_filter_shows(store: Store):
    ids = [store.add_log_entry(entry(n, d, disp, started=i)) for i, (n, d, disp) in
           enumerate([("1", "in", "missed"), ("2", "out", "answered"), ("3", "in", "missed")])]
    store.delete_call(ids[0])
    assert store.call(ids[0]) is None
    assert store.clear_calls("missed") == 1
    assert [c.remote_number for c in store.calls()] == ["2"]


def test_history_keeps_only_the_newest_calls(store: Store, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("tuiphone.store.HISTORY_KEEP", 3)
    for i in range(5):
        store.add_log_entry(entry(str(i), started=i))
    assert [c.remote_number for c in store.calls()] == ["4", "3", "2"]
    assert HISTORY_KEEP >= 200


def test_call_log_mode_all_answered_off():
    assert keeps("missed", "all") and keeps("answered", "all")
    assert keeps("answered", "answered") and not keeps("missed", "answered")
    assert not keeps("answered", "off")


def test_contact_with_several_numbers_in_a_group_round_trips(store: Store):
    work = store.add_group("Work")
    cid = store.save_contact(Contact("Alice Smith", [Number("200", "work"), Number("+1 617-555-0100", "mobile")],
                                     group_id=work))
    saved = store.contact(cid)
    assert saved == Contact("Alice Smith", [Number("200", "work"), Number("+1 617-555-0100", "mobile")], work, cid)
    saved.numbers = [Number("201", "home")]
    saved.name = "Alice Jones"
    store.save_contact(saved)
    assert store.contact(cid).numbers == [Number("201", "home")]
    assert [c.name for c in store.contacts(group_id=work)] == ["Alice Jones"]


def test_search_finds_part_of_a_name_any_case_or_a_number(store: Store):
    store.save_contact(Contact("Alice Smith", [Number("200")]))
    store.save_contact(Contact("Bob Brown", [Number("+1 617-555-0100", "mobile")]))
    store.save_contact(Contact("100%_sure", [Number("999")]))
    assert [c.name for c in store.contacts("SMI")] == ["Alice Smith"]
    assert [c.name for c in store.contacts("6175550")] == ["Bob Brown"]
    assert [c.name for c in store.contacts("0%_")] == ["100%_sure"]     # LIKE wildcards are plain text
    assert [c.name for c in store.contacts("")] == ["100%_sure", "Alice Smith", "Bob Brown"]


def test_search_finds_chinese_names_by_characters(store: Store):
    store.save_contact(Contact("张三丰", [Number("8001")]))
    store.save_contact(Contact("李四", [Number("8002")]))
    assert [c.name for c in store.contacts("三")] == ["张三丰"]


def test_search_finds_chinese_names_by_pinyin_and_initials(store: Store):
    pytest.importorskip("pypinyin", reason="pinyin search needs the pypinyin package")
    store.save_contact(Contact("张三丰", [Number("8001")]))
    store.save_contact(Contact("李四", [Number("8002")]))
    assert [c.name for c in store.contacts("zhangsan")] == ["张三丰"]
    assert [c.name for c in store.contacts("ls")] == ["李四"]


def test_a_contact_needs_a_name_and_a_number(store: Store):
    with pytest.raises(StoreError, match="needs a name"):
        store.save_contact(Contact("  ", [Number("1")]))
    with pytest.raises(StoreError, match="Bob has no number"):
        store.save_contact(Contact("Bob", [Number("  ")]))
    assert store.contacts() == []


def test_names_index_ignores_spaces_and_dashes(store: Store):
    store.save_contact(Contact("Bob", [Number("+1 617-555-0100"), Number("300")]))
    assert store.names() == {"+16175550100": "Bob", "300": "Bob"}


def test_deleting_a_group_keeps_its_contacts_and_names_are_unique(store: Store):
    family = store.add_group("Family")
    cid = store.save_contact(Contact("Mum", [Number("1")], group_id=family))
    with pytest.raises(StoreError, match="already a group called Family"):
        store.add_group("Family")
    store.rename_group(family, "Home")
    assert [g.name for g in store.groups()] == ["Home"]
    store.delete_group(family)
    assert store.groups() == [] and store.contact(cid).group_id is None


def test_deleting_a_contact_deletes_its_numbers(store: Store):
    cid = store.save_contact(Contact("Bob", [Number("300")]))
    store.delete_contact(cid)
    assert store.contacts() == [] and store.names() == {}


def test_blocklist_is_replaced_in_order(store: Store):
    store.set_blocklist(["1900x+", "555", "1900x+"])
    assert store.blocklist() == ["1900x+", "555"]
    store.set_blocklist(["555"])
    assert store.blocklist() == ["555"]


def test_a_committed_entry_survives_the_process_being_killed(tmp_path: Path):
    path = tmp_path / "tuiphone.db"
    script = textwrap.dedent(f"""
        import os, signal
        from tuiphone.store import Store, Contact, Number
        s = Store({str(path)!r})
        s.add_call("in", 0, "sip:1@x", "", "1", 1.0, 3.0, "answered")
        s.save_contact(Contact("Kept", [Number("42")]))
        s.set_blocklist(["1900x+"])
        os.kill(os.getpid(), signal.SIGKILL)     # no close, no checkpoint
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=30)
    assert proc.returncode == -9, proc.stderr
    with Store(path) as s:
        assert [c.remote_number for c in s.calls()] == ["1"]
        assert [c.name for c in s.contacts()] == ["Kept"]
        assert s.blocklist() == ["1900x+"]


def test_a_database_from_a_newer_tuiphone_is_refused_with_a_sentence(tmp_path: Path):
    path = tmp_path / "tuiphone.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer tuiphone"):
        Store(path)


def test_an_unreadable_file_is_refused_with_what_to_do(tmp_path: Path):
    path = tmp_path / "tuiphone.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="move the file aside"):
        Store(path)


# ----- history that survives a crash --------------------------------------------------------------

def test_text_from_the_network_is_kept_whatever_its_bytes(store: Store):
    # a From display name of bytes ff fe c3 28, as pjsua2 hands it over (lone surrogates), and a user part
    # with a surrogate that stands for no byte at all
    store.add_call("in", None, "sip:u@host", '\udcff\udcfe\udcc3(', "u\ud800", 1.0, 0.0, "missed")
    store.start_call("k1", "in", None, "sip:\udce9@host", "Zoë \udcc3", "\udce9", 2.0)
    first, second = store.calls()
    assert (first.remote_name, first.remote_number, first.remote_uri) == ("Zoë \ufffd", "\ufffd", "sip:\ufffd@host")
    assert (second.remote_name, second.remote_number) == ("\ufffd\ufffd\ufffd(", "u\ufffd")


def test_a_row_written_at_the_start_is_finished_by_the_end_of_the_same_call(store: Store):
    store.start_call("k1", "in", 0, "sip:100@pbx", "Alice", "100", 1000.0)
    (ringing,) = store.calls()
    assert (ringing.disposition, ringing.duration_s) == ("in_progress", 0.0)
    store.touch_calls({"k1": 4.2})
    assert store.calls()[0].duration_s == 4.2
    end = CallLogEntry(direction="in", account=0, remote_uri="sip:100@pbx", remote_name="Alice", remote_number="100",
                       started=1000.0, duration_s=7.5, disposition="answered", reason="200 OK", key="k1")
    store.add_log_entry(end)
    store.add_log_entry(end)           # the same end twice still leaves one row
    (done,) = store.calls()
    assert (done.id, done.disposition, done.duration_s, done.reason) == (ringing.id, "answered", 7.5, "200 OK")
    store.touch_calls({"k1": 9.0})     # a late heartbeat does not change a finished call
    assert store.calls()[0].duration_s == 7.5
    assert [c.remote_number for c in store.calls("incoming")] == ["100"]


def test_a_call_in_progress_when_the_process_was_killed_is_interrupted_with_its_talk_time(tmp_path: Path):
    path = tmp_path / "tuiphone.db"
    script = textwrap.dedent(f"""
        import os, signal
        from tuiphone.store import Store
        s = Store({str(path)!r})
        s.start_call("k1", "out", 0, "sip:200@pbx", "", "200", 1000.0)
        s.touch_calls({{"k1": 12.5}})
        s.start_call("k2", "in", 0, "sip:300@pbx", "", "300", 1001.0)   # still ringing
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=30)
    assert proc.returncode == -9, proc.stderr
    with Store(path) as s:
        calls = [(c.remote_number, c.disposition, c.duration_s) for c in s.calls()]
    assert calls == [("300", "interrupted", 0.0), ("200", "interrupted", 12.5)]


def test_a_call_in_progress_in_a_running_process_stays_in_progress_when_another_opens_the_store(tmp_path: Path):
    path = tmp_path / "tuiphone.db"
    with Store(path) as running:
        running.start_call("k1", "in", 0, "sip:100@pbx", "", "100", 1000.0)
        with Store(path) as other:      # `tuiphone phonebook import` while the phone is in a call
            assert other.calls()[0].disposition == "in_progress"


def test_a_database_of_schema_1_opens_and_keeps_its_calls(tmp_path: Path):
    path = tmp_path / "tuiphone.db"
    db = sqlite3.connect(path, isolation_level=None)
    from tuiphone.store_schema import MIGRATIONS, statements
    for statement in statements(MIGRATIONS[0]):
        db.execute(statement)
    db.execute("INSERT INTO calls(direction, account, remote_uri, remote_name, remote_number, started, duration_s, "
               "disposition, reason) VALUES ('in', 0, 'sip:1@x', '', '1', 5.0, 3.0, 'answered', '')")
    db.execute("PRAGMA user_version=1")
    db.close()
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert [(c.remote_number, c.disposition) for c in s.calls()] == [("1", "answered")]
        s.start_call("k", "out", None, "sip:2@x", "", "2", 6.0)
        assert [c.disposition for c in s.calls()] == ["in_progress", "answered"]

def test_a_version_1_history_is_kept_when_call_summaries_come(tmp_path: Path):
    from tuiphone.store_schema import MIGRATIONS

    path = tmp_path / "tuiphone.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("INSERT INTO calls(direction, account, remote_uri, remote_name, remote_number, started, duration_s, "
               "disposition, reason) VALUES ('out', 0, 'sip:200@x', '', '200', 1.0, 5.0, 'answered', '200 OK')")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with Store(path) as s:
        old = s.calls("all")[0]
        assert old.remote_number == "200" and s.call_summary(old.id) == ""
        row = s.add_log_entry(entry("300", "out", "answered", started=2))
        s.set_call_summary(row, '{"codec": "PCMU", "mos": 4.3}')
        assert s.call_summary(row) == '{"codec": "PCMU", "mos": 4.3}'
        s.delete_call(row)                          # the summary goes with its call
        assert s.call_summary(row) == ""
