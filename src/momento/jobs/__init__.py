"""Durable jobs on a PostgreSQL-backed queue (procrastinate), in the same database as the data.

A job is deferred inside or right after the transaction that calls for it, survives restarts,
and runs once across however many workers run (`momento worker`, or the one `momento serve`
runs in-process). Each domain declares its tasks on a procrastinate Blueprint in its own
`tasks.py`; `queue.BLUEPRINTS` lists them.
"""
