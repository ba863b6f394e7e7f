"""Asterisk's own books: what it writes durably while Trubka may be away.

`queue_log` (one line per queue event, `app_queue`) and the CDR (`cdr_csv`'s
`Master.csv`) are read to backfill and reconcile Trubka's call records. Parsing is pure
(`queue_log`, `cdr`); `cursor` remembers how far a file was read across rotations.
"""
