"""The web terminal without a browser: /terminal and its websocket behind the session and the same-origin check,
one front-end process per socket (a test app here), reaped when the socket closes; the limit; sign-out."""

from __future__ import annotations

import re

import pytest

from tests.services.helpers import wait_for
from tests.web.helpers import Browser, text_of
from tests.web.terminal_helpers import TerminalSocket, gone, inprocess_admin
from tuiphone.web.terminal import LIMIT_SENTENCE, MAX_TERMINALS


@pytest.fixture(scope="module")
def terminal_admin(tmp_path_factory):
    with inprocess_admin(tmp_path_factory.mktemp("webterm")) as running:
        yield running


@pytest.fixture
def signed_in(terminal_admin):
    client = Browser(terminal_admin[1])
    assert client.sign_in().status_code == 303
    return client


def session_of(client: Browser) -> str:
    return client.http.cookies["tuiphone_session"]


def pid_on(text: str) -> int:
    return int(re.search(r"pid=(\d+)", text).group(1))


def test_the_terminal_and_its_socket_need_a_session_and_this_origin(terminal_admin, signed_in):
    admin, base, _ = terminal_admin
    anonymous = Browser(base)
    response = anonymous.get("/terminal")
    assert (response.status_code, response.headers.get("Location")) == (303, "/login")
    for cookie in (None, "made-up"):
        socket = TerminalSocket(base, cookie)
        assert socket.connect() == 401
        socket.close()
    for origin in ("http://evil.example", base.replace("127.0.0.1", "localhost"), None, "null"):
        socket = TerminalSocket(base, session_of(signed_in), origin=origin)
        assert socket.connect() == 403, origin
        socket.close()
    assert admin.terminals.pids() == []                     # nothing was started for any of them
    page = signed_in.get("/terminal")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    ws_url = base.replace("http", "ws", 1) + "/terminal/ws"
    assert f"connect-src 'self' {ws_url}" in csp and csp.startswith("default-src 'self'")
    assert f'data-session-websocket-url="{ws_url}"' in page.text
    assert "googleapis" not in page.text and "https://" not in page.text
    script = signed_in.get("/static/terminal/js/textual.js")
    assert script.status_code == 200 and "WebSocket" in script.text
    assert signed_in.get("/static/terminal/fonts/RobotoMono-VariableFont_wght.ttf").status_code == 200
    assert signed_in.get("/static/terminal/../server.py").status_code == 404


def test_each_socket_runs_its_own_front_end_and_closing_one_reaps_only_it(terminal_admin, signed_in):
    admin, base, _ = terminal_admin
    first, second = TerminalSocket(base, session_of(signed_in)), TerminalSocket(base, session_of(signed_in))
    try:
        assert first.connect() == 101 and second.connect() == 101
        one, two = pid_on(first.wait_text("ECHO APP READY")), pid_on(second.wait_text("ECHO APP READY"))
        assert one != two and sorted(admin.terminals.pids()) == sorted([one, two])
        first.send_raw("not json")                            # dropped, the bridge goes on
        first.send_raw('["stdin", 7]')
        first.type("42\r")
        first.wait_text("typed: 42<enter>")
        first.close()
        assert gone(one)                                      # ended and waited for: no zombie
        assert admin.terminals.pids() == [two]
        second.type("9")
        second.wait_text("typed: 9")                          # the other tab goes on
    finally:
        second.close()
    assert gone(two)
    assert admin.terminals.pids() == []


def test_a_fifth_terminal_gets_a_sentence_and_sign_out_closes_the_terminals(terminal_admin, signed_in):
    admin, base, _ = terminal_admin
    sockets = [TerminalSocket(base, session_of(signed_in)) for _ in range(MAX_TERMINALS + 1)]
    try:
        for socket in sockets[:MAX_TERMINALS]:
            assert socket.connect() == 101
        pids = [pid_on(socket.wait_text("ECHO APP READY")) for socket in sockets[:MAX_TERMINALS]]
        assert sockets[-1].connect() == 101
        assert sockets[-1].closed.wait(10)
        assert " ".join(LIMIT_SENTENCE.split()) in " ".join(sockets[-1].wait_text("terminals").split())
        assert len(admin.terminals.pids()) == MAX_TERMINALS
        assert LIMIT_SENTENCE in text_of(signed_in.get("/terminal"))
        assert signed_in.post("/logout").status_code == 303
        for socket in sockets[:MAX_TERMINALS]:
            assert socket.closed.wait(10)                      # the server closed it
        assert all(gone(pid) for pid in pids)
        assert admin.terminals.pids() == []
    finally:
        for socket in sockets:
            socket.close()


def test_the_end_of_the_session_closes_its_terminal(terminal_admin, signed_in):
    admin, base, _ = terminal_admin
    session = admin.sessions.get(session_of(signed_in))
    session.expires = admin.sessions.clock() + 3.0             # the sign-in ends in 3 s
    socket = TerminalSocket(base, session.sid)
    try:
        assert socket.connect() == 101
        pid = pid_on(socket.wait_text("ECHO APP READY"))
        assert socket.closed.wait(15)                           # closed by the phone when the session ended
        assert gone(pid)
        assert signed_in.get("/terminal").status_code == 303
    finally:
        socket.close()


def test_the_front_end_of_a_tab_is_the_tui_of_this_phone(tmp_path):
    import sys

    from tuiphone.web.terminal import front_end_command

    config, data = tmp_path / "phone.toml", tmp_path / "data"
    assert front_end_command(config, data) == [sys.executable, "-m", "tuiphone", "--config", str(config),
                                               "--data-dir", str(data)]


def test_a_front_end_that_quits_closes_its_tab_and_one_that_cannot_start_says_why(terminal_admin, signed_in):
    import sys

    admin, base, _ = terminal_admin
    socket = TerminalSocket(base, session_of(signed_in))
    try:
        assert socket.connect() == 101
        pid = pid_on(socket.wait_text("ECHO APP READY"))
        socket.type("\x11")                                     # ctrl+q: the app quits (the TUI's q detaches)
        assert socket.closed.wait(10)
        assert gone(pid)
        wait_for(lambda: admin.terminals.pids() == [], 5, "the terminal to be let go")
    finally:
        socket.close()
    saved = admin.terminals.command
    admin.terminals.command = [sys.executable, "-c", "import sys; sys.exit('tuiphone: no phone runs for it.')"]
    socket = TerminalSocket(base, session_of(signed_in))
    try:
        assert socket.connect() == 101
        assert socket.closed.wait(10)
        assert "tuiphone: no phone runs for it." in socket.wait_text("no phone runs")
        wait_for(lambda: admin.terminals.pids() == [], 5, "the terminal to be let go")
    finally:
        admin.terminals.command = saved
        socket.close()


def test_a_host_header_that_is_no_host_is_refused(signed_in):
    for host in ("evil.example; script-src *", "a b"):
        response = signed_in.get("/terminal", headers={"Host": host,
                                                        "Cookie": f"tuiphone_session={session_of(signed_in)}"})
        assert response.status_code == 400 and "Host header" in text_of(response), host


# A phone process in miniature: one FrontEnd of the test app, its PID printed, then nothing until it is killed.
PHONE_WITH_A_TAB = """
import asyncio, sys
from textual_serve.download_manager import DownloadManager
from tuiphone.web.terminal import FrontEnd

async def main():
    async def nothing(*args):
        pass
    front_end = FrontEnd(sys.argv[1:], write_bytes=nothing, write_str=nothing, close=nothing,
                         download_manager=DownloadManager())
    await front_end.start(80, 24)
    print(front_end.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_a_phone_process_that_is_killed_leaves_no_front_end_behind():
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    stubborn = "import time; time.sleep(60)"     # a front-end that writes nothing: no broken pipe would end it
    phone = subprocess.Popen([sys.executable, "-c", PHONE_WITH_A_TAB, sys.executable, "-c", stubborn],
                             stdout=subprocess.PIPE, text=True)
    front_end = 0
    try:
        front_end = int(phone.stdout.readline())
        cmdline = Path(f"/proc/{front_end}/cmdline")
        wait_for(lambda: b"time.sleep(60)" in cmdline.read_bytes(), 10, "the front-end to run")
        phone.send_signal(signal.SIGKILL)
        phone.wait(5)
        assert gone(front_end)                    # SIGTERM from Linux when its parent died (PR_SET_PDEATHSIG)
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.wait(5)
        if front_end and not gone(front_end, 0.1):     # the test failed: stop what it left
            os.kill(front_end, signal.SIGKILL)
        phone.stdout.close()
