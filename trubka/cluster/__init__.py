"""Several Trubka nodes on one PostgreSQL database: live messages between them
(`node.ClusterNode` over `bridge.PgBridge`'s LISTEN/NOTIFY)."""
