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
    """Run the phone headless until SIGTERM, SIGINT or SIGHUP; returns the exit code."""
    from tuiphone.cli import running_phone
    from tuiphone.paths import config_path, data_dir
    from tuiphone.services.logsetup import phone_logging
    from tuiphone.services.sys_operation import SysOperations

    data = data_dir(common.data_dir)
    with ExitStack() as stack:
        try:
            log_file = stack.enter_context(phone_logging(data, common.log_level, stderr=True))
        except OSError as exc:
            click.echo(f"tuiphone: cannot write the log file in {data}: {exc.strerror or exc}; "
                       "choose another folder with --data-dir", err=True)
            return EXIT_USAGE
        common.local_audio = True       # the sound devices when there are any; null audio (said so) when not
        phone = stack.enter_context(running_phone(common, services=False))
        operations = SysOperations(phone, config_path(common.config))
        # after this the loop is closed: a second SIGTERM while unregistering ends the process at once
        code = asyncio.run(_serve(phone, data, log_file, common, operations))
    operations.restart_if_asked()       # CTI REBOOT: the same argv again, now that the phone has stopped
    return code


async def _serve(phone: Any, data: Any, log_file: Any, common: Any, operations: Any) -> int:
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
        return await _run_services(phone, Services(phone, phone.config, data,
                                                   phonebook=store and StorePhonebook(store)), stopping, log_file,
                                   lambda services: _start_web(phone, services, common, data, operations))
    except ServiceError as exc:
        click.echo(f"tuiphone: {exc}", err=True)
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
    where = phone.backend.local_address()
    cti = f", CTI API on {services.cti_url}" if services.cti_url else ""
    cti += f", web admin on {web.url}" if web is not None else ""
    click.echo(f"tuiphone daemon: SIP on {where}{cti}; log in {log_file}; stop with SIGTERM or Ctrl-C", err=True)
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


async def _start_web(phone: Any, services: Any, common: Any, data: Any, operations: Any) -> Any:
    from tuiphone.paths import config_path
    from tuiphone.web.server import start_web_admin

    if services.cti is not None:
        services.cti.operations = operations       # api-sys_operation: REBOOT, PROV
    return await start_web_admin(phone, services, config_path(common.config), data,
                                 forced=getattr(common, "web_forced", False))


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


@click.command()
@click.pass_obj
def daemon(common: Any) -> None:
    """Run the phone with no UI (CTI, Action URLs, syslog, auto-answer per config) until SIGTERM."""
    sys.exit(run_daemon(common))


# ----- tuiphone phonebook import|export -----------------------------------------------------------------
@click.group()
def phonebook() -> None:
    """Import or export the phonebook (Grandstream phonebook.xml, CSV, vCard)."""


def _open_store(common: Any) -> Any:
    from tuiphone.paths import data_dir, database_path
    from tuiphone.store import Store, StoreError

    try:
        return Store(database_path(data_dir(common.data_dir)))
    except StoreError as exc:
        click.echo(f"tuiphone: {exc}", err=True)
        sys.exit(EXIT_FAILED)


@phonebook.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["gs-xml", "csv", "vcard"]),
              help="Format of FILE (default: recognised from its content).")
@click.pass_obj
def phonebook_import(common: Any, file: str, fmt: str | None) -> None:
    """Add the contacts of FILE to the phonebook (a contact with the same name is replaced)."""
    from pathlib import Path

    from tuiphone.services.phonebook_io import PhonebookError, read_file
    from tuiphone.services.phonebook_store import StorePhonebook

    try:
        contacts = read_file(Path(file), fmt)
    except PhonebookError as exc:
        click.echo(f"tuiphone: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    store = _open_store(common)
    try:
        report = StorePhonebook(store).import_contacts(contacts)
    finally:
        store.close()
    for problem in report.skipped[:10]:
        click.echo(f"tuiphone: skipped: {problem}", err=True)
    click.echo(f"{file}: {len(contacts)} contacts read; {report.summary()}")
    sys.exit(EXIT_OK if not report.skipped or report.added + report.replaced else EXIT_FAILED)


@phonebook.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["gs-xml", "csv", "vcard"]),
              help="Format to write (default: from the file name: .xml, .csv, .vcf).")
@click.pass_obj
def phonebook_export(common: Any, file: str, fmt: str | None) -> None:
    """Write the whole phonebook to FILE."""
    import os
    import tempfile
    from pathlib import Path

    from tuiphone.services.phonebook_io import format_for, render
    from tuiphone.services.phonebook_store import StorePhonebook

    path = Path(file)
    store = _open_store(common)
    try:
        contacts = StorePhonebook(store).export()
    finally:
        store.close()
    data = render(contacts, fmt or format_for(path))
    temp = None
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except OSError as exc:
        if temp is not None and os.path.exists(temp):
            os.unlink(temp)
        click.echo(f"tuiphone: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"{path}: {len(contacts)} contacts written as {fmt or format_for(path)}")
    sys.exit(EXIT_OK)


# ----- tuiphone config import-gs ------------------------------------------------------------------------
@click.command("import-gs")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def import_gs(common: Any, file: str, as_json: bool) -> None:
    """Map a Grandstream config.txt (P-values) or <gs_provision> XML into the config file (accounts 1-3)."""
    import json
    from pathlib import Path

    from tuiphone.config import ConfigError, load_or_create, save_config
    from tuiphone.paths import backup_path, config_path
    from tuiphone.services.provisioning import MAX_BYTES, ProvisioningError
    from tuiphone.services.provisioning import import_gs as map_file

    target = config_path(common.config)
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ProvisioningError(f"it is larger than {MAX_BYTES // 1_000_000} MB")
        cfg, _ = load_or_create(target)
        applied = map_file(data, cfg, file)
        save_config(applied.config, target)
    except OSError as exc:
        click.echo(f"tuiphone: cannot read {file}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)
    except ProvisioningError as exc:
        click.echo(f"tuiphone: {file}: {exc}; nothing was changed", err=True)
        sys.exit(EXIT_USAGE)
    except ConfigError as exc:
        click.echo(f"tuiphone: the imported settings do not make a valid config, nothing was changed:\n{exc}",
                   err=True)
        sys.exit(EXIT_USAGE)
    report = {"file": file, "config": str(target), "backup": str(backup_path(Path(target))),
              "mapped": applied.mapped, "changed": applied.changes, "unmapped": applied.unmapped,
              "notes": applied.notes}
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        lines = [f"{target}: {len(applied.changes)} settings changed from {file} "
                 f"(the old file is {report['backup']})"]
        lines += [f"  {line}" for line in applied.changes]
        lines += [f"note: {note}" for note in applied.notes]
        if applied.unmapped:
            lines.append(f"not mapped ({len(applied.unmapped)} P-values tuiphone has no setting for): "
                         + " ".join(applied.unmapped))
        click.echo("\n".join(lines))
    sys.exit(EXIT_OK)
