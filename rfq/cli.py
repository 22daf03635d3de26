"""The ``rfq`` command: serve, demo, admin, db, bench, audit.

Each subcommand reads the ``RFQ_*`` settings; a bad setting or a busy data dir ends
the command with a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn
from sqlmodel import Session

from realtime import codec
from realtime.transport import DirectProtocol
from rfq import accounts, audit_chain, demo, rounds
from rfq.auctions import AuctionRecord
from rfq.platform import db, metrics
from rfq.platform.embedded_redis import DataDirBusy, EmbeddedRedis, EmbeddedRedisFailed
from rfq.platform.errors import RfqError
from rfq.platform.settings import Settings, SettingsError

KEEP_ALIVE_S = 75
"""Idle keep-alive of HTTP connections: longer than a load balancer's usual 60 s idle
timeout, so the balancer, not the app, closes an idle connection (no request lost to the
race of both closing it)."""

_EXPECTED = (SettingsError, DataDirBusy, EmbeddedRedisFailed, RfqError, db.SchemaOutdated)


BENCHES = {
    "engine": "the durable bid path vs raw EVALSHA",
    "fanout": "the hub's deliveries vs a bare broadcast()",
    "ranks": "telling suppliers their rank: shared tick vs own",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rfq`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except _EXPECTED as exc:
        print(f"rfq: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rfq", description="RFQ Arena: reverse auctions for brand procurement festivals."
    )
    sub = parser.add_subparsers(title="commands")

    serve = sub.add_parser("serve", help="run the app with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=_serve)

    demo = sub.add_parser("demo", help="serve a seeded demo festival and print the logins")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=_demo)

    admin = sub.add_parser("admin", help="operator accounts").add_subparsers(title="admin")
    create = admin.add_parser("create", help="create an operator account")
    create.add_argument("--email", required=True)
    create.add_argument("--password", help="prompted for when omitted")
    create.set_defaults(run=_admin_create)

    dbp = sub.add_parser("db", help="the SQL database").add_subparsers(title="db")
    dbp.add_parser("upgrade", help="apply every migration").set_defaults(run=_db_upgrade)

    bench = sub.add_parser(
        "bench",
        help="engine and fan-out benchmarks (from loadtests/, needs the [load] extra)",
        description="\n".join(f"{name}: {text}" for name, text in BENCHES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("name", choices=sorted(BENCHES))
    bench.add_argument("options", nargs=argparse.REMAINDER, help="the benchmark's own options")
    bench.set_defaults(run=_bench)

    audit = sub.add_parser("audit", help="audit logs").add_subparsers(title="audit")
    verify = audit.add_parser("verify", help="verify an auction's hash-chained log")
    verify.add_argument("auction_id", type=int)
    verify.set_defaults(run=_audit_verify)
    return parser


def serve(host: str, port: int, workers: int, settings: Settings) -> None:
    """Run the app under uvicorn until it is stopped (Ctrl-C or SIGTERM).

    The parent process migrates an SQLite database and starts the embedded Redis when
    ``RFQ_REDIS_URL`` is unset, then hands its URL to every worker and stops it last.
    With fewer workers than cores, each worker's journal commits in a child process
    (``web.app.served_app``; docs/engine.md); with a worker per core, in its thread.
    """
    if workers < 1:
        raise SettingsError("--workers must be at least 1.")
    if settings.is_sqlite:
        db.upgrade(settings.database_url)
    else:
        db.require_current(settings.database_url)
    embedded = EmbeddedRedis(settings.data_dir) if settings.embedded_redis else None
    if workers > 1:  # each worker writes its metrics there; /metrics sums them
        folder = settings.data_dir / "metrics"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ[metrics.MULTIPROC_ENV] = str(folder)
    try:
        if embedded is not None:
            os.environ["RFQ_REDIS_URL"] = embedded.start()
        uvicorn.run(
            "web.app:served_app"
            if workers < (os.cpu_count() or 1)
            else "web.app:served_app_per_core",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            timeout_graceful_shutdown=10,
            timeout_keep_alive=KEEP_ALIVE_S,
            ws=DirectProtocol,  # the hub writes frames straight to sockets
            ws_max_size=codec.MAX_MESSAGE,
            ws_per_message_deflate=codec.DEFLATE,
        )
    finally:
        if embedded is not None:
            embedded.stop()
            os.environ.pop("RFQ_REDIS_URL", None)
        os.environ.pop(metrics.MULTIPROC_ENV, None)


def _serve(args: argparse.Namespace) -> int:
    serve(args.host, args.port, args.workers, Settings.from_env())
    return 0


def _demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.is_sqlite:
        db.upgrade(settings.database_url)
    logins = demo.seed(settings)
    url = f"http://{args.host}:{args.port}"
    print(f"\nRFQ Arena demo festival: open {url}/login\n")
    print(f"Demo logins (password for all: {demo.PASSWORD})")
    for role, email in logins:
        print(f"  {role:<9} {email}")
    print(
        "\nsupplier1 is yours to bid with; suppliers 2 to 4 are simulated and start bidding"
        " a few seconds after the app is up; supplier5 waits in the operator's"
        " certification queue.\n",
        flush=True,
    )
    stop = demo.start_simulation(url)
    try:
        serve(args.host, args.port, 1, settings)
    finally:
        stop.set()
    return 0


def _admin_create(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.is_sqlite:
        db.upgrade(settings.database_url)
    password = args.password or getpass.getpass("Password for the operator: ")
    database = db.Database(settings.database_url)
    try:
        with database.session() as session:
            user = accounts.create_operator(session, args.email, password)
            session.commit()
    finally:
        database.dispose()
    print(f"Operator {user.email} created (id {user.id}).")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    db.upgrade(settings.database_url)
    print("Database is at the latest migration.")
    return 0


def _bench(args: argparse.Namespace) -> int:
    """Run one of loadtests/'s benchmarks, imported only now: the product does not
    depend on them, nor on the [load] extra's packages they use."""
    try:
        module = importlib.import_module(f"loadtests.bench_{args.name}")
    except ImportError as exc:
        print(
            f"rfq: the benchmarks need the load extra ({exc.name} is missing); "
            "install it with pip install -e '.[load]'.",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog=f"rfq bench {args.name}", description=BENCHES[args.name])
    module.add_arguments(parser)
    options = parser.parse_args(args.options)
    module.report(module.run(options), options.json)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    """Verify the auction's chain, and every round it is linked to (both ways)."""
    settings = Settings.from_env()
    database = db.Database(settings.database_url)
    try:
        with database.session() as session:
            if session.get(AuctionRecord, args.auction_id) is None:
                print(f"rfq: no auction {args.auction_id}.", file=sys.stderr)
                return 2
            logs, pairs = _linked_chains(session, args.auction_id)
    finally:
        database.dispose()
    status = 0
    for auction_id, log in logs.items():
        count = len(log["entries"])
        if log["verified"]:
            print(f"auction {auction_id}: {count} entries, chain verified; head {log['head']}")
        else:
            print(f"auction {auction_id}: chain BROKEN: {log['problem']}", file=sys.stderr)
            status = 1
    for earlier, later in sorted(pairs):
        gone = [a for a in (earlier, later) if a not in logs]
        if gone:
            print(f"rounds: link BROKEN: auction {gone[0]} does not exist", file=sys.stderr)
            status = 1
            continue
        problem = rounds.check_link(earlier, logs[earlier], later, logs[later])
        if problem is None:
            print(f"rounds: auction {earlier} -> auction {later}, linked both ways")
        else:
            print(f"rounds: link BROKEN: {problem}", file=sys.stderr)
            status = 1
    return status


def _linked_chains(
    session: Session, auction_id: int
) -> tuple[dict[int, dict[str, Any]], set[tuple[int, int]]]:
    """The chains of the auction and of every round linked to it, by the rows
    (``previous_round``) or by the chains' own linking entries, and the linked pairs
    ``(earlier, later)``."""
    logs: dict[int, dict[str, Any]] = {}
    pairs: set[tuple[int, int]] = set()
    todo = [auction_id]
    while todo:
        current = todo.pop()
        if current in logs or session.get(AuctionRecord, current) is None:
            continue
        logs[current] = audit_chain.chain(session, current)
        record = session.get(AuctionRecord, current)
        later = rounds.next_of(session, current)
        found = [(k, other) for k, other, _ in rounds.links(logs[current]["entries"])]
        if record is not None and record.previous_round is not None:
            found.append((rounds.PREVIOUS, record.previous_round))
        if later is not None:
            found.append((rounds.NEXT, later.id))
        for kind, other in found:
            pairs.add((current, other) if kind == rounds.NEXT else (other, current))
            todo.append(other)
    return logs, pairs


if __name__ == "__main__":
    sys.exit(main())
