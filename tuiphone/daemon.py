"""`tuiphone daemon`: the phone with no UI, driven by CTI, reporting by Action URL and syslog, until SIGTERM.

The command itself is cli/daemon.py; this is the phone process behind it, started through
runtime.running_phone.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import ExitStack
from typing import Any

from tuiphone.runtime import EXIT_OK, EXIT_USAGE, RunOptions, StartError, running_phone, tell

log = logging.getLogger(__name__)

HANGUP_WAIT_S = 3.0


def run_daemon(options: RunOptions) -> int:
    """Run the phone headless until SIGTERM, SIGINT or SIGHUP; returns the exit code (StartError: it could
    not start)."""
    from tuiphone.control.server import claim_for_daemon
    from tuiphone.paths import config_path, data_dir
    from tuiphone.services.logsetup import phone_logging
    from tuiphone.services.sys_operation import SysOperations

    data = data_dir(options.data_dir)
    with ExitStack() as stack:
        control = stack.enter_context(claim_for_daemon(options.config))   # exit 2: a phone already runs for it
        try:
            log_file = stack.enter_context(phone_logging(data, options.log_level, stderr=True))
        except OSError as exc:
            raise StartError(f"cannot write the log file in {data}: {exc.strerror or exc}; "
                             "choose another folder with --data-dir") from None
        options.local_audio = True      # the sound devices when there are any; null audio (said so) when not
        running = stack.enter_context(running_phone(options, services=False))
        operations = SysOperations(running.phone, config_path(options.config))
        # after this the loop is closed: a second SIGTERM while unregistering ends the process at once
        code = asyncio.run(_serve(running.phone, data, log_file, control, options, operations))
    operations.restart_if_asked()       # CTI REBOOT: the same argv again, now that the phone has stopped
    return code


async def _serve(phone: Any, data: Any, log_file: Any, control: Any, options: RunOptions, operations: Any) -> int:
    from tuiphone.control.server import serve_control
    from tuiphone.services.phonebook_store import StorePhonebook
    from tuiphone.services.records import PhoneRecords
    from tuiphone.services.runner import ServiceError, Services
    from tuiphone.terminal_closed import stop_on_terminal_closed

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    stop_on_terminal_closed(lambda: loop.call_soon_threadsafe(stopping.set))     # SIGHUP: its terminal closed
    operations.stopping = stopping
    store = _open_data_store(data)
    records = PhoneRecords(phone, store) if store is not None else None
    if records is not None:
        records.start()       # the saved blocklist applies before the first call can arrive over CTI
    try:
        async with serve_control(phone, control, stopping=stopping, store=store):
            return await _run_services(phone, Services(phone, phone.config, data,
                                                       phonebook=store and StorePhonebook(store)), stopping,
                                       log_file,
                                       lambda services: _start_web(phone, services, options, data, operations))
    except ServiceError as exc:
        tell(f"tuiphone: {exc}")
        return EXIT_USAGE
    finally:
        if records is not None:
            records.stop()
        if store is not None:
            store.close()


async def _run_services(phone: Any, services: Any, stopping: asyncio.Event, log_file: Any, start_web: Any) -> int:
    await services.start()
    try:
        web = await start_web(services)         # None unless [web] is enabled: then no port opens
    except Exception:
        await services.stop()
        raise
    _keep_the_sound_on_time()
    where = phone.backend.local_address()
    cti = f", CTI API on {services.cti_url}" if services.cti_url else ""
    cti += f", web admin on {web.url}" if web is not None else ""
    tell(f"tuiphone daemon: SIP on {where}{cti}; log in {log_file}; stop with SIGTERM or Ctrl-C")
    log.info("daemon started: SIP on %s%s", where, cti)
    try:
        await stopping.wait()
    finally:
        log.info("daemon stopping: hanging up calls and unregistering")
        await _hang_up_all(phone)
        await services.stop()          # after the hang-ups: their Action URLs still go out
        if web is not None:
            await web.stop()
    return EXIT_OK


def _keep_the_sound_on_time() -> None:
    """The phone is up: as the TUI does once up (audio.realtime says why), what lives now leaves the collector's
    walks and the GIL is handed over within 1 ms. The daemon holds the sound devices, whose callbacks need the
    GIL; each full collection walked every object of its start (the config's models, pjsua2's classes, numpy:
    ~51k objects, ~50 ms on 2 shared cores) holding it."""
    from tuiphone.audio.realtime import hand_over_sooner
    from tuiphone.collector import freeze_what_lives

    freeze_what_lives()
    hand_over_sooner()


async def _start_web(phone: Any, services: Any, options: RunOptions, data: Any, operations: Any) -> Any:
    from tuiphone.paths import config_path
    from tuiphone.web.server import start_web_admin

    if services.cti is not None:
        services.cti.operations = operations       # api-sys_operation: REBOOT, PROV
    return await start_web_admin(phone, services, config_path(options.config), data,
                                 forced=options.web_forced)


def _open_data_store(data: Any) -> Any:
    """The phone's database (blocklist, call history, downloaded phonebook); None when it cannot open."""
    from tuiphone.paths import database_path
    from tuiphone.store import Store, StoreError

    try:
        return Store(database_path(data))
    except StoreError as exc:
        log.error("%s The daemon runs without it: no saved blocklist, history or phonebook download.", exc)
        return None


async def _hang_up_all(phone: Any) -> None:
    """Hang up every line and give the BYEs/CANCELs a moment to go out before the endpoint goes."""
    if not phone.lines():
        return
    try:
        await asyncio.wait_for(asyncio.wrap_future(phone.hangup_all()), HANGUP_WAIT_S)
    except (TimeoutError, Exception) as exc:   # the stop must go on whatever the hang-up said
        log.warning("hanging up at stop: %s", exc)
    deadline = loop_time() + HANGUP_WAIT_S
    while phone.lines() and loop_time() < deadline:
        await asyncio.sleep(0.05)


def loop_time() -> float:
    return asyncio.get_running_loop().time()
