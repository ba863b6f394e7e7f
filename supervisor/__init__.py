"""Supervisor features: report rollups and queries, the live view, agent time.

Layout (one module per concept):

* :mod:`supervisor.config` — the report settings (time zone, service-level thresholds).
* :mod:`supervisor.periods` — validated report periods and local day/hour buckets.
* :mod:`supervisor.figures` — the report definitions: totals → KPIs (pure).
* :mod:`supervisor.rollup_tables` — the hourly and daily rollup tables.
* :mod:`supervisor.rollup_queries` — their SQL (aggregating `calls`, upserting rows).
* :mod:`supervisor.rollups` — keeping them up to date from `calls`.
* :mod:`supervisor.agent_time` — time agents spend in each state (pause, wrap-up …).
* :mod:`supervisor.reports` — the report queries over the rollups.
* :mod:`supervisor.missed` — missed calls and whether they were called back.
* :mod:`supervisor.live` — the live view built from the reducer's state (pure).
* :mod:`supervisor.export` — CSV export.

The definitions are written down in ``docs/reports.md``.
"""
