"""Trubka's settings: read once from the environment (and an optional `.env` file).

Every value has a ``TRUBKA_`` prefixed variable. Invalid values raise
:class:`SettingsError` whose message names the variable, so an admin sees
``TRUBKA_AMI_PORT: Input should be a valid integer (got 'abc')`` instead of a
traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from crm.after_call import WrapupLimits, parse_queue_limits
from kernel.call_record import DEFAULT_PBX
from supervisor.alerts import AlertThresholds
from telephony.books.cdr_table import CdrTable, CdrTableError, is_table_url
from telephony.pbxes import PbxConfig, PbxList, parse_pbxes

DEFAULT_SQLITE_PATH = Path("var/trubka.db")
SECRET_HOLDERS = frozenset({"pbxes"})  # values never echoed in an error (AMI secrets)
# The parts a node runs (`trubka serve --roles`, TRUBKA_ROLES; docs/deploy.md).
ROLES = ("ami", "agi", "web", "workers")


class SettingsError(Exception):
    """A configuration value is missing or invalid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRUBKA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(default=f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_user: str = "trubka"
    ami_secret: str = ""
    ami_ping_interval: float = Field(default=10.0, gt=0)
    ami_action_timeout: float = Field(default=10.0, gt=0)
    ami_enabled: bool = True  # false: a web-only node that does not consume AMI
    ami_connect_timeout: float = Field(default=5.0, gt=0)
    ami_reconnect_max: float = Field(default=30.0, gt=0)  # backoff cap, seconds
    ami_md5_login: bool = False  # Challenge/MD5 login instead of sending the secret
    # Several Asterisk servers (telephony.pbxes): a JSON list or a TOML file's path;
    # empty: the one PBX of TRUBKA_AMI_*, named "default".
    pbxes: str = ""
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(default=4573, ge=0, le=65535)
    agi_enabled: bool = True
    routing_rules: Path | None = None
    routing_facts_timeout: float = Field(default=0.3, gt=0, le=10)
    route_token: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    recordings_dir: Path = Path("var/recordings")
    backup_dir: Path | None = None  # where /admin/system takes backups (trubka backup's)
    recordings_spool: Path | None = None
    # Recordings (see README "Call recordings"): where the PBX writes them, how they are
    # processed, how long they are kept.
    recordings_pbx_dir: Path = Path("/var/spool/asterisk/monitor")
    recordings_format: Literal["mp3", "opus"] = "mp3"
    recordings_bitrate: int = Field(default=32, ge=8, le=320)  # kbit/s
    recordings_keep_original: bool = False
    recordings_missing_after: float = Field(default=300.0, ge=0)  # seconds after the call ended
    recordings_orphan_after: float = Field(default=3600.0, ge=0)  # seconds without a call end
    recordings_poll_interval: float = Field(default=2.0, gt=0)
    recordings_workers: int = Field(default=2, ge=1, le=64)
    recordings_peaks: int = Field(default=500, ge=50, le=2000)
    recordings_ffmpeg_timeout: float = Field(default=900.0, gt=0)
    recordings_retention_days: int = Field(default=0, ge=0)  # 0 keeps recordings forever
    recordings_retention_queues: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    default_region: str = "RU"
    internal_number_max_digits: int = Field(default=5, ge=1, le=10)
    # Click-to-call (agent panel): the agent's own phone rings first, then this dialplan
    # context dials the customer's number (digits of its E.164 form, no plus).
    click_to_call_context: str = Field(default="from-internal", min_length=1, max_length=80)
    click_to_call_timeout: float = Field(default=30.0, ge=5, le=120)  # the agent's phone rings
    # Call controls (agent panel): a colleague's extension is dialled in `transfer_context`,
    # a queue's name in `transfer_queue_context`; hold sends both sides to `hold_context`
    # (the caller to `s`, music on hold; the agent to `agent`) and unhold bridges them.
    transfer_context: str = Field(default="from-internal", min_length=1, max_length=80)
    transfer_queue_context: str = Field(default="trubka-queues", min_length=1, max_length=80)
    hold_context: str = Field(default="trubka-hold", min_length=1, max_length=80)
    secret_key: str = ""
    metrics_token: str = ""  # /metrics for non-loopback scrapers
    cookie_secure: bool = False
    log_level: str = "INFO"
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"  # see trubka.eventloop
    # Supervisor reports: the call center's local time zone (days and hours of the
    # reports) and the service-level thresholds, in seconds of queue hold time.
    timezone: str = "Europe/Moscow"
    service_level_seconds: int = Field(default=20, ge=1, le=3600)
    queue_service_levels: str = ""  # "support=30,sales=15"
    # The live view and wallboard: green at or above the service-level target (percent),
    # amber down to the warning level, red below it; the pushed updates' pace; how long
    # a supervisor's phone rings for listen/whisper/barge.
    service_level_target: float = Field(default=80.0, ge=0, le=100)
    service_level_warning: float = Field(default=70.0, ge=0, le=100)
    live_update_interval: float = Field(default=0.3, ge=0.05, le=10)
    # After-call work (docs/panel.md): seconds an agent is held out of the queues to wrap
    # a call up (0: not held), per queue "support=120,sales=30" overriding the default.
    wrapup_limit: int = Field(default=60, ge=0, le=86_400)
    queue_wrapup_limits: str = ""
    # Supervisor alerts (docs/reports.md): a caller waiting longer than this (seconds; per
    # queue "support=30"), a queue's service level under its target (percent; per queue
    # "support=90"), an agent paused longer than the reason's limit (seconds; per reason
    # "lunch=3600,break=900"; 0: no alert).
    alert_wait_seconds: int = Field(default=60, ge=1, le=86_400)
    queue_alert_wait: str = ""
    queue_service_level_targets: str = ""
    pause_limit: int = Field(default=1800, ge=0, le=86_400)
    pause_limits: str = ""
    spy_ring_seconds: float = Field(default=20.0, ge=5, le=120)
    # Asterisk's books, read to backfill calls missed while Trubka was away (empty: not read)
    asterisk_queue_log: Path | None = None
    # cdr_csv's Master.csv, or a table of cdr_pgsql's (`postgresql://…#cdr`)
    asterisk_cdr: Path | CdrTable | None = None
    asterisk_cdr_timezone: str = ""  # the zone of the CDR's times; empty: TRUBKA_TIMEZONE
    backfill_interval: float = Field(default=60.0, ge=1, le=3600)
    backfill_settle: float = Field(default=10.0, ge=0, le=600)
    # Outgoing webhooks (docs/integrations.md): the first retry's wait, doubling up to the
    # cap (with jitter), one POST's timeout, the idle poll, when a webhook failing without
    # a success is disabled and when a delivery is given up.
    webhook_backoff_initial: float = Field(default=5.0, ge=0.01, le=3600)
    webhook_backoff_max: float = Field(default=900.0, ge=0.01, le=86_400)
    webhook_timeout: float = Field(default=10.0, ge=0.1, le=300)
    webhook_poll_interval: float = Field(default=1.0, ge=0.01, le=60)
    webhook_disable_after: float = Field(default=86_400.0, ge=1, le=30 * 86_400)
    webhook_give_up_after: float = Field(default=259_200.0, ge=1, le=90 * 86_400)
    webhook_keep_days: int = Field(default=7, ge=1, le=3650)  # then finished events are purged
    # E-mail (docs/integrations.md, "E-mail"): the poller runs once a mailbox exists;
    # seconds between rounds, an attachment kept up to this many bytes, a larger letter
    # kept from its header only, one IMAP/SMTP command's timeout.
    mail_enabled: bool = True
    mail_poll_interval: float = Field(default=60.0, ge=0.05, le=86_400)
    mail_max_attachment: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    mail_max_letter: int = Field(default=30 * 1024 * 1024, ge=1024, le=4 * 1024**3)
    mail_timeout: float = Field(default=30.0, ge=0.5, le=600)
    # Inbound leads (docs/integrations.md): the login of the user who owns new contacts
    # and gets the task of a lead whose contact has no owner ("" : the token's admin).
    lead_assignee: str = Field(default="", max_length=64)
    # Security (docs/security.md): who may open `/ws` from a browser, how large a request
    # body may be, how many sockets a session and a user may hold, and uvicorn's limits.
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    ws_max_per_session: int = Field(default=10, ge=1, le=1000)
    ws_max_per_user: int = Field(default=20, ge=1, le=10_000)
    http_header_timeout: float = Field(default=10.0, gt=0, le=300)
    http_max_header_bytes: int = Field(default=32 * 1024, ge=4096, le=1024 * 1024)
    http_max_connections: int = Field(default=2000, ge=1, le=1_000_000)
    # Several nodes on one PostgreSQL database (docs/architecture.md "Cluster"): pops and
    # live views between them over LISTEN/NOTIFY. auto: on with PostgreSQL, off with SQLite.
    cluster: Literal["auto", "true", "false"] = "auto"
    http_keep_alive: int = Field(default=5, ge=1, le=300)
    forwarded_allow_ips: str = "127.0.0.1"  # proxies whose X-Forwarded-For/-Proto are trusted
    # Several nodes (docs/deploy.md): the parts this node runs, its name in health and
    # metrics (empty: host:pid), and the AMI consumer's lease in PostgreSQL.
    roles: Annotated[frozenset[str], NoDecode] = frozenset(ROLES)
    node_name: str = Field(default="", max_length=100)
    # `trubka serve` lowers its CPU priority by this much (Linux niceness, 0–19): a
    # `workers` node sharing a host with the nodes that pop (docs/deploy.md).
    nice: int = Field(default=0, ge=0, le=19)
    # The rules worker in a process of its own beside the node's (trubka.rules_process):
    # a heavy rule load then runs on another core than the screen pop (docs/deploy.md).
    rules_process: bool = False
    # its CPU priority: idle (Linux SCHED_IDLE: only the CPU time the pops, the PBX and
    # everything else of the host leave; the queue waits meanwhile) or normal
    rules_process_priority: Literal["idle", "normal"] = "idle"
    ami_lease_ttl: float = Field(default=3.0, ge=0.5, le=60)
    ami_lease_interval: float = Field(default=1.0, ge=0.1, le=20)

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, value: Any) -> Any:
        return parse_roles(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _lease_renewed_in_time(self) -> Settings:
        if self.ami_lease_interval * 2 > self.ami_lease_ttl:
            raise ValueError(
                "TRUBKA_AMI_LEASE_INTERVAL must be at most half of TRUBKA_AMI_LEASE_TTL"
            )
        return self

    @field_validator("recordings_retention_queues", mode="before")
    @classmethod
    def _retention_queues(cls, value: Any) -> Any:
        return parse_queue_days(value) if isinstance(value, str) else value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        items = value.split(",") if isinstance(value, str) else value
        return tuple(parse_origin(str(item)) for item in items if str(item).strip())

    @field_validator("pbxes")
    @classmethod
    def _pbxes(cls, value: str) -> str:
        if value.strip():
            parse_pbxes(value)
        return value.strip()

    def pbx_list(self) -> PbxList:
        """The PBXes Trubka serves: TRUBKA_PBXES, else one "default" of TRUBKA_AMI_*."""
        if self.pbxes:
            return PbxList(parse_pbxes(self.pbxes))
        return PbxList(
            (
                PbxConfig(
                    name=DEFAULT_PBX,
                    ami_host=self.ami_host,
                    ami_port=self.ami_port,
                    ami_user=self.ami_user,
                    ami_secret=self.ami_secret,
                    ami_md5_login=self.ami_md5_login,
                    recordings_spool=self.recordings_spool,
                ),
            )
        )

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region code {value!r} (use ISO 3166 codes such as RU, DE)")
        return region

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("routing_rules", "backup_dir", mode="before")
    @classmethod
    def _no_rules_file(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("asterisk_queue_log", "asterisk_cdr", mode="before")
    @classmethod
    def _book_path(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and value.strip().lower().startswith(("postgres", "odbc")):
            if info.field_name != "asterisk_cdr" or not is_table_url(value):
                raise ValueError(
                    "a database table is read for the CDR only, from PostgreSQL "
                    "(postgresql://user:password@host/db#cdr); otherwise name a file "
                    "(e.g. /var/log/asterisk/cdr-csv/Master.csv)"
                )
            try:
                return CdrTable.parse(value)
            except CdrTableError as exc:
                raise ValueError(str(exc)) from None
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("timezone", "asterisk_cdr_timezone")
    @classmethod
    def _known_timezone(cls, value: str, info: ValidationInfo) -> str:
        name = value.strip()
        if not name and info.field_name == "asterisk_cdr_timezone":
            return name
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use IANA names such as Europe/Moscow)"
            ) from exc
        return name

    @field_validator("queue_service_levels")
    @classmethod
    def _queue_levels(cls, value: str) -> str:
        parse_queue_service_levels(value)
        return value.strip()

    @field_validator(
        "queue_wrapup_limits", "queue_alert_wait", "queue_service_level_targets", "pause_limits"
    )
    @classmethod
    def _name_seconds(cls, value: str) -> str:
        parse_queue_limits(value)
        return value.strip()

    @field_validator("queue_service_level_targets")
    @classmethod
    def _percent(cls, value: str) -> str:
        for name, percent in parse_queue_limits(value).items():
            if percent > 100:
                raise ValueError(f"{name}={percent}: a target is a percent, at most 100")
        return value

    def wrapup_limits(self) -> WrapupLimits:
        """TRUBKA_WRAPUP_LIMIT with TRUBKA_QUEUE_WRAPUP_LIMITS' per-queue limits."""
        return WrapupLimits(self.wrapup_limit, parse_queue_limits(self.queue_wrapup_limits))

    def alert_thresholds(self) -> AlertThresholds:
        """The supervisor alerts' thresholds (docs/reports.md, "Alerts")."""
        return AlertThresholds.create(
            wait_seconds=self.alert_wait_seconds,
            queue_wait=parse_queue_limits(self.queue_alert_wait),
            service_level_target=self.service_level_target,
            queue_service_level_targets=parse_queue_limits(self.queue_service_level_targets),
            pause_limit=self.pause_limit,
            pause_limits=parse_queue_limits(self.pause_limits),
            wrapup_limit=self.wrapup_limit,
            queue_wrapup_limits=parse_queue_limits(self.queue_wrapup_limits),
        )

    @property
    def cluster_enabled(self) -> bool:
        """Live messages go between nodes (PostgreSQL, unless TRUBKA_CLUSTER=false)."""
        return self.cluster != "false" and not self.database_url.startswith("sqlite")

    @field_validator("cluster", mode="before")
    @classmethod
    def _cluster(cls, value: object) -> object:
        if isinstance(value, bool):
            return "true" if value else "false"
        text = str(value).strip().lower()
        return {
            "1": "true",
            "yes": "true",
            "on": "true",
            "0": "false",
            "no": "false",
            "off": "false",
        }.get(text, text)

    @model_validator(mode="after")
    def _cluster_needs_postgres(self) -> Settings:
        if self.cluster == "true" and self.database_url.startswith("sqlite"):
            raise ValueError(
                "TRUBKA_CLUSTER: several nodes need PostgreSQL (TRUBKA_DATABASE_URL); "
                "SQLite serves one node"
            )
        return self

    @model_validator(mode="after")
    def _warning_below_target(self) -> Settings:
        if self.service_level_warning > self.service_level_target:
            raise ValueError(
                "TRUBKA_SERVICE_LEVEL_WARNING must not be above TRUBKA_SERVICE_LEVEL_TARGET"
            )
        return self

    def service_levels(self) -> dict[str, int]:
        """Per-queue service-level thresholds from `TRUBKA_QUEUE_SERVICE_LEVELS`."""
        return parse_queue_service_levels(self.queue_service_levels)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


def parse_queue_days(text: str) -> dict[str, int]:
    """`support=90, sales=365` (or a JSON object) → {"support": 90, "sales": 365}."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise ValueError("expected a JSON object of queue name to days")
        return {str(k): _days(str(k), v) for k, v in loaded.items()}
    result: dict[str, int] = {}
    for part in text.split(","):
        name, sep, days = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected QUEUE=DAYS pairs separated by commas, got {part.strip()!r}")
        result[name.strip()] = _days(name.strip(), days.strip())
    return result


def _days(queue: str, value: Any) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"retention for queue {queue!r} is not a whole number of days") from None
    if days < 0:
        raise ValueError(f"retention for queue {queue!r} must be 0 (keep forever) or more days")
    return days


def parse_queue_service_levels(value: str) -> dict[str, int]:
    """`support=30,sales=15` → {"support": 30, "sales": 15}; a clear error otherwise."""
    levels: dict[str, int] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        queue, sep, seconds = item.rpartition("=")
        queue = queue.strip()
        if not sep or not queue:
            raise ValueError(f"expected QUEUE=SECONDS pairs separated by commas, got {item!r}")
        try:
            number = int(seconds.strip())
        except ValueError as exc:
            raise ValueError(
                f"{queue}: {seconds.strip()!r} is not a whole number of seconds"
            ) from exc
        if not 1 <= number <= 3600:
            raise ValueError(f"{queue}: the threshold must be between 1 and 3600 seconds")
        levels[queue] = number
    return levels


def parse_roles(text: str) -> frozenset[str]:
    """`ami,web` → {"ami", "web"}; `all` (or nothing) → every role."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names or names == ["all"]:
        return frozenset(ROLES)
    unknown = [name for name in names if name not in ROLES]
    if unknown:
        raise ValueError(
            f"unknown role {unknown[0]!r} (use a comma-separated list of {', '.join(ROLES)})"
        )
    return frozenset(names)


def parse_origin(text: str) -> str:
    """`https://CRM.example.com/` → `https://crm.example.com` (scheme://host[:port])."""
    origin = text.strip().rstrip("/").lower()
    scheme, sep, rest = origin.partition("://")
    if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
        raise ValueError(f"{text.strip()!r} is not an origin such as https://crm.example.com")
    return origin


def normalize_database_url(url: str) -> str:
    """Map plain `sqlite://` and `postgresql://` URLs to their asyncio drivers."""
    url = url.strip()
    if url.startswith("sqlite:///") or url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    raise ValueError("expected a sqlite:/// or postgresql:// URL")


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation errors into one readable message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            variable = f"TRUBKA_{field.upper()}"
            raw = os.environ.get(variable, error.get("input"))
            message = error["msg"].removeprefix("Value error, ")
            if field in SECRET_HOLDERS:  # the message names the fault; the value may hold secrets
                problems.append(f"{variable}: {message}")
                continue
            problems.append(f"{variable}: {message} (got {raw!r})")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from exc
