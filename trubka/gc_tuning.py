"""The garbage collector of a serving node (`trubka serve`).

CPython's cyclic collector stops the event loop while it runs, and a full (generation 2)
collection walks every tracked object that is not frozen. On a node with hundreds of
sockets that heap holds 100 000 objects and more (each socket's protocol, task, queue and
frames; the live state; the cluster relay's picture), and a full collection stalled the
loop — and every screen pop waiting on it — for tens of milliseconds, every few seconds
under 50 calls/s: the tail of the pops' latency.

Two measures, applied once the app is built and before the loop runs:

* :func:`freeze_startup`: what start-up built (SQLAlchemy, FastAPI, phone metadata, the
  app: some 150 000 objects, alive until exit) is collected once and frozen, so no
  collection walks it again.
* :func:`tune`: the young generation is collected every `YOUNG` net allocations instead
  of 700. At 700 a collection ran every few milliseconds under load, and every object
  alive across an `await` at that moment (a pop waiting for its card, a query in flight)
  was promoted; promoted objects are what triggers a full collection (CPython runs one
  when the objects promoted since the last one exceed a quarter of the old generation).
  With a larger young generation such short-lived objects die by reference counting
  before a collection sees them, so full collections become rare. A young collection
  costs what is alive in the young generation, not its threshold, so it stays short.

Memory stays bounded: cyclic garbage is still found (young cycles within `YOUNG`
allocations, older ones by the same full-collection rule as before); nothing is frozen
after start-up, so a closed socket's cycles are collected.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # net allocations between young collections (CPython's default: 700)
MIDDLE = 20  # young collections between middle ones (default: 10)
OLD = 10  # middle collections before a full one is considered (default: 10)


def freeze_startup() -> None:
    """Collect once and move every surviving object out of the collector's sight."""
    gc.collect()
    gc.freeze()


def tune(young: int = YOUNG, middle: int = MIDDLE, old: int = OLD) -> None:
    gc.set_threshold(young, middle, old)
