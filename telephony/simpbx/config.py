"""What the simulated PBX is configured with: agents, queues, customers and timings.

The defaults mirror the lab Asterisk the traces were recorded on (`tests/traces/lab-config`):
agents are `Local/1XX@agents/n` queue members, customers call `Local/<number>@from-trunk`,
the inbound dialplan records with MixMonitor, asks the FastAGI server where to route,
dials the routed agent and falls back to the queue. `channel_mode="pjsip"` plays the
PJSIP lab instead (SIP phones `PJSIP/2XX` as queue members, a SIP trunk for customers).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from telephony.simpbx.wire import LegacyText

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
AMI_VERSION = "11.0.0"
ASTERISK_VERSION = "22.10.1"
RECORDINGS_PATH = "/var/lib/asterisk/recordings"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    number: str  # extension, e.g. "101"
    name: str  # MemberName, e.g. "Анна Смирнова"
    queues: tuple[str, ...] = ("support",)
    answers: bool = True  # picks up when rung
    answer_delay: float | None = None  # seconds of ringing before answering (None: timing default)
    technology: str = "Local"  # "PJSIP": a SIP phone, the queue member is `PJSIP/<number>`

    @property
    def interface(self) -> str:
        """The queue member interface, as Asterisk names it in queue events."""
        if self.technology == "PJSIP":
            return f"PJSIP/{self.number}"
        return f"Local/{self.number}@agents/n"

    @property
    def device(self) -> str:
        if self.technology == "PJSIP":
            return f"PJSIP/{self.number}"
        return f"Local/{self.number}@agents"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    strategy: str = "rrmemory"  # rrmemory | ringall
    timeout: float = 8.0  # ring each agent this long
    retry: float = 2.0  # wait before ringing again
    wrapup: float = 2.0  # an agent is not rung this long after a call
    max_wait: float = 120.0  # Queue(...,120): leave with QUEUESTATUS=TIMEOUT
    service_level: int = 30


@dataclass(frozen=True, slots=True)
class Customer:
    number: str
    name: str  # a LegacyText name goes on the wire as cp1251


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds. Tests shrink all of them; the demo keeps them human."""

    call_interval: float = 3.0  # a new customer call every … (0 disables the generator)
    answer_delay: tuple[float, float] = (1.0, 4.0)  # agent rings this long before answering
    talk_time: tuple[float, float] = (6.0, 40.0)
    patience: tuple[float, float] = (8.0, 60.0)  # a caller waits this long, then hangs up
    agent_hangup_share: float = 0.3  # share of answered calls the agent ends
    transfer_share: float = 0.05  # share of answered calls the agent blind-transfers
    no_answer_share: float = 0.1  # share of rings an agent lets go unanswered
    agi_timeout: float = 2.0  # FastAGI connect + conversation deadline
    auth_fail_delay: float = 1.0  # Asterisk answers a bad Login after about a second
    remote_answer_delay: float = 2.0  # the PSTN party of a click-to-call answers after …
    remote_talk_time: float = 8.0  # … and talks this long
    step: float = 0.0  # pause between dialplan steps (0: events of one step in one burst)


RUSSIAN_NAMES = (
    "Иван Петров",
    "Ольга Смирнова",
    "Сергей Кузнецов",
    "Мария Волкова",
    "Дмитрий Соколов",
    "Анна Попова",
    "Алексей Лебедев",
    "Елена Козлова",
    "Наталья Новикова",
    "Павел Морозов",
    "ООО «Ромашка»",
    "Татьяна Фёдорова",
)
ENGLISH_NAMES = (
    "John Smith",
    "Emily Clark",
    "Michael Brown",
    "Sarah Wilson",
    "Acme Ltd",
)
DEMO_AGENTS = (
    AgentConfig("101", "Анна Смирнова", ("support",)),
    AgentConfig("102", "Борис Иванов", ("support",)),
    AgentConfig("103", "Виктория Орлова", ("support", "sales")),
    AgentConfig("104", "Григорий Павлов", ("sales",)),
    AgentConfig("105", "Дарья Кузнецова", ("sales", "support")),
)
DEMO_QUEUES = (
    QueueConfig("support", strategy="rrmemory", timeout=8.0, wrapup=2.0),
    QueueConfig("sales", strategy="ringall", timeout=8.0, wrapup=0.0),
)


def demo_customers(count: int = 40) -> tuple[Customer, ...]:
    """Moscow and mobile numbers with Russian and English names, one of them cp1251."""
    customers: list[Customer] = []
    for i in range(count):
        if i % 3 == 0:
            number = f"7495{1110000 + i:07d}"
        elif i % 3 == 1:
            number = f"8916{5550000 + i:07d}"  # Russian domestic 8-format
        else:
            number = f"7926{3330000 + i:07d}"
        if i % 5 == 4:
            name: str = ENGLISH_NAMES[i % len(ENGLISH_NAMES)]
        else:
            name = RUSSIAN_NAMES[i % len(RUSSIAN_NAMES)]
        if i % 11 == 7:
            name = LegacyText(name if not name.isascii() else RUSSIAN_NAMES[1])
        if i % 13 == 12:
            name = ""  # no caller name at all: the dialplan shows "Customer <number>"
        customers.append(Customer(number, name))
    return tuple(customers)


@dataclass(frozen=True, slots=True)
class SimConfig:
    username: str = "trubka"
    secret: str = "trubka-secret"
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port, read it back from SimPbx.port
    agents: tuple[AgentConfig, ...] = DEMO_AGENTS
    queues: tuple[QueueConfig, ...] = DEMO_QUEUES
    customers: tuple[Customer, ...] = field(default_factory=demo_customers)
    default_queue: str = "support"
    agi_url: str | None = None  # agi://host:port/route; None: no AGI step
    # Further FastAGI hosts, tried in order while AGI() ends with AGISTATUS=FAILURE, all
    # within the one agi_timeout (the sample dialplan's second host, asterisk_conf/).
    agi_fallback_urls: tuple[str, ...] = ()
    timing: Timing = field(default_factory=Timing)
    seed: int | None = None  # a seeded RNG makes the call mix reproducible
    spool_dir: Path | None = None  # write real WAV recordings here
    recordings_path: str = RECORDINGS_PATH  # the path Asterisk reports in MIXMONITOR_FILENAME
    record: bool = True  # MixMonitor every inbound call
    # A Redirect to this context is hold (the dialplan of asterisk_conf/: `s` plays music on
    # hold to the caller, `agent` waits); a Bridge of the two channels ends it.
    hold_context: str = "trubka-hold"
    # A blind transfer to a queue's name in this context puts the caller in that queue.
    queue_transfer_context: str = "trubka-queues"
    # Asterisk's books, written when named (telephony.simpbx.books): CDR times in UTC.
    queue_log_path: Path | None = None  # like /var/log/asterisk/queue_log
    cdr_csv_path: Path | None = None  # like /var/log/asterisk/cdr-csv/Master.csv
    # "local": agents are `Local/1XX@agents/n` and every call leg is a `;1/;2` Local pair.
    # "pjsip": agents are SIP phones (`PJSIP/201`), customers come in on a SIP trunk
    # (`PJSIP/trunk-0000000f`): one channel per leg, named and sequenced like the `p*` traces.
    channel_mode: str = "local"
    trunk_did: str = "74951234567"  # PJSIP mode: the number customers dial (the trunk's Exten)
    # queues.conf's [general] persistentmembers (GetConfig): Asterisk's default is off
    persistent_members: bool = False

    def __post_init__(self) -> None:
        if self.channel_mode not in ("local", "pjsip"):
            raise ValueError(f"channel_mode must be 'local' or 'pjsip', not {self.channel_mode!r}")
        if self.pjsip:
            agents = tuple(dataclasses.replace(a, technology="PJSIP") for a in self.agents)
            object.__setattr__(self, "agents", agents)

    @property
    def pjsip(self) -> bool:
        return self.channel_mode == "pjsip"
