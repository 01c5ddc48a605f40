"""Where log records go while the phone runs: a rotating file in the data dir always, stderr when asked.

Each handler keeps its own level; the root logger is set to the lowest of them, so a handler that
wants debug (the log file, a syslog server) gets it without flooding the others.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tuiphone.paths import ensure_dir, log_dir

LOG_FILE_NAME = "tuiphone.log"
LOG_FILE_BYTES = 2_000_000
LOG_FILE_COUNT = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FILE_LEVEL = logging.INFO          # the file keeps at least info, whatever the terminal shows


def level_number(name: str) -> int:
    """'debug' | 'info' | 'warning' | 'error' -> the logging level number."""
    return {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
            "error": logging.ERROR}[name.lower()]


def log_file_path(data_dir: Path) -> Path:
    return log_dir(data_dir) / LOG_FILE_NAME


def file_handler(data_dir: Path, level: int = FILE_LEVEL) -> logging.handlers.RotatingFileHandler:
    """A rotating file handler at `<data dir>/logs/tuiphone.log` (the folder is created, private)."""
    path = ensure_dir(log_dir(data_dir)) / LOG_FILE_NAME
    # text from the network may hold bytes that are no UTF-8: written escaped, never a "Logging error"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_COUNT,
                                                   encoding="utf-8", errors="backslashreplace")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(level)
    return handler


def add_root_handler(handler: logging.Handler) -> None:
    """Attach `handler` to the root logger, lowering the root level to its level if needed.

    Handlers already attached with no level of their own get the old root level first, so lowering
    the root level for this one does not make them chattier.
    """
    root = logging.getLogger()
    old = root.level
    if handler.level != logging.NOTSET and handler.level < old:
        for other in root.handlers:
            if other.level == logging.NOTSET:
                other.setLevel(old)
        root.setLevel(handler.level)
    root.addHandler(handler)


def remove_root_handler(handler: logging.Handler) -> None:
    """Detach `handler`; the root level goes back up to what the remaining handlers need."""
    root = logging.getLogger()
    root.removeHandler(handler)
    levels = [h.level for h in root.handlers if h.level != logging.NOTSET]
    if levels and all(h.level != logging.NOTSET for h in root.handlers):
        root.setLevel(min(levels))


@contextmanager
def phone_logging(data_dir: Path, level: str = "warning", *, stderr: bool = True) -> Iterator[Path]:
    """While the block runs: records at `level` and above to stderr (when `stderr`), info and above
    (or `level`, if lower) to the rotating log file. The previous root handlers come back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    wanted = level_number(level)
    to_file = file_handler(data_dir, min(wanted, FILE_LEVEL))
    handlers: list[logging.Handler] = [to_file]
    if stderr:
        to_stderr = logging.StreamHandler(sys.stderr)
        to_stderr.setFormatter(logging.Formatter(LOG_FORMAT))
        to_stderr.setLevel(wanted)
        handlers.append(to_stderr)
    root.handlers = handlers
    root.setLevel(min(h.level for h in handlers))
    logging.captureWarnings(True)
    try:
        yield Path(to_file.baseFilename)
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        to_file.close()
        logging.captureWarnings(False)
