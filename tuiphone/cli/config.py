"""`tuiphone config check` and `tuiphone config import-gs`: the config file from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tuiphone.cli.common import EXIT_OK, RunOptions, fail_usage


@click.group()
def config() -> None:
    """Check the config file."""


@config.command("check")
@click.argument("path", required=False)
@click.pass_obj
def config_check(opts: RunOptions, path: str | None) -> None:
    """Check a config file (default: the one the phone would use) without changing it."""
    from tuiphone.config import check_config_cli
    from tuiphone.paths import config_path

    code, message = check_config_cli(Path(path) if path else config_path(opts.config))
    click.echo(message, err=code != 0)
    sys.exit(code)


@config.command("import-gs")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def import_gs(opts: RunOptions, file: str, as_json: bool) -> None:
    """Map a Grandstream config.txt (P-values) or <gs_provision> XML into the config file (accounts 1-3)."""
    import json

    from tuiphone.config import ConfigError, load_or_create, save_config
    from tuiphone.paths import backup_path, config_path
    from tuiphone.services.provisioning import MAX_BYTES, ProvisioningError
    from tuiphone.services.provisioning import import_gs as map_file

    target = config_path(opts.config)
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ProvisioningError(f"it is larger than {MAX_BYTES // 1_000_000} MB")
        cfg, _ = load_or_create(target)
        applied = map_file(data, cfg, file)
        save_config(applied.config, target)
    except OSError as exc:
        fail_usage(f"cannot read {file}: {exc.strerror or exc}")
    except ProvisioningError as exc:
        fail_usage(f"{file}: {exc}; nothing was changed")
    except ConfigError as exc:
        fail_usage(f"the imported settings do not make a valid config, nothing was changed:\n{exc}")
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
