"""`tuiphone --standalone`: the phone with its Textual screen in one process, started through
runtime.running_phone once the App's first screen is drawn (starting_phone.py).

app.py builds the App (`make_app`); this module runs it: the log goes to a file while the screen is up,
the store opens, the services (CTI, Action URLs, syslog, phonebook download) run on the App's own loop.
"""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tuiphone import i18n
from tuiphone.app import PhoneApp, make_app
from tuiphone.i18n import t
from tuiphone.runtime import RunOptions, read_config, running_phone
from tuiphone.starting_phone import StartingPhone
from tuiphone.store import Store, StoreError

log = logging.getLogger("tuiphone.app")     # the start and stop lines of the log file keep their name

LOG_FILE_BYTES = 2_000_000
LOG_FILE_COUNT = 3


@contextmanager
def log_to_file(folder: Path, level: str = "info") -> Iterator[Path]:
    """While the TUI runs every log record from `level` (info at most: start, registrations, calls, errors)
    goes to a rotating file, never to the terminal."""
    from tuiphone.paths import ensure_dir

    path = ensure_dir(folder) / "tuiphone.log"
    root = logging.getLogger()
    saved, saved_level = root.handlers[:], root.level
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_COUNT,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler]
    root.setLevel(min(getattr(logging, level.upper(), logging.INFO), logging.INFO))
    logging.captureWarnings(True)
    try:
        yield path
    finally:
        root.handlers = saved
        root.setLevel(saved_level)
        handler.close()
        logging.captureWarnings(False)


class _PhonebookForUi:
    """Where downloaded phonebooks go: the store, then the screens are told (the download saves off the UI thread)."""

    def __init__(self, app: PhoneApp, store: Store) -> None:
        from tuiphone.services.phonebook_store import StorePhonebook

        self.app = app
        self.saved = StorePhonebook(store)

    def replace_downloaded(self, contacts: list, remove_edited: bool) -> Any:
        report = self.saved.replace_downloaded(contacts, remove_edited)
        self.app.call_from_thread(self.app.reload_names)
        return report


def run_app(options: RunOptions) -> int:
    """Run the TUI for `tuiphone --standalone`; returns the exit code. The first screen is drawn before the
    phone is built (starting_phone.py): from the config as last checked when the file has not changed since
    (config.checked), else from the file checked here, whose mistakes are said before anything is drawn."""
    from tuiphone.config.checked import checked_before
    from tuiphone.paths import config_path, data_dir, database_path, log_dir

    data = data_dir(options.data_dir)
    path = config_path(options.config)
    config: Any = checked_before(path, data)
    checked = None                      # the schema's Config when it was read before the first screen
    if config is None:
        config = checked = _check_config(options)
    with log_to_file(log_dir(data), options.log_level):
        from tuiphone import __version__

        log.info("tuiphone %s started: config %s, data dir %s", __version__, path, data)
        i18n.set_language(config.phone.language)
        store, problem = None, ""
        try:
            store = Store(database_path(data))
        except StoreError as exc:     # the phone still works; history and phonebook are not kept
            log.error("%s", exc)
            problem = t("error.no_store", error=exc)
        try:
            with ExitStack() as running:
                def bring_up(app: PhoneApp) -> tuple[Any, str, Any]:
                    return _bring_up(app, options, running, checked, store)

                app = make_app(StartingPhone(config, bring_up), config, config_path=path, handle_sigterm=True,
                               store=store, store_problem=problem)
                app.tuned = True
                app.run()
            if app.start_error is not None:
                raise app.start_error
            log.info("tuiphone stopped")
        finally:
            if store is not None:
                store.close()
    return app.return_code or 0


def _bring_up(app: PhoneApp, options: RunOptions, running: ExitStack, checked: Any,
              store: Store | None) -> tuple[Any, str, Any]:
    """Build and start the phone under the running App (its loop handles SIGTERM and a closed terminal), with
    its services on the App's loop; the phone stops when `running` closes, after the App. The App hears the
    phone's events from before its SIP port opens. Returns the phone, what the user should hear of its saved
    blocklist and what ends the App's subscription."""
    from tuiphone.app import load_blocklist
    from tuiphone.messages import EngineBridge
    from tuiphone.paths import data_dir
    from tuiphone.services.remote_keys import PhoneKeys
    from tuiphone.services.runner import Services

    if checked is None:             # drawn from the record: the phone reads and checks the file now
        checked = _check_config(options)
    started = running.enter_context(running_phone(options, services=False, config=checked, signals=False,
                                                  subscriber=EngineBridge(app)))
    phone = started.phone
    problem = load_blocklist(phone, store) if store is not None else ""
    app.services = Services(phone, phone.config, data_dir(options.data_dir),
                            keys=PhoneKeys(phone, on_lock=app.remote_lock),
                            phonebook=_PhonebookForUi(app, store) if store is not None else None)
    return phone, problem, started.unsubscribe


def _check_config(options: RunOptions) -> Any:
    """The config file read and checked by the schema (read_config), kept for the next start's first screen."""
    from tuiphone.config.checked import file_stamp, remember_checked
    from tuiphone.paths import config_path, data_dir

    path = config_path(options.config)
    stamp = file_stamp(path)            # before the read: a file changed meanwhile is not recorded as checked
    checked = read_config(options)
    remember_checked(path, data_dir(options.data_dir), checked, stamp)
    return checked
