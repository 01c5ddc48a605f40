"""`--with-services` on `load` and `answer --max-concurrent`: each call of the run gets its row in the phone's
history (read back through the store) and its Action URLs (received by a real HTTP server on 127.0.0.1), as the
phone's own calls do; without the flag a run writes no row and sends no request. Two runs cover the four cases:
the caller with the flag against an answering side without it, then the other way round."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.services.helpers import Recorder
from tuiphone.store import Store

pytestmark = pytest.mark.peers

EVENTS = ("off_hook", "on_hook", "incoming_call", "outgoing_call", "established", "terminated", "missed_call")


@pytest.fixture
def server():
    rec = Recorder().start()
    yield rec
    rec.stop()


def config(server: Recorder, side: str) -> dict:
    return {"action_url": {e: f"{server.base}/{side}?event=$event&cid=$call_id&remote=$remote" for e in EVENTS}}


def rows(proc) -> list:
    db = proc.workdir / f"{proc.name}-data" / "tuiphone.db"
    if not db.exists():
        return []
    with Store(db) as store:
        return store.calls()


def requests_of(server: Recorder, side: str, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sum(path == f"/{side}" for path, _ in server.requests) < count:
        time.sleep(0.05)
    return [q for path, q in server.requests if path == f"/{side}"]


def run_both(phones, server: Recorder) -> list[tuple]:
    """Two runs at once (their waits overlap): 1 = the caller with the flag, 2 = the answering side with it."""
    flag = ["--with-services"]
    answers = [phones(f"answer{t}", ["answer", "--tone", "1000", "--max-concurrent", "4", "--count", "4",
                                     "--timeout", "20", "--json"] + (flag if t == 2 else []),
                      config=config(server, f"answer{t}")) for t in (1, 2)]
    for answer in answers:
        answer.wait_ready()
    loads = [phones(f"load{t}", ["load", f"sip:4321@{answer.address}", "--calls", "4", "--concurrency", "4",
                                 "--rate", "0", "--duration", "1", "--json"] + (flag if t == 1 else []),
                    config=config(server, f"load{t}")) for t, answer in zip((1, 2), answers, strict=True)]
    for load, answer in zip(loads, answers, strict=True):
        rc, report = load.result(40)
        assert rc == 0, ([c["failure"] for c in report.get("calls", [])], load.stderr())
        rc, answered = answer.result(30)
        assert rc == 0 and answered["answered"] == 4, answer.stderr()
    return list(zip(loads, answers, strict=True))


def per_call(queries: list[dict[str, str]]) -> dict[str, list[str]]:
    calls: dict[str, list[str]] = {}
    for q in queries:
        if q["event"] not in ("off_hook", "on_hook"):        # these name the call that began or ended them
            calls.setdefault(q["cid"], []).append(q["event"])
    return calls


def test_with_services_each_call_has_its_history_row_and_action_urls_and_without_none(phones, server) -> None:
    (load, answer), (load2, answer2) = run_both(phones, server)
    # 1: the caller with the flag, the answering side without
    history = rows(load)
    assert len(history) == 4
    assert all((r.direction, r.disposition, r.remote_number) == ("out", "answered", "4321") for r in history)
    assert all(r.remote_uri == f"sip:4321@{answer.address}" and 0.8 <= r.duration_s <= 3 for r in history)
    sent = requests_of(server, "load1", 4 * 3 + 2)
    calls = per_call(sent)
    assert len(calls) == 4 and all(events == ["outgoing_call", "established", "terminated"]
                                   for events in calls.values()), sent
    counts = Counter(q["event"] for q in sent)
    assert counts["off_hook"] >= 1 and counts["on_hook"] == counts["off_hook"]     # the run's busy time
    assert {q["remote"] for q in sent} == {"4321"}
    assert rows(answer) == [] and requests_of(server, "answer1", 1, timeout=0.5) == []

    # 2: the other way round
    load, answer = load2, answer2
    history = rows(answer)
    assert len(history) == 4 and all((r.direction, r.disposition) == ("in", "answered") for r in history)
    sent = requests_of(server, "answer2", 4 * 3 + 2)
    calls = per_call(sent)
    assert len(calls) == 4 and all(events == ["incoming_call", "established", "terminated"]
                                   for events in calls.values()), sent
    assert rows(load) == [] and requests_of(server, "load2", 1, timeout=0.5) == []


def test_load_services_write_the_outcome_of_calls_not_answered_as_the_phone_does(tmp_path, server) -> None:
    """Without SIP: LoadServices fed as the workers feed it; a call we refused, one the caller gave up and one
    we placed that failed get the dispositions engine/lines.py gives such calls, and no `established`."""
    from tuiphone.config import Config
    from tuiphone.load.services import LoadServices

    cfg = Config.model_validate(config(server, "unit"))
    for direction, results in (("in", [("busy", 486, "Busy Here"), ("no_answer", 487, "Request Terminated")]),
                               ("out", [("failed", 503, "Service Unavailable")])):
        services = LoadServices(cfg, tmp_path / "db" / f"{direction}.db", direction=direction, account=None,
                                address="127.0.0.1:0")
        for n, (result, status, reason) in enumerate(results, 1):
            services.started(0, {"n": n, "uri": f"sip:{n}00@127.0.0.1", "call_id": f"{direction}{n}",
                                 "started": time.time()})
            services.ended(0, {"n": n, "result": result, "sip_status": status, "reason": reason, "talk_s": 0.0})
        services.close()
        with Store(tmp_path / "db" / f"{direction}.db") as store:
            got = sorted((r.remote_number, r.disposition, r.reason) for r in store.calls())
        want = {"in": [("100", "rejected", "486 Busy Here"), ("200", "missed", "487 Request Terminated")],
                "out": [("100", "failed", "503 Service Unavailable")]}[direction]
        assert got == want
    per = per_call(requests_of(server, "unit", 3 * 2 + 1))
    assert per == {"in1": ["incoming_call", "terminated"], "in2": ["incoming_call", "terminated"],
                   "out1": ["outgoing_call", "terminated"], "": ["missed_call"]}      # it names no Call-ID
