"""Triggers: rules "when an event happens, if its fields say so, then do these actions"
(docs/integrations.md, "Triggers").

- `crm.rules.models`: the tables (`rules`, `rule_events`, `rule_action_keys`, `rule_runs`).
- `crm.rules.fields`: the event types and the fields a rule sees (`facts`).
- `crm.rules.conditions`: the typed conditions, validated and evaluated.
- `crm.rules.templates`: the sandboxed Jinja2 texts, checked at save time.
- `crm.rules.actions`: the actions, validated, planned (dry run) and applied.
- `crm.rules.due`: due times in working hours.
- `crm.rules.record`: events into the durable queue, in the change's transaction.
- `crm.rules.calls`: the `CallsStored` consumer for the call events.
- `crm.rules.engine`: running the rules of one event (each action once), dry runs.
- `crm.rules.batch`: a round of the worker as one batch (rows read once, written at once).
- `crm.rules.worker`: the task "rules" (claims, runs, retries, purges, `task.overdue`).
- `crm.rules.builtin`: the built-in missed-call callback rule (run by `crm.callbacks`).
- `crm.rules.service`: the rules as admins manage them (`/api/rules`, `/admin/triggers`).
"""
