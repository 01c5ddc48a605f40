"""Downloading the phonebook from `phonebook.download_url` at start and every `download_interval` minutes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from tuiphone.services.phonebook_io import MAX_BYTES, PhonebookError, parse

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0


class DownloadError(Exception):
    """A download that failed; `str()` is a sentence."""


async def fetch(url: str, timeout_s: float = TIMEOUT_S, limit: int = MAX_BYTES) -> bytes:
    """The body of an http(s) GET, refused once it grows past `limit` bytes."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            async with session.get(url) as resp:
                if resp.status != 200:
                    raise DownloadError(f"{url} answered HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > limit:
                    raise DownloadError(f"{url} is {resp.content_length} bytes, more than the {limit} bytes allowed")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    body += chunk
                    if len(body) > limit:
                        raise DownloadError(f"{url} is more than the {limit} bytes allowed")
                return bytes(body)
    except TimeoutError:
        raise DownloadError(f"{url} did not answer in {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        raise DownloadError(f"cannot download {url}: {exc}") from None


class PhonebookDownloader:
    """Keeps the phonebook in step with a URL. `sink.replace_downloaded(contacts, remove_edited)`
    receives each download (a `StorePhonebook`, say); it runs in a worker thread."""

    def __init__(self, config: Any, sink: Any, *, timeout_s: float = TIMEOUT_S):
        self.url = config.download_url
        self.interval_s = config.download_interval * 60
        self.remove_edited = config.remove_edited_on_download
        self.sink = sink
        self.timeout_s = timeout_s
        self.downloads = 0
        self.last_problem = ""
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.download_once()
            if self.interval_s <= 0:
                return
            await asyncio.sleep(self.interval_s)

    async def download_once(self) -> bool:
        """Download, parse and hand over; a failure is logged (a sentence) and the old phonebook stays."""
        try:
            data = await fetch(self.url, self.timeout_s)
            contacts = parse(data, source=self.url)
            report = await asyncio.to_thread(self.sink.replace_downloaded, contacts, self.remove_edited)
        except (DownloadError, PhonebookError) as exc:
            self.last_problem = str(exc)
            log.warning("phonebook download: %s; the phonebook is left as it was", exc)
            return False
        except Exception as exc:    # the database refused: keep the loop alive for the next try
            self.last_problem = str(exc)
            log.warning("phonebook download from %s could not be saved: %s", self.url, exc)
            return False
        self.downloads += 1
        self.last_problem = ""
        log.info("phonebook downloaded from %s: %s", self.url, getattr(report, "summary", lambda: "")())
        return True
