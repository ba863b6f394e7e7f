"""The screen pop: domain events in, WebSocket messages to the ringing agent out.

`notifier` is the pop's state machine (ringing → answered here or elsewhere → ended);
`hub` fans messages out to the connected sockets, each with a bounded queue.
"""
