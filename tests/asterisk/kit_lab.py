"""The real Asterisk 22.10.1 of the shared lab kit, and Trubka run against it.

`LabPbx` starts the kit's Asterisk (PJSIP, real baresip phones 201–203 and supervisor
209, a SIP carrier) in a folder of its own; `TrubkaNode` runs `trubka serve` as a real
process against it, so tests can kill it (`kill -9`), stop it (`SIGSTOP`) and start it
again. The kit lives in `../shared/asterisk/lab` beside the project (`ASTERISK_LAB`
names another place); a missing kit fails the tests in CI and skips them elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit_server import free_port

ROOT = Path(__file__).resolve().parents[2]
LAB = Path(os.environ.get("ASTERISK_LAB", ROOT.parent / "shared" / "asterisk" / "lab"))
PASSWORD = "lab-password-1"


def lab_or_skip() -> Path:
    """The kit's folder; without it: a failure in CI, a skip elsewhere."""
    if not (LAB / "start.sh").exists():
        message = f"the real Asterisk kit is not at {LAB} (set ASTERISK_LAB)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return LAB


def in_its_second(moment: float, whole: float) -> bool:
    """`whole` is a time Asterisk's books keep in whole seconds (queue_log and CDR cut
    the fraction off), `moment` the one Trubka took from Asterisk's events: at most a
    second apart, as the tests always allowed, plus, after the book's second, the
    milliseconds between Asterisk writing the book and sending the event (78.001 for a
    book's 77 is such a moment: 1.001 s later, and right)."""
    return -1.0 <= moment - whole <= 1.1


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """Poll `check` until it returns something truthy (the kit's files and processes give
    no event to await); fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class LabPbx:
    folder: Path
    env: dict[str, str]
    phones: Any  # the kit's phones.Phones

    @staticmethod
    def start(folder: Path) -> LabPbx:
        lab = lab_or_skip()
        result = subprocess.run(
            [str(lab / "start.sh"), str(folder)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"the Asterisk kit did not start:\n{result.stderr[-3000:]}")
        sys.path.insert(0, str(lab))
        import phones  # the kit's own module (stdlib only)

        env = phones.read_env(str(folder))
        kit = phones.Phones(str(folder))
        up = kit.up(["201", "202", "203", "209"])
        assert up["ok"], up
        return LabPbx(folder, env, kit)

    def stop(self) -> None:
        try:
            self.phones.down()
        finally:
            subprocess.run([str(LAB / "stop.sh"), str(self.folder)], check=False)

    @property
    def queue_log(self) -> Path:
        return Path(self.env["QUEUE_LOG"])

    @property
    def master_csv(self) -> Path:
        return Path(self.env["CDR_CSV"])

    @property
    def recordings(self) -> Path:
        return Path(self.env["RECORDINGS"])

    def queue_log_lines(self) -> list[str]:
        return self.queue_log.read_text().splitlines() if self.queue_log.exists() else []

    def set_answer_after(
        self, seconds: float, agents: tuple[str, ...] = ("201", "202", "203")
    ) -> None:
        """How long the agents' phones ring before they answer (auto answer)."""
        for agent in agents:
            result = self.phones.set(agent, answer="auto", answer_after=seconds)
            assert result.get("ok", True), result

    def wait_idle(self, timeout: float = 60.0) -> dict[str, Any]:
        status: dict[str, Any] = self.phones.wait(timeout)
        return status


@dataclass
class TrubkaNode:
    """`trubka serve` in a folder of its own, against a `LabPbx`."""

    folder: Path
    pbx: LabPbx
    http_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    database_url: str = ""  # empty: a SQLite file in `folder`
    process: subprocess.Popen[bytes] | None = None
    _log_start: int = 0

    @property
    def env(self) -> dict[str, str]:
        pbx = self.pbx.env
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUBKA_")}
        env.update(
            PYTHONPATH=str(ROOT),
            TRUBKA_DATABASE_URL=self.database_url or f"sqlite:///{self.folder / 'trubka.db'}",
            TRUBKA_AMI_PORT=pbx["AMI_PORT"],
            TRUBKA_AMI_SECRET=pbx["AMI_SECRET"],
            TRUBKA_AMI_PING_INTERVAL="2",
            TRUBKA_AGI_PORT=pbx["AGI_PORT"],
            TRUBKA_HTTP_PORT=str(self.http_port),
            TRUBKA_RECORDINGS_SPOOL=pbx["RECORDINGS"],
            TRUBKA_RECORDINGS_PBX_DIR=pbx["RECORDINGS"],
            TRUBKA_RECORDINGS_DIR=str(self.folder / "recordings"),
            TRUBKA_TIMEZONE="UTC",
            TRUBKA_ASTERISK_QUEUE_LOG=pbx["QUEUE_LOG"],
            TRUBKA_ASTERISK_CDR=pbx["CDR_CSV"],
            TRUBKA_BACKFILL_INTERVAL="2",
            TRUBKA_BACKFILL_SETTLE="3",
            TRUBKA_SECRET_KEY="lab-secret-key",
        )
        env.update(self.extra_env)
        return env

    def cli_result(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trubka", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "trubka", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def add_users(self) -> None:
        for ext in ("201", "202", "203"):
            self.cli(
                "user", "add", "--role", "agent", "--name", f"Agent {ext}", "--login",
                f"agent{ext}", "--password", PASSWORD, "--interface", f"PJSIP/{ext}",
                "--queue", "support",
            )  # fmt: skip
        self.cli(
            "user", "add", "--role", "supervisor", "--name", "Supervisor", "--login",
            "supervisor", "--password", PASSWORD, "--interface", "PJSIP/209",
        )  # fmt: skip
        self.cli(
            "user", "add", "--role", "admin", "--name", "Admin", "--login", "admin",
            "--password", PASSWORD,
        )  # fmt: skip

    @property
    def log_path(self) -> Path:
        return self.folder / "serve.log"

    def log_since_start(self) -> str:
        with self.log_path.open("rb") as f:
            f.seek(self._log_start)
            return f.read().decode("utf-8", errors="replace")

    def start(self, *, consuming: bool = True) -> None:
        """Start `trubka serve`; wait until it consumes AMI, or (`consuming=False`: a
        standby node of several on PostgreSQL) until it answers HTTP."""
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "trubka", "serve"],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if consuming:
            wait_for(self._ami_connected, 30, "Trubka to connect to Asterisk")
        else:
            wait_for(self._started, 30, "Trubka to start")

    def _started(self) -> bool:
        text = self.log_since_start()
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"trubka serve exited:\n{text[-3000:]}")
        if "Application startup complete" not in text:
            return False
        try:  # uvicorn binds its port after the start-up: started once it answers
            httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2)
        except httpx.TransportError:
            return False
        return True

    def _ami_connected(self) -> bool:
        text = self.log_since_start()
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"trubka serve exited:\n{text[-3000:]}")
        return "Application startup complete" in text and "AMI: connected" in text

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        """`kill -9`: nothing gets a chance to finish."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def calls(self) -> list[dict[str, Any]]:
        out = self.cli("calls", "--json", "--limit", "1000")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def call(self, linkedid: str, timeout: float = 20.0) -> dict[str, Any]:
        def stored() -> dict[str, Any] | None:
            return next((c for c in self.calls() if c["linkedid"] == linkedid), None)

        found: dict[str, Any] = wait_for(stored, timeout, f"call {linkedid} in Trubka", 1.0)
        return found


def node_fixture(tmp_path: Path, pbx: LabPbx, database_url: str = "") -> Iterator[TrubkaNode]:
    node = TrubkaNode(tmp_path / "trubka", pbx, database_url=database_url)
    node.folder.mkdir()
    node.add_users()
    node.start()
    try:
        yield node
    finally:
        node.stop()
