"""`trubka serve` and `trubka demo`."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click
import uvicorn

from trubka import gc_tuning
from trubka.eventloop import run
from trubka.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

# Worker threads (the screen-pop card read on SQLite, aiosqlite's connections) hold the
# GIL for up to the switch interval (5 ms by default) whenever the event loop wants it
# back — and a pop crosses the loop several times (AMI read, notifier, socket writer).
# A shorter interval keeps those waits well under a millisecond.
SWITCH_INTERVAL = 0.0005


def _server(settings: Settings, app: FastAPI | None = None) -> uvicorn.Server:
    """uvicorn for the app, with the limits of `trubka.http_server` (docs/security.md);
    it drains the node's WebSockets before shutting down."""
    from trubka.app import build_app
    from trubka.http_server import DrainingServer, uvicorn_config

    return DrainingServer(uvicorn_config(app or build_app(settings), settings))


@click.command()
@click.option(
    "--roles",
    metavar="ami,agi,web,workers",
    help="The parts this node runs, comma-separated (default: TRUBKA_ROLES, else all): "
    "ami consumes Asterisk's events (one node at a time per PBX on PostgreSQL), agi "
    "serves FastAGI, web the pages, API and sockets, workers the background work.",
)
def serve(roles: str | None) -> None:
    """AMI client + FastAGI server + web, configured from the environment."""
    from trubka.cli.common import configure_logging, settings_or_exit
    from trubka.node_lock import NodeRefused
    from trubka.settings import parse_roles

    settings = settings_or_exit()
    if roles is not None:
        try:
            settings = settings.model_copy(update={"roles": parse_roles(roles)})
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--roles") from None
    configure_logging(settings.log_level)
    sys.setswitchinterval(SWITCH_INTERVAL)
    if settings.nice:  # TRUBKA_NICE: background work yields the CPU to the pops' nodes
        os.nice(settings.nice)
    from trubka.app import build_app

    app = build_app(settings)
    try:  # SQLite serves one node: refuse a second one before anything starts
        app.state.services.node.claim()
    except NodeRefused as exc:
        raise click.ClickException(str(exc)) from None
    server = _server(settings, app)
    # Everything imported and built so far (SQLAlchemy, FastAPI, phone metadata, the app:
    # some 150 000 objects) lives until exit. Moved out of the collector's sight, a full
    # collection no longer walks them: that walk stalled the event loop — and every
    # screen pop — for hundreds of milliseconds every so often. The thresholds make the
    # full collections of what the node builds while it serves rare (trubka.gc_tuning).
    gc_tuning.freeze_startup()
    gc_tuning.tune()
    run(server.serve, settings.event_loop)  # uvloop when installed (TRUBKA_EVENT_LOOP)


@click.command()
@click.option(
    "--call-interval",
    type=click.FloatRange(min=0.0),
    default=3.0,
    show_default=True,
    help="Seconds between new customer calls (0: no generated calls).",
)
@click.option(
    "--pjsip",
    is_flag=True,
    help="Agents are SIP phones (PJSIP/101 …) and customers call in on a SIP trunk, "
    "instead of Local channels.",
)
@click.option(
    "--contacts",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Demo contacts to create in a fresh database.",
)
def demo(call_interval: float, pjsip: bool, contacts: int) -> None:
    """The same with a simulated Asterisk placing calls, and demo data; prints the URL."""
    from trubka.cli.common import configure_logging, settings_or_exit

    settings = settings_or_exit()
    configure_logging(settings.log_level)
    run(
        lambda: _demo(settings, call_interval, pjsip=pjsip, contacts=contacts),
        settings.event_loop,
    )


async def _demo(
    settings: Settings, call_interval: float, *, pjsip: bool = False, contacts: int = 300
) -> None:
    from crm.database import Database
    from trubka.demo import demo_secret_key, seed_demo_data, start_demo_pbx

    if not settings.secret_key:  # forms survive demo restarts, without the production warning
        settings = settings.model_copy(update={"secret_key": demo_secret_key()})
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        logins = await seed_demo_data(db, settings, pjsip=pjsip, contacts=contacts)
    finally:
        await db.dispose()
    pbx, pointed = await start_demo_pbx(settings, call_interval=call_interval, pjsip=pjsip)
    try:
        server = _server(pointed)
        host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
        click.echo(f"Trubka demo: http://{host}:{settings.http_port}  (live calls: /status)")
        click.echo(f"Database: {settings.database_url}")
        if logins:
            click.echo("Demo logins:")
            for login in logins:
                click.echo(f"  {login.role:<10} {login.login} / {login.password}")
        await server.serve()
    finally:
        await pbx.stop()
