"""Files the web admin lists and serves (captures, recordings): only a plain name of the listing is served."""

from __future__ import annotations

import re
import time
from pathlib import Path

from aiohttp import web


class WebError(Exception):
    """A request refused with a sentence and an HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


def listing(folder: Path, suffixes: tuple[str, ...]) -> list[dict[str, str | int]]:
    """The files of `folder` with one of `suffixes`, newest first (name, size, time)."""
    try:
        entries = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and p.suffix in suffixes
                   and SAFE_NAME.fullmatch(p.name)]
    except OSError:
        return []
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [{"name": p.name, "size": p.stat().st_size,
             "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p.stat().st_mtime))} for p in entries]


def safe_file(folder: Path, name: str, suffixes: tuple[str, ...]) -> Path:
    """`folder/name` when `name` is a plain file name of the listing; raises WebError (400 or 404) otherwise."""
    if not SAFE_NAME.fullmatch(name) or ".." in name or Path(name).suffix not in suffixes:
        raise WebError("That is not a file name this page lists.", 400)
    path = folder / name
    try:
        if path.is_symlink() or not path.is_file() or path.resolve().parent != folder.resolve():
            raise WebError("There is no such file.", 404)
    except OSError:
        raise WebError("There is no such file.", 404) from None
    return path


def download(path: Path, kind: str, inline: bool = False) -> web.FileResponse:
    disposition = "inline" if inline else "attachment"
    return web.FileResponse(path, headers={"Content-Type": kind,
                                           "Content-Disposition": f'{disposition}; filename="{path.name}"'})
