"""Database access: the connection pool, per-request identity, migrations, embedded server."""

from momento.db.pool import Database, translate

__all__ = ["Database", "translate"]
