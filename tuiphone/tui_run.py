"""`tuiphone` with no command: the phone with its Textual screen, started through runtime.running_phone.

app.py builds the App (`make_app`); this module runs it: the log goes to a file while the screen is up,
the store opens, the services (CTI, Action URLs, syslog, phonebook download) run on the App's own loop.
"""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tuiphone import i18n
from tuiphone.app import PhoneApp, make_app
from tuiphone.i18n import t
from tuiphone.runtime import RunOptions, running_phone
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
    """Run the TUI for `tuiphone` with no command; returns the exit code."""
    from tuiphone.paths import config_path, data_dir, database_path, log_dir
    from tuiphone.services.remote_keys import PhoneKeys
    from tuiphone.services.runner import Services

    data = data_dir(options.data_dir)
    with log_to_file(log_dir(data), options.log_level):
        from tuiphone import __version__

        log.info("tuiphone %s started: config %s, data dir %s", __version__, config_path(options.config), data)
        # the services (CTI, Action URLs, syslog, phonebook download) run on the app's own loop
        with running_phone(options, services=False) as running:
            phone = running.phone
            i18n.set_language(phone.config.phone.language)
            store, problem = None, ""
            try:
                store = Store(database_path(data))
            except StoreError as exc:     # the phone still works; history and phonebook are not kept
                log.error("%s", exc)
                problem = t("error.no_store", error=exc)
            try:
                app = make_app(phone, phone.config, config_path=config_path(options.config), handle_sigterm=True,
                               store=store, store_problem=problem)
                app.services = Services(phone, phone.config, data, keys=PhoneKeys(phone, on_lock=app.remote_lock),
                                        phonebook=_PhonebookForUi(app, store) if store is not None else None)
                app.tuned = True
                app.run()
                log.info("tuiphone stopped")
            finally:
                if store is not None:
                    store.close()
    return app.return_code or 0
