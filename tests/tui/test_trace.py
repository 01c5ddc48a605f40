"""Menu › SIP Trace: the messages grouped by dialog, a ladder per call, filters, Enter for the whole message."""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable

from tests.tui.conftest import build, screen_text, until
from tests.tui.test_snapshots import CONFIG, SIZES, compare
from tuiphone import i18n
from tuiphone.engine.events import SipMessage
from tuiphone.engine.sip_trace import dialogs
from tuiphone.screens.trace import LadderScreen, SipMessageScreen, TraceScreen
from tuiphone.store import Store
from tuiphone.widgets.ladder import LadderView

T0 = 1709283900.0          # 09:05:00 UTC
PEER = "127.0.0.1:5070"
PROXY = "127.0.0.1:5061"


def sip(n: float, direction: str, first: str, call_id: str, cseq: str, remote: str = PEER,
        transport: str = "UDP", sender: str = "1001", receiver: str = "200") -> SipMessage:
    text = (f"{first}\r\nVia: SIP/2.0/{transport} 127.0.0.1:5060;branch=z9hG4bK{n}\r\n"
            f"From: \"Front desk\" <sip:{sender}@127.0.0.1>;tag=a\r\nTo: <sip:{receiver}@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n")
    return SipMessage(time=T0 + n, direction=direction, transport=transport, remote=remote, first_line=first,
                      call_id=call_id, text=text)


def a_call(call_id: str = "call-1@127.0.0.1", start: float = 1.0) -> list[SipMessage]:
    """INVITE/100/180/200/ACK/BYE/200 of a call from the phone to 200."""
    steps = [("out", "INVITE sip:200@127.0.0.1:5070 SIP/2.0", "1 INVITE"), ("in", "SIP/2.0 100 Trying", "1 INVITE"),
             ("in", "SIP/2.0 180 Ringing", "1 INVITE"), ("in", "SIP/2.0 200 OK", "1 INVITE"),
             ("out", "ACK sip:200@127.0.0.1:5070 SIP/2.0", "1 ACK"), ("in", "BYE sip:1001@127.0.0.1 SIP/2.0", "1 BYE"),
             ("out", "SIP/2.0 200 OK", "1 BYE")]
    return [sip(start + i * 0.25, d, first, call_id, cseq) for i, (d, first, cseq) in enumerate(steps)]


def recorded() -> list[SipMessage]:
    """A registration over TLS, the call above, and a MESSAGE through the TLS proxy."""
    register = [sip(0.0, "out", "REGISTER sip:127.0.0.1 SIP/2.0", "reg-1", "1 REGISTER", PROXY, "TLS", "1001", "1001"),
                sip(0.1, "in", "SIP/2.0 200 OK", "reg-1", "1 REGISTER", PROXY, "TLS", "1001", "1001")]
    message = [sip(4.0, "in", "MESSAGE sip:1001@127.0.0.1 SIP/2.0", "msg-1", "5 MESSAGE", PROXY, "TLS", "300", "1001"),
               sip(4.1, "out", "SIP/2.0 200 OK", "msg-1", "5 MESSAGE", PROXY, "TLS", "300", "1001")]
    return register + a_call() + message


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def rows(app) -> list[str]:
    return [line for line in screen_text(app).splitlines() if "09:05:" in line]


def test_dialogs_group_by_call_id_with_parties_peers_and_outcome():
    found = dialogs(recorded())
    assert [(d.call_id, d.method, d.parties, d.last) for d in found] == [
        ("reg-1", "REGISTER", ("1001", "1001"), "REGISTER 200"),
        ("call-1@127.0.0.1", "INVITE", ("1001", "200"), "BYE 200"),
        ("msg-1", "MESSAGE", ("300", "1001"), "MESSAGE 200")]
    assert found[0].peers == [f"TLS {PROXY}"] and found[1].peers == [f"UDP {PEER}"]


async def test_the_trace_lists_dialogs_and_enter_draws_the_calls_ladder(utc):
    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        phone.fire(*recorded()[:4])
        await pilot.press("f3")
        assert isinstance(app.screen, TraceScreen)
        await until(pilot, lambda: len(rows(app)) == 2)
        phone.fire(*recorded()[4:])             # live: the call grows, a new dialog comes
        await until(pilot, lambda: len(rows(app)) == 3 and "BYE 200" in screen_text(app))
        register, call, message = rows(app)
        assert "REGISTER" in register and "TLS 127.0.0.1:5061" in register
        assert "INVITE" in call and "1001 → 200" in call and " 7 " in call
        await pilot.press("up", "enter")
        assert isinstance(app.screen, LadderScreen)
        arrows = rows(app)
        labels = ["INVITE", "100 Trying", "180 Ringing", "200 OK", "ACK", "BYE", "200 OK"]
        assert len(arrows) == 7 and all(label in row for label, row in zip(labels, arrows, strict=False))
        assert [("▶" in row, "◀" in row) for row in arrows] == [(True, False), (False, True), (False, True),
                                                                (False, True), (True, False), (False, True),
                                                                (True, False)]
        assert "This phone" in screen_text(app) and "UDP 127.0.0.1:5070" in screen_text(app)
        await pilot.press("down", "down", "enter")              # the 180
        assert isinstance(app.screen, SipMessageScreen)
        assert "#3 received from 127.0.0.1:5070 over UDP" in screen_text(app)
        assert "CSeq: 1 INVITE" in screen_text(app)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, TraceScreen)


async def test_the_trace_filters_by_method_and_by_what_is_typed_and_shows_tls_in_clear(utc):
    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        phone.fire(*recorded(), *a_call("call-2@127.0.0.1", 10.0))
        app.push_screen(TraceScreen())
        # each wait asks for the whole of what it checks: the rows and the lines around them may come in two frames
        def bar() -> list[str]:
            return next((line.split() for line in screen_text(app).splitlines() if line.split()[:1] == ["All"]), [])

        await until(pilot, lambda: len(rows(app)) == 4 and bar() == ["All", "INVITE", "REGISTER", "MESSAGE"])
        await pilot.press("tab")                                 # INVITE: the two calls
        await until(pilot, lambda: len(rows(app)) == 2 and all("INVITE" in row for row in rows(app))
                    and "2 of 4 dialogs" in screen_text(app))
        await pilot.press("tab", "tab")                          # MESSAGE
        await until(pilot, lambda: len(rows(app)) == 1 and "MESSAGE" in rows(app)[0])
        await pilot.press("tab")                                 # back to all
        await until(pilot, lambda: len(rows(app)) == 4)
        await pilot.press(*"call-2")                             # a Call-ID
        await until(pilot, lambda: len(rows(app)) == 1)
        await pilot.press(*["backspace"] * 6, *"300")            # a number
        await until(pilot, lambda: len(rows(app)) == 1 and "300 → 1001" in rows(app)[0])
        await pilot.press("enter")                               # the MESSAGE went over TLS: it is there in clear
        await until(pilot, lambda: isinstance(app.screen, LadderScreen) and rows(app)
                    and "TLS 127.0.0.1:5061" in screen_text(app) and "◀" in rows(app)[0])
        await pilot.press("enter")
        await until(pilot, lambda: "MESSAGE sip:1001@127.0.0.1 SIP/2.0" in screen_text(app)
                    and "over TLS" in screen_text(app))


async def test_a_ladder_with_two_peers_draws_each_arrow_to_its_own_lane(utc):
    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        call = a_call()
        call.insert(1, sip(1.1, "in", "SIP/2.0 302 Moved", "call-1@127.0.0.1", "1 INVITE", "127.0.0.1:5080"))
        phone.fire(*call)
        app.push_screen(LadderScreen(dialogs(call)[0]))
        await until(pilot, lambda: len(rows(app)) == 8)
        head = next(line for line in screen_text(app).splitlines() if "This phone" in line)
        near, far = head.index("UDP 127.0.0.1:5070"), head.index("UDP 127.0.0.1:5080")
        assert near < far
        moved = rows(app)[1]
        assert moved.index("302 Moved") > near           # the arrow runs past the first peer's lane
        view = app.screen.query_one(LadderView)
        assert view.peers == ["UDP 127.0.0.1:5070", "UDP 127.0.0.1:5080"]


async def snapshot_list(app, phone, pilot) -> None:
    phone.fire(*recorded())
    app.push_screen(TraceScreen())
    await until(pilot, lambda: len(rows(app)) == 3)


async def snapshot_ladder(app, phone, pilot) -> None:
    await snapshot_list(app, phone, pilot)
    await pilot.press("up", "enter")
    await until(pilot, lambda: isinstance(app.screen, LadderScreen) and len(rows(app)) == 7)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("screen", {"trace": snapshot_list, "ladder": snapshot_ladder})
async def test_trace_screens_match_their_snapshots(screen, language, size, snapshot_update, utc):
    config = CONFIG.replace("[phone]\n", f'[phone]\nlanguage = "{language}"\n')
    app, phone = build(config, store=Store(":memory:"))
    async with app.run_test(size=SIZES[size]) as pilot:
        assert i18n.language() == language
        await (snapshot_list if screen == "trace" else snapshot_ladder)(app, phone, pilot)
        await pilot.pause()
        compare(f"{screen}-{language}-{size}", screen_text(app), snapshot_update)


@pytest.mark.peers
async def test_a_real_call_to_another_tuiphone_draws_its_ladder(tmp_path, utc):
    """The TUI over the real engine calls a tuiphone `answer` process and hangs up; the trace draws the call."""
    import asyncio

    from tests.inprocess import phone_factory
    from tests.phoneproc import PhoneProc
    from tuiphone.app import make_app

    callee = PhoneProc(tmp_path, "callee", ["answer", "--timeout", "30"]).start()
    try:
        callee.wait_ready()
        with phone_factory() as make:
            phone = make({})
            app = make_app(phone, phone.config, blink=False, store=Store(":memory:"))
            async with app.run_test(size=(120, 36)) as pilot:
                line = await asyncio.to_thread(lambda: phone.call(callee.keypad).result(5))
                await until(pilot, lambda: any(c.state.value == "talking" for c in phone.lines()), 10)
                await asyncio.to_thread(lambda: phone.hangup(line).result(5))
                await until(pilot, lambda: not phone.lines(), 10)
                app.push_screen(TraceScreen())
                await until(pilot, lambda: "INVITE 200" in screen_text(app) or "BYE 200" in screen_text(app), 5)
                await pilot.press("enter")
                assert isinstance(app.screen, LadderScreen)
                labels = ["INVITE", "100 Trying", "180 Ringing", "200 OK", "ACK", "BYE", "200 OK"]
                await until(pilot, lambda: len(arrows(app)) >= 7, 5)
                got = [(next((label for label in labels if f" {label} " in row), row), "▶" in row)
                       for row in arrows(app)]
                got = without_retransmissions(got)
                assert [label for label, _ in got] == labels, "\n".join(arrows(app))
                assert [out for _, out in got] == [True, False, False, False, True, True, False]
                assert f"UDP {callee.address}" in screen_text(app)
                await pilot.press("q")
    finally:
        callee.stop()


def without_retransmissions(steps: list) -> list:
    """Drops a step that repeats one of the two before it: a retransmitted request, or a 200 OK and its ACK
    sent again because the ACK was late (on a loaded machine the callee's 2xx timer can fire first)."""
    kept: list = []
    for step in steps:
        if step not in kept[-2:]:
            kept.append(step)
    return kept


def arrows(app) -> list[str]:
    return [line for line in screen_text(app).splitlines() if "│" in line and ("▶" in line or "◀" in line)]


async def test_a_search_keeps_the_columns_as_wide_and_a_new_language_relabels_them(utc):
    app, phone = build()
    async with app.run_test(size=(100, 30)) as pilot:
        phone.fire(*recorded(), *a_call("call-2@127.0.0.1", 10.0))
        app.push_screen(TraceScreen())
        await until(pilot, lambda: len(rows(app)) == 4)
        table = app.screen.query_one(DataTable)
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        await pilot.press(*"msg-1")                 # one short row left: the columns do not shrink to it
        await until(pilot, lambda: len(rows(app)) == 1 and "MESSAGE" in rows(app)[0])
        assert [column.get_render_width(table) for column in table.ordered_columns] == widths
        app.switch_language("zh_CN")
        await until(pilot, lambda: "时间" in screen_text(app) and len(rows(app)) == 1)
        assert "Time" not in screen_text(app)
