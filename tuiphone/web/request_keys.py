"""What the web admin's guard (server.WebAdmin._guard) leaves on a request for the handlers after it."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from tuiphone.web.sessions import Session

SESSION: web.RequestKey[Session | None] = web.RequestKey("session")     # the signed-in session, or None
FORM: web.RequestKey[MultiDictProxy[str | bytes | bytearray | web.FileField]] = web.RequestKey("form")  # CSRF checked
CSP_CONNECT = web.RequestKey("csp_connect", str)     # where the terminal page's script may connect
