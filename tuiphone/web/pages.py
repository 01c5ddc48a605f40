"""The admin pages behind the sign-in: Status, Config, Phonebook, Captures, Recordings, Click-to-dial, Password.

Each handler gets the request (its session and form already checked by WebAdmin's guard) and answers a page.
Downloads are named only by a file of the listing: a name with a path in it is refused (files.safe_file).
"""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path
from typing import Any

from aiohttp import web

from tuiphone import __version__
from tuiphone.engine.events import LineState
from tuiphone.paths import captures_dir, recordings_dir
from tuiphone.web.files import WebError, download, listing, safe_file
from tuiphone.web.request_keys import FORM

LINE_WORDS = {LineState.IDLE: "idle", LineState.DIALING: "dialing", LineState.CALLING: "calling",
              LineState.RINGING: "ringing", LineState.TALKING: "talking", LineState.HELD: "on hold",
              LineState.ENDED: "ended"}
PHONEBOOK_FILES = {"gs-xml": ("phonebook.xml", "application/xml"), "csv": ("phonebook.csv", "text/csv"),
                   "vcard": ("phonebook.vcf", "text/vcard")}


def add_routes(app: web.Application, admin: Any) -> None:
    pages = Pages(admin)
    for path, get, post in [
        ("/status", pages.status, None),
        ("/config", pages.config, None),
        ("/config/download", pages.config_download, None),
        ("/config/upload", None, pages.config_upload),
        ("/phonebook", pages.phonebook, pages.phonebook_upload),
        ("/phonebook/download", pages.phonebook_download, None),
        ("/captures", pages.captures, None),
        ("/captures/start", None, pages.capture_start),
        ("/captures/stop", None, pages.capture_stop),
        ("/captures/file/{name}", pages.capture_file, None),
        ("/recordings", pages.recordings, None),
        ("/recordings/file/{name}", pages.recording_file, None),
        ("/dial", pages.dial_page, pages.dial),
        ("/password", pages.password_page, pages.password),
    ]:
        if get is not None:
            app.router.add_get(path, get)
        if post is not None:
            app.router.add_post(path, post)


def account_state(account: Any, reg: Any) -> str:
    if not account.enabled:
        return "disabled"
    if not account.sip_server:
        return "no SIP server (direct calls only)"
    if not account.register:
        return "calls only (not registering)"
    if reg is None:
        return "not registered yet"
    if reg.registered:
        return "registered"
    return f"not registered: {reg.sip_status} {reg.reason}".strip() if reg.sip_status else "registering"


class Pages:
    def __init__(self, admin: Any):
        self.admin = admin

    @property
    def phone(self) -> Any:
        return self.admin.phone

    def page(self, request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
        return self.admin.page(request, template, status=status, **context)

    # ----- Status ------------------------------------------------------------------------------------------
    async def status(self, request: web.Request) -> web.Response:
        cfg = self.phone.config
        regs = self.phone.registrations()
        accounts = []
        for index, account in enumerate(cfg.accounts):
            reg = regs.get(index)
            accounts.append({"number": index + 1, "name": account.name, "user": account.user_id or "-",
                             "server": (reg.server if reg is not None and reg.server else account.sip_server) or "-",
                             "state": account_state(account, reg),
                             "expires": f"{reg.expires} s" if reg is not None and reg.registered else "-"})
        calls = {c.line: c for c in self.phone.lines()}
        lines = []
        for number in range(1, self.phone.max_lines + 1):
            call = calls.get(number)
            lines.append({"number": number, "state": LINE_WORDS[call.state] if call else "idle",
                          "remote": (call.remote_name or call.remote_number or call.remote_uri) if call else "",
                          "account": "" if call is None or call.account is None else call.account + 1,
                          "codec": call.codec if call else ""})
        network = []
        for transport in cfg.sip.transports:
            try:
                network.append((f"SIP over {transport.upper()}", self.phone.backend.local_address(transport)))
            except KeyError:
                network.append((f"SIP over {transport.upper()}", "not open"))
        services = self.admin.services
        if services is not None and getattr(services, "cti_url", None):
            network.append(("CTI API", services.cti_url))
        network.append(("Web admin", self.admin.url))
        versions = [("tuiphone", __version__), ("Python", platform.python_version()),
                    ("System", f"{platform.system()} {platform.release()}")]
        return self.page(request, "status.html", accounts=accounts, lines=lines, network=network,
                         versions=versions)

    # ----- Config ------------------------------------------------------------------------------------------
    async def config(self, request: web.Request) -> web.Response:
        return self.page(request, "config.html", outcome=None)

    async def config_download(self, request: web.Request) -> web.Response:
        from tuiphone.web.config_files import masked_text

        show = request.query.get("secrets") == "1"
        try:
            text = masked_text(self.admin.config_path, show)
        except OSError as exc:
            raise WebError(f"The config file cannot be read: {exc.strerror or exc}.", 500) from None
        return web.Response(text=text, content_type="application/toml", charset="utf-8",
                            headers={"Content-Disposition": 'attachment; filename="config.toml"'})

    async def config_upload(self, request: web.Request) -> web.Response:
        from tuiphone.web.config_files import upload

        data, name = upload_of(request, "file")
        if data is None:
            return self.page(request, "config.html", status=400, outcome=None,
                             problems=["Choose a config.toml, config.txt or <gs_provision> XML file to upload."])
        outcome = await upload(self.phone, self.admin.config_path, data, name)
        return self.page(request, "config.html", status=400 if outcome.problems else 200, outcome=outcome,
                         problems=outcome.problems)

    # ----- Phonebook ---------------------------------------------------------------------------------------
    def _phonebook(self) -> Any:

        book = getattr(self.admin.services, "phonebook", None)
        if book is None:
            raise WebError("The phonebook is not available: the phone's database did not open (see its log).", 503)
        return book

    async def phonebook(self, request: web.Request) -> web.Response:
        count = len(self._phonebook().export())
        return self.page(request, "phonebook.html", count=count, report=None, formats=list(PHONEBOOK_FILES))

    async def phonebook_upload(self, request: web.Request) -> web.Response:
        from tuiphone.services.phonebook_io import PhonebookError, parse

        book = self._phonebook()
        data, name = upload_of(request, "file")
        fmt = request[FORM].get("format")
        fmt = fmt if fmt in PHONEBOOK_FILES else None
        problems: list[str] = []
        report = None
        if data is None:
            problems.append("Choose a phonebook file (Grandstream phonebook.xml, CSV or vCard) to upload.")
        else:
            try:
                contacts = parse(data, fmt, name)
            except PhonebookError as exc:
                problems.append(str(exc))
            else:
                result = book.import_contacts(contacts)
                report = {"read": len(contacts), "summary": result.summary(), "skipped": result.skipped[:20]}
        return self.page(request, "phonebook.html", status=400 if problems else 200, problems=problems,
                         report=report, count=len(book.export()), formats=list(PHONEBOOK_FILES))

    async def phonebook_download(self, request: web.Request) -> web.Response:
        from tuiphone.services.phonebook_io import render

        fmt = request.query.get("format", "gs-xml")
        if fmt not in PHONEBOOK_FILES:
            raise WebError("format must be gs-xml, csv or vcard.", 400)
        name, kind = PHONEBOOK_FILES[fmt]
        return web.Response(body=render(self._phonebook().export(), fmt), content_type=kind,
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})

    # ----- Captures ----------------------------------------------------------------------------------------
    def _capture(self) -> Any:

        capture = getattr(self.admin.services, "capture", None)
        if capture is None:
            raise WebError("Packet capture is not available in this mode.", 503)
        return capture

    def _captures_page(self, request: web.Request, status: int = 200, **context: Any) -> web.Response:
        capture = self._capture()
        running = capture.files()
        return self.page(request, "captures.html", status=status, running=running,
                         files=listing(captures_dir(self.admin.data_dir), (".pcap", ".pcapng")), **context)

    async def captures(self, request: web.Request) -> web.Response:
        return self._captures_page(request)

    async def capture_start(self, request: web.Request) -> web.Response:
        from tuiphone.services.pcap import CaptureError

        full = request[FORM].get("full") == "1"
        try:
            files = await asyncio.to_thread(self._capture().start, full)
        except CaptureError as exc:
            return self._captures_page(request, 409, problems=[f"The capture did not start: {exc}."])
        return self._captures_page(request, notices=[f"Capturing into {files.sip.name}"
                                                     + (f" and {files.full.name}" if files.full else "") + "."])

    async def capture_stop(self, request: web.Request) -> web.Response:
        files = await asyncio.to_thread(self._capture().stop)
        if files is None:
            return self._captures_page(request, 409, problems=["No capture is running."])
        return self._captures_page(request, notices=[f"Capture stopped: {files.sip.name}, "
                                                     f"{files.sip_messages} SIP messages."])

    async def capture_file(self, request: web.Request) -> web.StreamResponse:
        path = safe_file(captures_dir(self.admin.data_dir), request.match_info["name"], (".pcap", ".pcapng"))
        return download(path, "application/vnd.tcpdump.pcap")

    # ----- Recordings --------------------------------------------------------------------------------------
    def _recordings_dir(self) -> Path:
        return recordings_dir(self.phone.config.features.record_dir, self.admin.data_dir)

    async def recordings(self, request: web.Request) -> web.Response:
        return self.page(request, "recordings.html", files=listing(self._recordings_dir(), (".wav",)))

    async def recording_file(self, request: web.Request) -> web.StreamResponse:
        path = safe_file(self._recordings_dir(), request.match_info["name"], (".wav",))
        return download(path, "audio/wav", inline=request.query.get("play") == "1")

    # ----- Click-to-dial -----------------------------------------------------------------------------------
    def _accounts(self) -> list[tuple[int, str]]:
        return [(index, f"{index + 1}: {a.name or a.user_id or 'account'}")
                for index, a in enumerate(self.phone.config.accounts) if a.enabled]

    async def dial_page(self, request: web.Request) -> web.Response:
        return self.page(request, "dial.html", accounts=self._accounts(), number="")

    async def dial(self, request: web.Request) -> web.Response:
        from tuiphone.services.cti import make_call
        from tuiphone.services.remote_keys import Refused

        form = request[FORM]
        number = str(form.get("number", ""))
        try:
            line = await make_call(self.phone, number, str(form.get("account", "")))
        except Refused as exc:
            return self.page(request, "dial.html", status=exc.status, accounts=self._accounts(), number=number,
                             problems=[f"{str(exc)[:1].upper()}{str(exc)[1:]}."])
        return self.page(request, "dial.html", accounts=self._accounts(), number=number,
                         notices=[f"Dialing {number} on line {line}."])

    # ----- Web password -----------------------------------------------------------------------------------
    async def password_page(self, request: web.Request) -> web.Response:
        return self.page(request, "password.html")

    async def password(self, request: web.Request) -> web.Response:
        from tuiphone.config import ConfigError, load_config, save_config
        from tuiphone.web.sessions import password_matches
        from tuiphone.web.settings import web_password

        form = request[FORM]
        old, new, again = (str(form.get(k, "")) for k in ("old", "new", "again"))
        problems = []
        if not password_matches(old, web_password(self.phone.config)):
            self.admin.sessions.throttle.failed(request.remote or "?")
            await asyncio.sleep(self.admin.failure_delay_s)
            problems.append("The current password is wrong.")
        elif not new:
            problems.append("The new password is empty.")
        elif new != again:
            problems.append("The two new passwords differ.")
        elif any(ord(ch) < 32 for ch in new) or len(new) > 128:
            problems.append("The new password must be 1-128 characters with no control characters.")
        if not problems:
            try:
                cfg = load_config(self.admin.config_path)
                cfg.web.password = new
                save_config(cfg, self.admin.config_path)
            except ConfigError as exc:
                problems.extend(str(exc).splitlines())
            else:
                self.phone.config.web.password = new
        if problems:
            return self.page(request, "password.html", status=400, problems=problems)
        return self.page(request, "password.html", notices=["The web password was changed and saved in the "
                                                           "config file (web.password)."])


def upload_of(request: web.Request, field: str) -> tuple[bytes | None, str]:
    item = request[FORM].get(field)
    if isinstance(item, web.FileField):
        data = item.file.read()
        return (data if data else None), (Path(item.filename or "upload").name[:80] or "upload")
    return None, "upload"
