"""Tasks made for a missed call by hand (`tasks.call_linkedid`), the supervisor's view.

A task belongs to a missed call when its `call_linkedid` is the call's linkedid. When a
call has several, the callback task (`kind = call_back`) counts before other kinds, a
done one before an open one, then the newest. `done_by` is the login of the task's
assignee once the task is done (the CRM does not record who closed it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select

from crm.database import Database
from crm.models import Task, TaskKind, TaskStatus, User
from supervisor.missed import CallbackTask

BATCH = 500


def _rank(kind: str, status: str, task_id: int) -> tuple[int, int, int]:
    return (
        0 if kind == TaskKind.CALL_BACK.value else 1,
        0 if status == TaskStatus.DONE.value else 1,
        -task_id,
    )


class TasksOfCalls:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def for_calls(self, linkedids: Sequence[str]) -> Mapping[str, CallbackTask]:
        wanted = sorted({lid for lid in linkedids if lid})
        best: dict[str, tuple[tuple[int, int, int], CallbackTask]] = {}
        async with self.db.session() as session:
            for i in range(0, len(wanted), BATCH):
                rows = await session.execute(
                    select(
                        Task.id,
                        Task.call_linkedid,
                        Task.kind,
                        Task.status,
                        Task.due_at,
                        Task.completed_at,
                        User.login,
                    )
                    .outerjoin(User, User.id == Task.assignee_id)
                    .where(Task.call_linkedid.in_(wanted[i : i + BATCH]))
                )
                for task_id, linkedid, kind, status, due_at, completed_at, login in rows:
                    if linkedid is None:
                        continue
                    rank = _rank(kind, status, task_id)
                    done = status == TaskStatus.DONE.value
                    task = CallbackTask(
                        task_id=task_id,
                        status=status,
                        due_at=due_at,
                        done_at=completed_at if done else None,
                        done_by=login if done else None,
                    )
                    current = best.get(linkedid)
                    if current is None or rank < current[0]:
                        best[linkedid] = (rank, task)
        return {linkedid: task for linkedid, (_, task) in best.items()}
