"""Profiling aid: the CPU one routing decision costs on the FastAGI server's own path,
in-process and deterministic (no sockets, no client in the measurement).

It builds the app's composition as `bench/routing_agi.py --source memory` does (the same
facts in memory, the live state of trace 02, the VIP rule), then drives FastAGI sessions
straight through the server's protocol object: the environment in one read, the routing
task awaited, each ``SET VARIABLE`` answered ``200 result=1`` — the caller mix of the
bench (70 % known, 20 % unknown, 10 % anonymous), prepared before the clock starts.

    python bench/routing_profile.py                      # CPU µs per decision (3 rounds)
    python bench/routing_profile.py --profile calls.txt  # + cProfile call counts per function
    python bench/routing_profile.py --root OTHER_CHECKOUT --profile base.txt
    python bench/routing_profile.py --diff base.txt calls.txt

`--root` runs another checkout of Trubka (an older commit, with its own interpreter) so
two trees can be compared by the same script; `--diff` prints the functions whose calls
per decision differ between two `--profile` files.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
OK = b"200 result=1\n"


class _Transport:
    """Just enough of an asyncio transport for a FastAGI session."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += 1

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


def _build(root: Path, contacts: int) -> tuple[Any, Any]:
    """The app's services as the routing bench builds them, and its module (for the
    caller mix)."""
    import logging

    logging.disable(logging.WARNING)
    sys.path.insert(0, str(root))
    sys.path.insert(0, str(root / "bench"))
    bench = importlib.import_module("routing_agi")
    from routing.rules import parse_rules
    from trubka.settings import load_settings

    try:
        services_module = importlib.import_module("trubka.wiring")
    except ModuleNotFoundError:
        services_module = importlib.import_module("trubka.services")
    from crm.database import upgrade

    url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/profile.db"
    upgrade(url)
    settings = load_settings(database_url=url, agi_host="127.0.0.1", agi_port=0)
    services = services_module.Services.create(settings)
    services.router.rules = parse_rules({"vip": {"vip": 10}})
    services.use_facts_source(bench._memory_source(contacts))
    return services, bench


def _environments(bench: Any, contacts: int, count: int) -> list[bytes]:
    callers = bench.Callers("memory", 0, contacts)
    rng = random.Random(7)
    return [
        bench.ENV_TEMPLATE.format(num=callers.pick(rng), uid=f"1.{n}").encode()
        for n in range(count)
    ]


async def _drive(services: Any, envs: list[bytes]) -> None:
    from telephony.agi_server import _DONE, _Session

    server = services.agi
    for env in envs:
        transport = _Transport()
        session = _Session(server)
        session.connection_made(transport)  # type: ignore[arg-type]
        session.data_received(env)
        task = session.task
        if task is not None:
            await task
        while session.phase != _DONE:
            session.data_received(OK)
        session.connection_lost(None)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(args: argparse.Namespace) -> None:
    root = Path(args.root).resolve()
    services, bench = _build(root, args.contacts)
    envs = _environments(bench, args.contacts, args.decisions)
    loop = _new_loop()
    try:

        async def prepare() -> None:
            bench._feed_live_state(services.live)
            await services.crm.directory.snapshot()
            await _drive(services, envs[:2000])  # warm the caches

        loop.run_until_complete(prepare())
        if args.no_gc:
            gc.disable()
        for round_ in range(args.rounds):
            collections = [g["collections"] for g in gc.get_stats()]
            started = time.process_time()
            loop.run_until_complete(_drive(services, envs))
            cpu = time.process_time() - started
            ran = [g["collections"] - c for g, c in zip(gc.get_stats(), collections, strict=True)]
            print(
                f"{root.name}: round {round_ + 1}: {cpu / len(envs) * 1e6:.2f} µs per decision "
                f"(gc collections per 10,000 decisions by generation: "
                f"{', '.join(f'{n * 10_000 / len(envs):.0f}' for n in ran)})"
            )
        gc.enable()
        if args.profile:
            profiler = cProfile.Profile()
            some = envs[: args.profiled]
            profiler.enable()
            loop.run_until_complete(_drive(services, some))
            profiler.disable()
            _write_profile(profiler, root, len(some), Path(args.profile))
        decisions = dict(services.router.stats.decisions)
        print(f"{root.name}: decisions by routed_by {decisions}")
    finally:
        loop.close()


def _where(root: Path, filename: str, line: int, name: str) -> str:
    path = filename
    for prefix in (str(root) + "/", sys.prefix + "/"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    return f"{path}:{name}"


def _write_profile(profiler: cProfile.Profile, root: Path, decisions: int, out: Path) -> None:
    """Calls, own time and cumulative time per decision for each function, one per line."""
    stats = pstats.Stats(profiler)
    rows: dict[str, list[float]] = {}
    total_calls = 0
    for (filename, line, name), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = _where(root, filename, line, name)
        row = rows.setdefault(key, [0.0, 0.0, 0.0])
        row[0] += nc / decisions
        row[1] += tt / decisions * 1e6
        row[2] += ct / decisions * 1e6
        total_calls += nc
    lines = [f"# {decisions} decisions, {total_calls / decisions:.1f} function calls each"]
    for key, (calls, own, cum) in sorted(rows.items(), key=lambda kv: -kv[1][2]):
        lines.append(f"{calls:9.3f}\t{own:9.3f}\t{cum:9.3f}\t{key}")
    out.write_text("\n".join(lines) + "\n")
    print(f"{root.name}: {total_calls / decisions:.1f} function calls per decision → {out}")


def _read(path: Path) -> tuple[str, dict[str, tuple[float, float, float]]]:
    head, *body = path.read_text().splitlines()
    rows = {}
    for line in body:
        calls, own, cum, key = line.split("\t")
        rows[key] = (float(calls), float(own), float(cum))
    return head, rows


def diff(before: Path, after: Path) -> None:
    head_a, a = _read(before)
    head_b, b = _read(after)
    print(f"before {head_a}\nafter  {head_b}")
    print(f"{'calls before':>12} {'after':>8} {'cum µs before':>14} {'after':>8}  function")
    for key in sorted(set(a) | set(b), key=lambda k: -(b.get(k, (0, 0, 0))[2])):
        ca, _, cua = a.get(key, (0.0, 0.0, 0.0))
        cb, _, cub = b.get(key, (0.0, 0.0, 0.0))
        if abs(ca - cb) > 0.001:
            print(f"{ca:12.3f} {cb:8.3f} {cua:14.2f} {cub:8.2f}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default=str(HERE), help="the Trubka checkout to measure")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", metavar="FILE", help="write per-function call counts")
    parser.add_argument("--profiled", type=int, default=10_000, help="decisions profiled")
    parser.add_argument("--no-gc", action="store_true", help="measure with the collector off")
    parser.add_argument("--diff", nargs=2, metavar=("BEFORE", "AFTER"), type=Path)
    args = parser.parse_args()
    if args.diff:
        diff(*args.diff)
    else:
        run(args)


if __name__ == "__main__":
    main()
