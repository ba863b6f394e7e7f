"""merge the feature branches (crm, panel, rec, route, sup) into one line

Until this revision every feature kept its own Alembic branch, all applied with
`upgrade heads`; Alembic counted five heads: crm_0001, panel_0001, rec_0001, route_0003
and sup_0002. From here on there is one line: a new migration's `down_revision` is the
newest revision, and `upgrade head` applies them all (docs/architecture.md, "Migrations").

panel_0001 and route_0001 were released as branches from 0001_calls with
`depends_on = "crm_0001"`. A database never held a row for crm_0001 once they were
applied, and Alembic cannot merge a revision together with revisions that depend on it,
so they now name crm_0001 as their `down_revision` instead: the same order, the same
`alembic_version` rows (panel_0001, rec_0001, route_0003, sup_0002), and crm_0001 joins
the line through them. A database at those heads upgrades to this revision without any
change to its schema.

Revision ID: 0002_merge_heads
Revises: panel_0001, rec_0001, route_0003, sup_0002 (and crm_0001 through the first two)
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0002_merge_heads"
down_revision = ("panel_0001", "rec_0001", "route_0003", "sup_0002")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
