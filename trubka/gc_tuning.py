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
* :func:`tune`: a full collection is considered after `OLD` = 100 collections of the
  middle generation instead of 10. The young and middle generations are collected as
  before (700 net allocations; their pauses are short: they walk only what is young).
  What made the full collections frequent were the objects that live a few seconds —
  a call's state, a pop waiting for its card, a socket's pending messages: they outlive
  the middle generation and are promoted, and CPython runs a full collection whenever
  the objects promoted since the last one exceed a quarter of the old generation: every
  few seconds at 50 calls/s. They die by reference counting anyway; now a full
  collection runs at most once per 100 middle ones (about a minute at 50 calls/s,
  where it was every few seconds).
  (Raising the young threshold instead does not help: the counter is net allocations,
  so a young collection then walks that many live objects, tens of milliseconds.)

Memory stays bounded: reference counting frees almost everything; cyclic garbage is
still found by the young and middle collections while it is young, and what reached the
old generation waits for the next full collection, at most `OLD` middle collections
away (a minute's worth, where it was seconds'; a larger `OLD` would trade more memory
for still rarer pauses). Nothing is frozen after start-up, so a closed socket's cycles
are collected.
"""

from __future__ import annotations

import gc

YOUNG = 700  # net allocations between young collections (CPython's default)
MIDDLE = 10  # young collections between middle ones (CPython's default)
OLD = 100  # middle collections before a full one is considered (CPython's: 10)


def freeze_startup() -> None:
    """Collect once and move every surviving object out of the collector's sight."""
    gc.collect()
    gc.freeze()


def tune(young: int = YOUNG, middle: int = MIDDLE, old: int = OLD) -> None:
    gc.set_threshold(young, middle, old)
