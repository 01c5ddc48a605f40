"""The web admin's HTTP server (issue 16): aiohttp on the phone process's own loop, jinja2 pages.

The guard middleware sends the security headers on every answer (CSP default-src 'self', no framing, nosniff,
no referrer, no-store; never a CORS header), sends a browser with no session to the sign-in page (401 for a
request that is not a page view), checks the CSRF token of every state-changing request and turns every error
into a short page with a sentence: an upload over MAX_UPLOAD is a 413, a bug a 500, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from tuiphone.config import parse_listen_address
from tuiphone.logthrottle import LogThrottle
from tuiphone.services.cti import FAILURE_DELAY_S
from tuiphone.services.http_listen import QuietServerLog, listen
from tuiphone.web.files import WebError
from tuiphone.web.request_keys import CSP_CONNECT, FORM, SESSION
from tuiphone.web.sessions import COOKIE, Sessions, password_matches
from tuiphone.web.settings import web_password

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_UPLOAD = 6 * 1024 * 1024        # above the phonebook's 5 MB and provisioning's 2 MB limits
OPEN_PATHS = ("/login", "/static/")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATUS_SENTENCES = {
    400: "The request was not understood.",
    403: "The request was refused.",
    404: "There is no such page.",
    405: "That page does not take this kind of request.",
    413: f"The upload is larger than {MAX_UPLOAD // (1024 * 1024)} MB; it was refused and nothing was changed.",
}


class WebAdmin:
    """The web admin of one running phone. `await start()` listens on web.listen; `await stop()` closes it."""

    def __init__(self, phone: Any, *, config_path: Path, data_dir: Path, services: Any = None,
                 listen: str | None = None, failure_delay_s: float = FAILURE_DELAY_S,
                 restart: Callable[[], None] | None = None, terminal_command: list[str] | None = None):
        self.phone, self.services = phone, services
        self.config_path, self.data_dir = Path(config_path), Path(data_dir)
        self.settings = phone.config.web
        self.host, self.port = parse_listen_address(listen or self.settings.listen)
        self.tls = bool(self.settings.tls_cert and self.settings.tls_key)
        self.sessions = Sessions(self.settings.session_minutes)
        self.failure_delay_s = failure_delay_s
        self.restart = restart
        self.noise = LogThrottle(log)
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                            autoescape=True, undefined=jinja2.StrictUndefined)
        self._runner: web.AppRunner | None = None
        from tuiphone.web.terminal import Terminals

        self.terminals = Terminals(self, terminal_command)     # /terminal: the phone's own screen, one per tab

    # ----- lifecycle -------------------------------------------------------------------------------------
    async def _home(self, request: web.Request) -> web.StreamResponse:
        return redirect("/status")

    def application(self) -> web.Application:
        from tuiphone.web import pages

        app = web.Application(middlewares=[self._guard], client_max_size=MAX_UPLOAD)
        app.router.add_get("/", self._home)
        app.router.add_get("/login", self._login_page)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        self.terminals.add_routes(app)                  # before /static/: it serves /static/terminal/
        app.router.add_static("/static/", HERE / "static", follow_symlinks=False)
        pages.add_routes(app, self)
        return app

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
        return context

    async def start(self) -> str:
        """Listen; returns the URL. Raises OSError (port taken, address missing, unreadable certificate)."""
        context = self.ssl_context()
        self._runner, self.port = await listen(self.application(), self.host, self.port,
                                               QuietServerLog(self.noise, "web admin"), context)
        log.info("web admin listening on %s", self.url)
        return self.url

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    async def stop(self) -> None:
        self.sessions.end_all()
        await self.terminals.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----- pages -----------------------------------------------------------------------------------------
    def page(self, request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
        session = request.get(SESSION)
        html = self.templates.get_template(template).render(
            csrf=session.csrf if session else "", signed_in=session is not None, path=request.path,
            notices=context.pop("notices", []), problems=context.pop("problems", []), **context)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")

    # ----- the guard ---------------------------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        try:
            response = await self._checked(request, handler)
        except WebError as exc:
            response = self._error(request, exc.status, str(exc))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = self._error(request, exc.status, STATUS_SENTENCES.get(exc.status, exc.reason))
        except Exception as exc:   # a bug must not leak a traceback to the browser, nor flood the log
            self.noise.failed("request failed", f"web admin request {request.path[:80]}", exc)
            response = self._error(request, 500, "The phone could not carry out this request; see its log file.")
        for name, value in HEADERS.items():
            response.headers[name] = value
        if CSP_CONNECT in request:           # the terminal page: its own websocket too
            response.headers["Content-Security-Policy"] += f"; connect-src {request[CSP_CONNECT]}"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def _error(self, request: web.Request, status: int, sentence: str) -> web.Response:
        try:
            return self.page(request, "error.html", status=status, sentence=sentence)
        except Exception:
            return web.Response(text=sentence, status=status)

    async def _checked(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD", "POST"):
            raise WebError("The web admin takes GET and POST requests only.", 405)
        origin = request.headers.get("Origin")
        if request.method == "POST" and origin not in (None, "null") and origin.split("://", 1)[-1] != request.host:
            raise WebError("Requests from other web sites are refused.", 403)
        session = self.sessions.get(request.cookies.get(COOKIE))
        request[SESSION] = session
        if request.path == "/login" or request.path.startswith("/static/"):
            return await handler(request)
        if session is None:
            if request.method in ("GET", "HEAD") and request.headers.get("Upgrade", "").lower() != "websocket":
                return redirect("/login")
            raise WebError("Sign in first.", 401)
        if request.method == "POST":
            form = await request.post()
            token = form.get("csrf")
            if not self.sessions.csrf_ok(session, token if isinstance(token, str) else None):
                raise WebError("The form's security token is missing or stale: reload the page and try again.", 403)
            request[FORM] = form
        return await handler(request)

    # ----- sign in, sign out -------------------------------------------------------------------------------
    async def _login_page(self, request: web.Request) -> web.Response:
        if request.get(SESSION) is not None:
            return redirect("/status")
        return self.page(request, "login.html")

    async def _login(self, request: web.Request) -> web.Response:
        address = request.remote or "?"
        locked = self.sessions.throttle.locked_for(address)
        if locked > 0:
            response = self.page(request, "login.html", status=429, problems=[
                f"Too many wrong passwords from {address}: try again in {max(1, round(locked + 0.5))} s."])
            response.headers["Retry-After"] = str(max(1, round(locked + 0.5)))
            return response
        form = await request.post()
        given = form.get("password")
        if not isinstance(given, str) or not password_matches(given, web_password(self.phone.config)):
            self.sessions.throttle.failed(address)
            self.noise.warning("wrong password", "web admin: wrong password from %s", address)
            await asyncio.sleep(self.failure_delay_s)
            return self.page(request, "login.html", status=401, problems=["Wrong password."])
        self.sessions.throttle.succeeded(address)
        self.sessions.end(request.cookies.get(COOKIE))
        session = self.sessions.create()
        response = redirect("/status")
        response.set_cookie(COOKIE, session.sid, max_age=self.sessions.seconds, path="/", httponly=True,
                            samesite="Strict", secure=self.tls)
        log.info("web admin: signed in from %s", address)
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        self.sessions.end(request.cookies.get(COOKIE))
        await self.terminals.end_session(request.cookies.get(COOKIE))
        response = redirect("/login")
        response.del_cookie(COOKIE, path="/")
        return response


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def start_web_admin(phone: Any, services: Any, config_path: Path, data_dir: Path, *,
                          forced: bool = False, restart: Callable[[], None] | None = None) -> WebAdmin | None:
    """The daemon's hook: the web admin when web.enabled (or `forced` by `tuiphone web`), else None (no port
    opens). Raises ServiceError with a sentence when it cannot start."""
    from tuiphone.services.runner import ServiceError

    settings = phone.config.web
    if not (settings.enabled or forced):
        return None
    if not web_password(phone.config):
        raise ServiceError("the web admin has no password: set web.password or phone.admin_password")
    admin = WebAdmin(phone, config_path=config_path, data_dir=data_dir, services=services, restart=restart)
    try:
        await admin.start()
    except (OSError, ssl.SSLError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ServiceError(f"the web admin cannot listen on {settings.listen} ({why}): "
                           "change web.listen (or web.tls_cert/tls_key) or set web.enabled = false") from None
    return admin
