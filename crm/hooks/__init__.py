"""Outgoing webhooks (a durable outbox in the database) and API tokens for other systems.

- `crm.hooks.models`: the tables (`webhooks`, `webhook_events`, `webhook_deliveries`,
  `webhook_attempts`, `api_tokens`).
- `crm.hooks.outbox`: `emit(session, event, data, contact_id)` writes an event and one
  delivery per subscribed webhook in the caller's transaction.
- `crm.hooks.webhooks`: the admin's webhooks and their delivery log.
- `crm.hooks.worker`: the delivery worker (claims due deliveries, POSTs, retries).
- `crm.hooks.tokens`: API tokens (stored hashed, with scopes).
"""
