"""How the schema is spread over several PostgreSQL servers with Citus: the statements, from the models.

Every table of a user's data is distributed by `user_id` and colocated with the others, so one user's rows
of every table sit on one node and every per-user query (all of the API's) runs on that node alone. `users`
is a reference table, copied to every node, so each table's reference to it holds locally. `login_events`
(the log-in throttle's counts, not a user's data) stays on the coordinator. tests/service/test_distributable_schema.py
checks that the migrated schema allows this; run `python -m service.core.distribution` for the statements.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from service.core.models import Base

REFERENCE_TABLES = ("users",)
COORDINATOR_TABLES = ("login_events",)
DISTRIBUTION_COLUMN = "user_id"


def distributed_tables(metadata: MetaData = Base.metadata) -> list[str]:
    """The tables sharded by user, each after every table it refers to (Citus distributes a referenced table
    first): all but the reference and coordinator tables."""
    kept = {*REFERENCE_TABLES, *COORDINATOR_TABLES}
    return [table.name for table in metadata.sorted_tables if table.name not in kept]


def distribution_sql(metadata: MetaData = Base.metadata, shard_count: int = 32) -> list[str]:
    """The statements that distribute a migrated Chin Up database on a Citus coordinator, in order."""
    statements = ["CREATE EXTENSION IF NOT EXISTS citus", f"SET citus.shard_count = {shard_count}"]
    statements += [f"SELECT create_reference_table('{table}')" for table in REFERENCE_TABLES]
    tables = distributed_tables(metadata)
    for table in tables:  # all in the first one's colocation group: a user's rows of every table on one node
        colocate = "none" if table == tables[0] else tables[0]
        statements.append(
            f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}', colocate_with => '{colocate}')"
        )
    return statements


if __name__ == "__main__":
    print(";\n".join(distribution_sql()) + ";")
