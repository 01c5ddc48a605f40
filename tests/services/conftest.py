"""Fixtures for the services tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services.helpers import daemon_proc, wait_cti


@pytest.fixture
def daemons(tmp_path):
    """Factory: daemons(name="daemon", config=None, passcode="4321", cti=True, ready=True) -> (proc, cti);
    every daemon is stopped by PID at teardown."""
    started = []

    def make(name: str = "daemon", config: dict[str, Any] | None = None, passcode: str = "4321",
             cti: bool = True, ready: bool = True):
        proc, api = daemon_proc(tmp_path, name, config, passcode, cti)
        proc.start()
        started.append(proc)
        if ready:
            proc.wait_ready()
            if cti:
                wait_cti(api)
        return proc, api

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def recorder():
    """An HTTP server on 127.0.0.1 that records the requests it gets; stopped at teardown."""
    from tests.services.helpers import Recorder

    servers = []

    def make(**kwargs: Any) -> Recorder:
        server = Recorder(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
