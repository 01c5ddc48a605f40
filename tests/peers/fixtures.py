"""pytest fixtures that start real SIP peers (Kamailio, SIPp, baresip) and stop them by PID.

Loaded from tests/conftest.py with ``pytest_plugins = ["tests.peers.fixtures"]``. Every peer
runs on 127.0.0.1, on ports chosen free at run time, with its files in the test's tmp_path.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers.baresip import BARESIP, Baresip
from tests.peers.kamailio import KAMAILIO, Kamailio
from tests.peers.sipp import SIPP, Sipp

KamailioFactory = Callable[..., Kamailio]
SippFactory = Callable[..., Sipp]
BaresipFactory = Callable[..., Baresip]


def _require(program: str, package: str) -> None:
    if shutil.which(program) is None:
        pytest.fail(
            f"{program} is not installed: install the Debian package {package} "
            "(scripts/test installs the test peers when they are missing)",
            pytrace=False,
        )


@pytest.fixture
def kamailio_factory(tmp_path: Path) -> Iterator[KamailioFactory]:
    """Start Kamailio registrars: ``kamailio_factory(users=None, wrong_password="403", port=None)``.

    Each gets its own state dir under tmp_path and is stopped by PID at teardown.
    """
    _require(KAMAILIO, "kamailio")
    started: list[Kamailio] = []

    def start(**kwargs: Any) -> Kamailio:
        state_dir = tmp_path / f"kamailio-{len(started) + 1}"
        proxy = Kamailio(state_dir, **kwargs)
        started.append(proxy)
        proxy.start()
        return proxy

    yield start
    for proxy in reversed(started):
        proxy.stop()


@pytest.fixture
def kamailio(kamailio_factory: KamailioFactory) -> Kamailio:
    """A running Kamailio registrar/proxy with users 1001/pw1001, 1002/pw1002, 1003/pw1003."""
    return kamailio_factory()


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[SippFactory]:
    """Start SIPp runs: ``sipp("uas_answer.xml", remote=None, service=None, ...)`` (see ``Sipp``).

    Returns the started ``Sipp``; call ``.wait()`` for its ``SippResult``. Stopped by PID at teardown.
    """
    _require(SIPP, "sip-tester")
    started: list[Sipp] = []

    def start(scenario: str | Path, **kwargs: Any) -> Sipp:
        run = Sipp(scenario, tmp_path, **kwargs)
        started.append(run)
        return run.start()

    yield start
    for run in reversed(started):
        run.stop()


@pytest.fixture
def baresip(tmp_path: Path) -> Iterator[BaresipFactory]:
    """Start baresip softphones: ``baresip(user="baresip", password=None, registrar=None, ...)``.

    Returns the started ``Baresip``. Stopped by PID at teardown.
    """
    _require(BARESIP, "baresip-core")
    started: list[Baresip] = []

    def start(**kwargs: Any) -> Baresip:
        phone = Baresip(tmp_path, **kwargs)
        started.append(phone)
        return phone.start()

    yield start
    for phone in reversed(started):
        phone.stop()
