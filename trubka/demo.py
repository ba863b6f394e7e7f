"""`trubka demo`: the simulated PBX in this process, and the demo data.

`seed_demo_data` is the hook where features add what a demo needs (users and their
logins, contacts, call history …); it runs once the database is migrated, before the
web server starts, and returns the logins to print. It must be idempotent: the demo
database survives restarts.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from crm.database import Database
from telephony.simpbx import SimConfig, SimPbx, Timing
from trubka.settings import Settings

log = logging.getLogger(__name__)
DEMO_WRAPUP_LIMIT = 10  # seconds of after-call hold at most in the demo

DEMO_SPOOL = Path("var/spool/recordings")


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: str
    login: str
    password: str


async def seed_demo_data(
    db: Database, settings: Settings, *, pjsip: bool = False, contacts: int = 300
) -> list[DemoLogin]:
    """Create the demo's data if missing; return the logins a visitor can use.

    Agents 101–105 (`agent101` …), a supervisor and an admin, with contacts on the numbers
    the simulated PBX calls from (every seventh caller unknown), companies, tasks, deals
    and three weeks of call history. With `pjsip` the agents' phones are `PJSIP/10X`.
    """
    from crm.demo_data import seed_demo

    users = await seed_demo(db, contacts=contacts, region=settings.default_region, pjsip=pjsip)
    return [DemoLogin(u.role, u.login, u.password) for u in users]


DEMO_TIMING = Timing(talk_time=(3.0, 20.0), patience=(5.0, 40.0))


def sim_config(
    settings: Settings,
    *,
    call_interval: float = 3.0,
    seed: int | None = None,
    timing: Timing | None = None,
    pjsip: bool = False,
) -> SimConfig:
    """The demo PBX: agents 101–105 with Russian names, queues `support` and `sales`,
    real WAV recordings in the spool, FastAGI requests to TRUBKA_AGI_HOST:PORT (when
    nothing listens there, calls go on to the queue as on a real Asterisk). With `pjsip`
    the agents are SIP phones `PJSIP/10X` and customers come in on a SIP trunk."""
    spool = (settings.recordings_spool or DEMO_SPOOL).resolve()
    return SimConfig(
        username="trubka-demo",
        secret=secrets.token_urlsafe(16),
        host="127.0.0.1",
        port=0,
        agi_url=f"agi://{settings.agi_host}:{settings.agi_port}/route"
        if settings.agi_port
        else None,
        timing=replace(timing or DEMO_TIMING, call_interval=call_interval),
        seed=seed,
        spool_dir=spool,
        recordings_path=str(spool),
        channel_mode="pjsip" if pjsip else "local",
    )


DEMO_SECRET_KEY = Path("var/demo-secret-key")


def demo_secret_key(path: Path = DEMO_SECRET_KEY) -> str:
    """The demo's form key, made once and kept beside its database (var/)."""
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key


async def start_demo_pbx(
    settings: Settings,
    *,
    call_interval: float = 3.0,
    timing: Timing | None = None,
    pjsip: bool = False,
) -> tuple[SimPbx, Settings]:
    """Start the simulated PBX; return it and the settings that point Trubka at it."""
    config = sim_config(settings, call_interval=call_interval, timing=timing, pjsip=pjsip)
    pbx = SimPbx(config)
    await pbx.start()
    pointed = settings.model_copy(
        update={
            "ami_host": config.host,
            "ami_port": pbx.port,
            "ami_user": config.username,
            "ami_secret": config.secret,
            "ami_enabled": True,
            "recordings_spool": config.spool_dir,
            "recordings_pbx_dir": config.spool_dir,
            # the simulated agents never save a wrap-up: hold them briefly, not a minute
            "wrapup_limit": min(settings.wrapup_limit, DEMO_WRAPUP_LIMIT),
        }
    )
    log.info(
        "demo: simulated Asterisk (%s channels) on %s:%d, recordings in %s",
        config.channel_mode,
        config.host,
        pbx.port,
        config.spool_dir,
    )
    return pbx, pointed
