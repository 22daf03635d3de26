"""Server-rendered pages (Jinja2) with small ES-module scripts in ``web/static``."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from web.auth import SESSION_COOKIE, authenticate_request, csrf_token

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


async def _context(request: Request) -> dict[str, object]:
    principal = await authenticate_request(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    csrf = csrf_token(request.app.state.settings.secret_key, cookie) if principal else ""
    return {"principal": principal, "csrf": csrf}


async def home(request: Request) -> Response:
    """The landing page: who is logged in and where to go."""
    return templates.TemplateResponse(request, "home.html", await _context(request))


async def login(request: Request) -> Response:
    """The login form."""
    return templates.TemplateResponse(request, "login.html", await _context(request))


ROUTES = [Route("/", home, methods=["GET"]), Route("/login", login, methods=["GET"])]
