"""The bottom layer: what every package shares, importing nothing from the repository.

The event bus (`bus`), the tracked task set (`task_set`), phone numbers (`phones`), the
one rule for an agent's identity and the agent states (`agents`), the call record and
its one serializer (`call_record`), and the one domain error type (`errors`).
See docs/architecture.md, "Layers".
"""
