"""`tuiphone phonebook import|export`: the phonebook in and out of the store (Grandstream XML, CSV, vCard)."""

from __future__ import annotations

import sys
from typing import Any

import click

from tuiphone.cli.common import EXIT_FAILED, EXIT_OK, RunOptions, fail, fail_usage


@click.group()
def phonebook() -> None:
    """Import or export the phonebook (Grandstream phonebook.xml, CSV, vCard)."""


def _open_store(opts: RunOptions) -> Any:
    from tuiphone.paths import data_dir, database_path
    from tuiphone.store import Store, StoreError

    try:
        return Store(database_path(data_dir(opts.data_dir)))
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)


@phonebook.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["gs-xml", "csv", "vcard"]),
              help="Format of FILE (default: recognised from its content).")
@click.pass_obj
def phonebook_import(opts: RunOptions, file: str, fmt: str | None) -> None:
    """Add the contacts of FILE to the phonebook (a contact with the same name is replaced)."""
    from pathlib import Path

    from tuiphone.services.phonebook_io import PhonebookError, read_file
    from tuiphone.services.phonebook_store import StorePhonebook

    try:
        contacts = read_file(Path(file), fmt)
    except PhonebookError as exc:
        fail_usage(str(exc))
    store = _open_store(opts)
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
def phonebook_export(opts: RunOptions, file: str, fmt: str | None) -> None:
    """Write the whole phonebook to FILE."""
    import os
    import tempfile
    from pathlib import Path

    from tuiphone.services.phonebook_io import format_for, render
    from tuiphone.services.phonebook_store import StorePhonebook

    path = Path(file)
    store = _open_store(opts)
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
        fail_usage(f"cannot write {path}: {exc.strerror or exc}")
    click.echo(f"{path}: {len(contacts)} contacts written as {fmt or format_for(path)}")
    sys.exit(EXIT_OK)
