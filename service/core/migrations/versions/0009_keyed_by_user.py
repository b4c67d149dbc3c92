"""Every user's row keyed by its user: ready to distribute by user_id (Citus), on one server unchanged.

- device_tokens, reflections and feedback get the user id of the device or interview they belong to.
- A reference from one of a user's rows to another carries the user id: (device_id, user_id) ->
  devices (id, user_id), and so on, so a row and what it points at share an owner (and a shard).
- Unique keys hold the user id: a token digest, a reflection per interview, a paired strap's device and
  address. One owner per strap address across users is checked at pairing, under a lock on the address.
- PostgreSQL: each primary key holds the user id, (id, user_id), (device_id, t_ms, user_id) for samples. SQLite
  keeps `id` as the key (it numbers rows only through a one-column INTEGER PRIMARY KEY) with (id, user_id)
  unique beside it, and samples get the same three-column key.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# (child table, its reference column, parent table): every reference between two of a user's rows.
OWNED_REFERENCES = (
    ("device_tokens", "device_id", "devices"),
    ("samples", "device_id", "devices"),
    ("paired_straps", "device_id", "devices"),
    ("reflections", "interview_id", "interviews"),
    ("feedback", "interview_id", "interviews"),
    ("application_status_events", "application_id", "applications"),
)
# Tables that gain a user id: copied from the parent their reference names.
GAIN_USER = (("device_tokens", "device_id", "devices"), ("reflections", "interview_id", "interviews"),
             ("feedback", "interview_id", "interviews"))  # fmt: skip
# Unique keys that now hold the user id: (table, the column they were unique on).
USER_UNIQUES = (
    ("access_tokens", "token_hash"),
    ("device_tokens", "token_hash"),
    ("reflections", "interview_id"),
    ("paired_straps", "device_id"),
    ("paired_straps", "address"),
)
PARENTS = ("devices", "interviews", "applications")
ID_TABLES = (
    "access_tokens", "devices", "device_tokens", "checkins", "interviews", "reflections", "feedback",
    "practice_sessions", "applications", "application_status_events", "workout_sessions", "paired_straps",
    "analysis_tasks", "import_jobs",
)  # fmt: skip


def _fk(child: str, column: str, parent: str) -> str:
    return f"fk_{child}_{column}_{parent}"


def _refuse_mixed_owners() -> None:
    """A row whose owner is not its parent's would break its new reference: say which, rather than fail on
    a bare key error (the service always wrote both from one device or interview; none are expected)."""
    for child, column, parent in OWNED_REFERENCES:
        if child in {table for table, _c, _p in GAIN_USER}:
            continue  # its user id was just copied from the parent
        mixed = (
            op.get_bind()
            .exec_driver_sql(
                f"SELECT count(*) FROM {child} JOIN {parent} ON {parent}.id = {child}.{column}"
                f" WHERE {parent}.user_id <> {child}.user_id"
            )
            .scalar()
        )
        if mixed:
            raise RuntimeError(f"{mixed} rows of {child} belong to another user than their {parent} row")


def _copy_user_ids() -> None:
    """Give the tables that lacked it the user id of their device or interview (still nullable here)."""
    for table, column, parent in GAIN_USER:
        with op.batch_alter_table(table) as batch:  # SQLite: a plain ADD COLUMN, no copy
            batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        op.execute(
            f"UPDATE {table} SET user_id = (SELECT {parent}.user_id FROM {parent}"
            f" WHERE {parent}.id = {table}.{column})"
        )
        op.execute(f"DELETE FROM {table} WHERE user_id IS NULL")  # an orphan: none expected


def upgrade() -> None:
    """On SQLite every table changes in one batch (one copy of its rows); PostgreSQL alters in place, old
    references dropped before the keys they point at change and new ones added after."""
    postgres = op.get_bind().dialect.name == "postgresql"
    _copy_user_ids()
    _refuse_mixed_owners()
    changes: dict[str, list[tuple[str, tuple[object, ...]]]] = {}

    def change(table: str, what: str, *args: object) -> None:
        changes.setdefault(table, []).append((what, args))

    for table, _column, _parent in GAIN_USER:
        change(table, "not_null")
        change(table, "user_fk")
    for table, column in USER_UNIQUES:
        change(table, "unique", column)
    change("samples", "samples_key")
    for parent in PARENTS:
        change(parent, "row_key")
    if postgres:
        for child, column, parent in OWNED_REFERENCES:
            op.drop_constraint(_fk(child, column, parent), child, type_="foreignkey")
        for table in ID_TABLES:
            op.drop_constraint(f"pk_{table}", table, type_="primary")
            op.create_primary_key(f"pk_{table}", table, ["id", "user_id"])
    else:
        for child, column, parent in OWNED_REFERENCES:
            changes.setdefault(child, []).insert(0, ("drop_reference", (column, parent)))
    for child, column, parent in OWNED_REFERENCES:
        change(child, "reference", column, parent)
    for table in sorted(changes, key=lambda t: (t not in PARENTS, t)):  # parents' keys before references
        with op.batch_alter_table(table) as batch:
            for what, args in changes[table]:
                _apply(batch, table, what, args)
    for table in ("device_tokens", "reflections", "feedback"):
        op.create_index(f"ix_{table}_user_id", table, ["user_id"])


def _apply(batch: object, table: str, what: str, args: tuple[object, ...]) -> None:
    op_ = batch  # an alembic BatchOperations
    if what == "not_null":
        op_.alter_column("user_id", existing_type=sa.Integer(), nullable=False)  # type: ignore[attr-defined]
    elif what == "user_fk":
        op_.create_foreign_key(  # type: ignore[attr-defined]
            f"fk_{table}_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
    elif what == "unique":
        (column,) = args
        op_.drop_constraint(f"uq_{table}_{column}", type_="unique")  # type: ignore[attr-defined]
        op_.create_unique_constraint(f"uq_{table}_{column}", [column, "user_id"])  # type: ignore[attr-defined]
    elif what == "samples_key":
        op_.drop_constraint("pk_samples", type_="primary")  # type: ignore[attr-defined]
        op_.create_primary_key("pk_samples", ["device_id", "t_ms", "user_id"])  # type: ignore[attr-defined]
    elif what == "row_key":
        op_.create_unique_constraint(f"uq_{table}_id", ["id", "user_id"])  # type: ignore[attr-defined]
    elif what == "drop_reference":
        column, parent = args
        op_.drop_constraint(_fk(table, str(column), str(parent)), type_="foreignkey")  # type: ignore[attr-defined]
    elif what == "reference":
        column, parent = args
        op_.create_foreign_key(  # type: ignore[attr-defined]
            _fk(table, str(column), str(parent)),
            str(parent),
            [column, "user_id"],
            ["id", "user_id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for child, column, parent in OWNED_REFERENCES:
        with op.batch_alter_table(child) as batch:
            batch.drop_constraint(_fk(child, column, parent), type_="foreignkey")
    for parent in PARENTS:
        with op.batch_alter_table(parent) as batch:
            batch.drop_constraint(f"uq_{parent}_id", type_="unique")
    if postgres:
        for table in ID_TABLES:
            op.drop_constraint(f"pk_{table}", table, type_="primary")
            op.create_primary_key(f"pk_{table}", table, ["id"])
    with op.batch_alter_table("samples") as batch:
        batch.drop_constraint("pk_samples", type_="primary")
        batch.create_primary_key("pk_samples", ["device_id", "t_ms"])
    for table, column in USER_UNIQUES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_{column}", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_{column}", [column])
    for child, column, parent in OWNED_REFERENCES:
        with op.batch_alter_table(child) as batch:
            batch.create_foreign_key(_fk(child, column, parent), parent, [column], ["id"], ondelete="CASCADE")
    for table in ("device_tokens", "reflections", "feedback"):
        op.drop_index(f"ix_{table}_user_id", table)
    for table, _column, _parent in GAIN_USER:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_user_id_users", type_="foreignkey")
            batch.drop_column("user_id")
