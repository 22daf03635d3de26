"""Server-rendered pages (Jinja2) with small ES-module scripts in ``web/static``.

Each page renders its frame and what the server already knows (who is looking, the
lot, the language's strings); its script reads the JSON API and the ``/ws`` protocol
for the rest, so the browser sees exactly what the API lets the same person see. A
page that needs a login sends an anonymous visitor to ``/login?next=...``; a page for
another role, or another company's object, answers with an error page and the API's
status and code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from bidding.live.desk import Desk
from rfq import rfqs
from rfq.accounts import Principal, Role
from rfq.platform.errors import Forbidden, NotFound, RfqError
from rfq.platform.money import DECIMALS
from web import i18n
from web.auctions import viewer_of
from web.auth import SESSION_COOKIE, authenticate_request, csrf_token
from web.errors import status_of
from web.routing import check_ids

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))

Handler = Callable[[Request, Principal], Awaitable[Response]]


async def _render(
    request: Request,
    template: str,
    principal: Principal | None,
    status: int = 200,
    **context: Any,
) -> Response:
    language = i18n.language(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    csrf = csrf_token(request.app.state.settings.secret_key, cookie) if principal else ""
    response = templates.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "csrf": csrf,
            "lang": language,
            "t": i18n.translator(language),
            "strings": i18n.MESSAGES[language],
            "decimals": DECIMALS,
            **context,
        },
        status_code=status,
    )
    if request.query_params.get("lang") == language:
        response.set_cookie(i18n.COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


def _page(template: str, *roles: Role) -> Callable[[Request], Awaitable[Response]]:
    """A page that needs a login (and one of ``roles``, if given) and nothing else."""

    async def page(request: Request, principal: Principal) -> Response:
        return await _render(request, template, principal)

    return _guarded(page, *roles)


def _guarded(handler: Handler, *roles: Role) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal = await authenticate_request(request)
        if principal is None:
            query = "?" + request.url.query if request.url.query else ""
            target = quote(request.url.path + query)
            return RedirectResponse(f"/login?next={target}", status_code=303)
        try:
            check_ids(request)
            if roles and principal.role not in roles:
                raise Forbidden("This page is not for your role.", code="wrong_role")
            return await handler(request, principal)
        except RfqError as exc:
            return await _render(
                request,
                "error.html",
                principal,
                status=status_of(exc),
                code=exc.code,
                message=str(exc),
            )

    endpoint.__name__ = getattr(handler, "__name__", "page")
    return endpoint


async def _public(request: Request, template: str) -> Response:
    principal = await authenticate_request(request)
    return await _render(request, template, principal)


async def login(request: Request) -> Response:
    """The login form."""
    return await _public(request, "login.html")


async def register(request: Request) -> Response:
    """The registration form (buyer or supplier company)."""
    return await _public(request, "register.html")


async def home(request: Request) -> Response:
    """The landing page for visitors; each role's dashboard once logged in."""
    principal = await authenticate_request(request)
    if principal is None:
        return await _render(request, "home.html", None)
    return await _render(request, "dashboard.html", principal)


async def _auction(request: Request, principal: Principal) -> Response:
    """``/auctions/{id}``: the bidding room for a supplier, the live monitor for the
    RFQ's buyer and operators."""
    auction_id = int(request.path_params["auction_id"])
    state = request.app.state
    viewer = await viewer_of(state, principal, auction_id)
    desk: Desk = state.desk
    facts = await desk.facts(auction_id)

    def lot_of(session: Session) -> dict[str, Any]:
        rfq = rfqs.public(session, principal, rfqs.get(session, principal, facts.rfq_id))
        lot = next((lot for lot in rfq.lots if lot.auction_id == auction_id), None)
        if lot is None:
            raise NotFound("No such auction.")
        return {"rfq": rfq, "lot": lot}

    found = await state.db.read(lot_of)
    template = "monitor.html" if viewer.full else "room.html"
    return await _render(
        request,
        template,
        principal,
        auction_id=auction_id,
        buyer_side=viewer.full,
        operator=principal.role is Role.operator,
        practice=facts.practice,
        **found,
    )


async def _festival(request: Request, principal: Principal) -> Response:
    return await _render(
        request, "festival.html", principal, festival_id=int(request.path_params["festival_id"])
    )


async def _rfq(request: Request, principal: Principal) -> Response:
    return await _render(request, "rfq.html", principal, rfq_id=int(request.path_params["rfq_id"]))


async def _contract(request: Request, principal: Principal) -> Response:
    contract_id = int(request.path_params["contract_id"])
    return await _render(request, "contract_page.html", principal, contract_id=contract_id)


async def _supplier(request: Request, principal: Principal) -> Response:
    company_id = int(request.path_params["company_id"])
    return await _render(request, "supplier.html", principal, company_id=company_id)


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/login", login, methods=["GET"]),
    Route("/register", register, methods=["GET"]),
    Route("/certification", _page("certification.html", Role.supplier), methods=["GET"]),
    Route("/deposits", _page("deposits.html", Role.supplier), methods=["GET"]),
    Route("/practice", _page("practice.html", Role.supplier), methods=["GET"]),
    Route("/rfqs", _page("rfqs.html"), methods=["GET"]),
    Route("/rfqs/new", _page("rfq_new.html", Role.buyer), methods=["GET"]),
    Route("/rfqs/{rfq_id:int}", _guarded(_rfq), methods=["GET"]),
    Route("/auctions/{auction_id:int}", _guarded(_auction), methods=["GET"]),
    Route("/festivals", _page("festivals.html"), methods=["GET"]),
    Route("/festivals/{festival_id:int}", _guarded(_festival), methods=["GET"]),
    Route("/contracts", _page("contracts.html"), methods=["GET"]),
    Route("/contracts/{contract_id:int}", _guarded(_contract), methods=["GET"]),
    Route("/webhooks", _page("webhooks.html"), methods=["GET"]),
    Route("/suppliers/{company_id:int}", _guarded(_supplier), methods=["GET"]),
    Route("/admin", _page("admin.html", Role.operator), methods=["GET"]),
]
