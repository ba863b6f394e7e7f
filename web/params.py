"""Bounded integer parameters for routes: a bad id is a 422, never a database overflow.

Ids are at most 2**53 (as `crm.schemas.Id`: the largest integer a JSON number carries
exactly); a path or query id outside 1…2**53 is refused before any query runs — SQLite
and PostgreSQL hold 64-bit integers, and a larger one failed as a 500. Paging numbers
(`limit`, `offset`) are bounded the same way; their routes check their own ranges.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**53

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
PageNumber = Annotated[int, Query(ge=-MAX_ID, le=MAX_ID)]
