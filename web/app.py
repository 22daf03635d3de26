"""The Starlette application: routes, error handlers, and the resources of its lifespan.

``create_app()`` builds the app; ``rfq serve`` has uvicorn run :func:`served_app`, which
also tunes the garbage collector for a long-lived server. Resources are
opened in :func:`lifespan` and closed when it ends: the database, the Redis client
(and, when ``RFQ_REDIS_URL`` is unset and no parent process started one, the embedded
Redis server), and the rate limiter.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from bidding.live.desk import Desk
from bidding.live.engine import Engine, RateLimit
from bidding.live.journal import Journal
from bidding.live.scheduler import Scheduler
from bidding.live.store import DOMAIN_HOOKS
from realtime.hub import Hub
from realtime.notifier import Notifier
from rfq import __version__, mailer, participation
from rfq.contracts import commands, delivery
from rfq.platform import db, metrics
from rfq.platform.embedded_redis import EmbeddedRedis
from rfq.platform.keys import Keys
from rfq.platform.ratelimit import RateLimiter
from rfq.platform.redis_client import connect, log_persistence
from rfq.platform.settings import Settings
from rfq.platform.smtp import Smtp
from web import (
    accounts,
    auctions,
    catalog,
    certification,
    clarifications,
    credit,
    deposits,
    documents,
    festivals,
    files,
    health,
    pages,
    practice,
    rounds,
    webhooks,
)
from web import (
    contracts as web_contracts,
)
from web import rfqs as web_rfqs
from web.auth import Uses
from web.errors import HANDLERS
from web.routing import openapi
from web.websocket import websocket_endpoint

log = logging.getLogger("rfq.web")

_STATIC = Path(__file__).with_name("static")


def create_app(settings: Settings | None = None, *, journal_process: bool = False) -> Starlette:
    """Build the app; settings default to the ``RFQ_*`` environment variables.

    ``journal_process``: the journal commits in a child process of its own (``rfq
    serve``'s workers when there are fewer than cores; see
    ``bidding/live/commit_process.py``), rather than in its thread."""
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            state = app.state
            state.settings = settings
            stack.callback(metrics.worker_exited, os.getpid())
            redis_url = settings.redis_url
            if redis_url is None:
                embedded = EmbeddedRedis(settings.data_dir)
                redis_url = embedded.start()
                stack.callback(embedded.stop)
            if settings.is_sqlite:
                db.upgrade(settings.database_url)
            else:
                db.require_current(settings.database_url)
            state.db = db.Database(settings.database_url)
            stack.callback(state.db.dispose)
            state.redis = connect(redis_url)
            stack.push_async_callback(state.redis.aclose)
            if settings.redis_url is not None:
                await log_persistence(state.redis)
            state.keys = Keys(settings.redis_prefix)
            state.limiter = RateLimiter(state.redis, state.keys)
            state.engine = Engine(state.redis, state.keys)
            state.journal = Journal(
                state.db, DOMAIN_HOOKS, publish=state.engine.publish, own_process=journal_process
            )
            rate = RateLimit(max(1, 1000 // settings.bids_per_second), burst_ms=2_000)
            secret = settings.secret_key.encode()
            state.desk = Desk(
                state.db, state.engine, state.journal, rate, secret, settings.deposit_required
            )
            state.scheduler = Scheduler(state.desk)
            state.hub = Hub(state.desk, settings.secret_key)
            state.notifier = Notifier(state.db)
            state.uses = Uses(state.db)
            async with anyio.create_task_group() as tasks:
                state.tasks = tasks  # the requests' own background work (practice rivals)
                tasks.start_soon(state.journal.run)
                tasks.start_soon(state.scheduler.run)
                tasks.start_soon(state.hub.run)
                tasks.start_soon(state.notifier.run)
                tasks.start_soon(state.desk.follow)
                tasks.start_soon(state.uses.run)
                tasks.start_soon(webhooks.deliver_loop, state.db, settings)
                tasks.start_soon(clarifications.chain_loop, state.db, state.desk)
                tasks.start_soon(_timers, state.db, TIMERS_EVERY_S)
                if settings.smtp_url:
                    smtp = Smtp.from_url(settings.smtp_url, settings.smtp_from)
                    tasks.start_soon(_mail_loop, state.db, smtp, MAIL_EVERY_S)
                yield
                tasks.cancel_scope.cancel()
            await state.uses.settle()  # the last uses; a failure does not fail the shutdown

    app = Starlette(routes=_routes(), exception_handlers=HANDLERS, lifespan=lifespan)
    app.state.settings = settings
    return app


GC_THRESHOLDS = (20_000, 10, 10)
"""The collector's thresholds in a served worker (Python's defaults: 700, 10, 10)."""


def served_app() -> Starlette:
    """The factory ``rfq serve`` runs in each worker when the machine has more cores than
    workers: :func:`create_app` with the journal's commits in a process of their own
    (which then has a core to run on), and the collector tuned (:func:`_tuned`)."""
    return _tuned(create_app(journal_process=True))


def served_app_per_core() -> Starlette:
    """The factory when ``rfq serve`` runs a worker per core or more: the journal
    commits in its thread, since a commit process would only compete with the workers
    for their cores (measured in ``docs/performance.md``); the collector tuned."""
    return _tuned(create_app())


def _tuned(app: Starlette) -> Starlette:
    """Tune the collector so that it does not stall the event loop.

    With Python's defaults, a worker fanning out 10,000 frames/s to 1,000 sockets ran a
    full collection every 3 to 4 s, and each took 100 to 220 ms: every frame in flight
    waited that long (``rfq bench fanout``; see ``docs/performance.md``). A young
    generation of 20,000 objects instead of 700 means far fewer young collections, so far
    fewer in-flight objects are promoted, and the old generation rarely fills up; the
    objects alive after startup (modules, the ORM's mappings) are moved out of the
    collector's sight with ``gc.freeze()``, so a full collection scans only what came later.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return app


TIMERS_EVERY_S = 30.0


async def _timers(database: db.Database, every_s: float) -> None:
    """At startup (a restart that missed a moment catches up), then every ``every_s``
    seconds: release contracts whose inspection period ran out, mark those not shipped
    by their ship-by date, release retentions whose after-sale period ran out, and
    remind invited suppliers of auctions opening soon."""
    while True:
        try:
            released = await database.run(commands.sweep)
            if released:
                log.info("inspection period over, released contracts %s", released)
            late = await database.run(delivery.sweep_overdue)
            if late:
                log.info("ship-by date passed unshipped: contracts %s", late)
            ended = await database.run(delivery.sweep_aftersale)
            if ended:
                log.info("after-sale period over, retention released: contracts %s", ended)
            await database.run(participation.remind_opening)
        except Exception:  # a failed round is retried on the next one
            log.exception("timers failed")
        await anyio.sleep(every_s)


MAIL_EVERY_S = 2.0


async def _mail_loop(database: db.Database, smtp: Smtp, every_s: float) -> None:
    """Send the email outbox (at least once: a crash between sending and marking
    resends the row)."""
    while True:
        try:
            rows = await database.run(mailer.claim)
            sent, failed = await anyio.to_thread.run_sync(mailer.send, smtp, rows)
            await database.run(mailer.record, sent, failed)
        except Exception:  # the server may be down; the rows are retried
            log.warning("sending the email outbox failed", exc_info=True)
        await anyio.sleep(every_s)


async def _openapi_json(request: Request) -> Response:
    return JSONResponse(openapi("RFQ Arena", __version__))


def _routes() -> list[BaseRoute]:
    return [
        *accounts.ROUTES,
        *catalog.ROUTES,
        *files.ROUTES,
        *certification.ROUTES,
        *deposits.ROUTES,
        *festivals.ROUTES,
        *web_rfqs.ROUTES,
        *clarifications.ROUTES,
        *documents.ROUTES,
        *auctions.ROUTES,
        *rounds.ROUTES,
        *practice.ROUTES,
        *web_contracts.ROUTES,
        *credit.ROUTES,
        *health.ROUTES,
        *webhooks.ROUTES,
        Route("/openapi.json", _openapi_json, methods=["GET"]),
        WebSocketRoute("/ws", websocket_endpoint),
        *pages.ROUTES,
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
