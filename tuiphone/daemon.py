"""`tuiphone daemon`: the phone with no UI, driven by CTI, reporting by Action URL and syslog, until SIGTERM.

Also the click commands of the integrations: `phonebook import|export` and `config import-gs`.
The CLI registers them (`main.add_command(daemon)`, ...); they use the common options in `Common`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from contextlib import ExitStack
from typing import Any

import click

log = logging.getLogger(__name__)

HANGUP_WAIT_S = 3.0
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run_daemon(common: Any) -> int:
    """Run the phone headless until SIGTERM or SIGINT; returns the exit code."""
    from tuiphone.cli import running_phone
    from tuiphone.paths import data_dir
    from tuiphone.services.logsetup import phone_logging

    data = data_dir(common.data_dir)
    with ExitStack() as stack:
        try:
            log_file = stack.enter_context(phone_logging(data, common.log_level, stderr=True))
        except OSError as exc:
            click.echo(f"tuiphone: cannot write the log file in {data}: {exc.strerror or exc}; "
                       "choose another folder with --data-dir", err=True)
            return EXIT_USAGE
        phone = stack.enter_context(running_phone(common))
        # after this the loop is closed: a second SIGTERM while unregistering ends the process at once
        return asyncio.run(_serve(phone, data, log_file))


async def _serve(phone: Any, data: Any, log_file: Any) -> int:
    from tuiphone.services.runner import ServiceError, Services

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    services = Services(phone, phone.config, data)
    try:
        await services.start()
    except ServiceError as exc:
        click.echo(f"tuiphone: {exc}", err=True)
        return EXIT_USAGE
    where = phone.backend.local_address()
    cti = f", CTI API on {services.cti_url}" if services.cti_url else ""
    click.echo(f"tuiphone daemon: SIP on {where}{cti}; log in {log_file}; stop with SIGTERM or Ctrl-C", err=True)
    log.info("daemon started: SIP on %s%s", where, cti)
    try:
        await stopping.wait()
    finally:
        log.info("daemon stopping: hanging up calls and unregistering")
        await services.stop()
        await _hang_up_all(phone)
    return EXIT_OK


async def _hang_up_all(phone: Any) -> None:
    """Hang up every line and give the BYEs/CANCELs a moment to go out before the endpoint goes."""
    if not phone.lines():
        return
    try:
        await asyncio.wait_for(asyncio.wrap_future(phone.hangup_all()), HANGUP_WAIT_S)
    except (asyncio.TimeoutError, Exception) as exc:   # the stop must go on whatever the hang-up said
        log.warning("hanging up at stop: %s", exc)
    deadline = loop_time() + HANGUP_WAIT_S
    while phone.lines() and loop_time() < deadline:
        await asyncio.sleep(0.05)


def loop_time() -> float:
    return asyncio.get_running_loop().time()


@click.command()
@click.pass_obj
def daemon(common: Any) -> None:
    """Run the phone with no UI (CTI, Action URLs, syslog, auto-answer per config) until SIGTERM."""
    sys.exit(run_daemon(common))
