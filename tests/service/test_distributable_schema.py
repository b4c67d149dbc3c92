"""The schema can be distributed by user (Citus), read from the migrated database itself.

Citus shards a table by one column and enforces keys and references only within a shard, so: every table
holding a user's data carries `user_id`; its primary key and every unique key hold it; a reference from one
user's row to another holds it on both sides; `users` is a reference table (copied to every node), so
references to it are free. Read on SQLite and PostgreSQL; the primary keys are checked on PostgreSQL, the
database one would distribute (SQLite numbers rows only through a one-column INTEGER PRIMARY KEY).
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, inspect, select

from service.api.straps import PairBody, _pair_row
from service.config import Settings
from service.core import distribution
from service.core.db import make_session_factory
from service.core.models import Base, Device, PairedStrap, User
from service.errors import Conflict

REFERENCE_TABLES = set(distribution.REFERENCE_TABLES)  # the tenants themselves: replicated to every node
# Not a user's data: the log-in throttle counts guesses at accounts that may not exist (a coordinator table).
LOCAL_TABLES = {*distribution.COORDINATOR_TABLES, "alembic_version"}


def _user_tables(engine: Engine) -> list[str]:
    names = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= names
    return sorted(names - REFERENCE_TABLES - LOCAL_TABLES)


def test_every_table_of_a_users_data_carries_the_user_and_refers_to_users(engine: Engine) -> None:
    schema = inspect(engine)
    tables = _user_tables(engine)
    assert {"samples", "device_tokens", "reflections", "feedback", "minute_rollups"} <= set(tables)
    for table in tables:
        columns = {c["name"]: c for c in schema.get_columns(table)}
        assert "user_id" in columns, f"{table} has no user_id: it cannot be distributed by user"
        assert not columns["user_id"]["nullable"], table
        to_users = [fk for fk in schema.get_foreign_keys(table) if fk["referred_table"] == "users"]
        assert [(fk["constrained_columns"], fk["referred_columns"]) for fk in to_users] == [
            (["user_id"], ["id"])
        ], table


def test_every_key_and_unique_index_holds_the_user(engine: Engine) -> None:
    schema = inspect(engine)
    for table in _user_tables(engine):
        pk = schema.get_pk_constraint(table)["constrained_columns"]
        if engine.dialect.name == "postgresql":
            assert "user_id" in pk, f"{table}: primary key {pk} lacks user_id"
        else:
            assert "user_id" in pk or pk == ["id"], f"{table}: primary key {pk}"
        for unique in schema.get_unique_constraints(table):
            assert "user_id" in unique["column_names"], f"{table}: unique {unique['column_names']}"
        for index in schema.get_indexes(table):
            if index["unique"]:
                assert "user_id" in index["column_names"], f"{table}: unique index {index['column_names']}"


def test_a_reference_between_two_of_a_users_rows_holds_the_user_on_both_sides(engine: Engine) -> None:
    schema = inspect(engine)
    tables = set(_user_tables(engine))
    seen = 0
    for table in tables:
        for fk in schema.get_foreign_keys(table):
            if fk["referred_table"] in REFERENCE_TABLES:
                continue
            assert fk["referred_table"] in tables, f"{table} refers to {fk['referred_table']}"
            pairs = dict(zip(fk["constrained_columns"], fk["referred_columns"], strict=True))
            assert pairs.get("user_id") == "user_id", f"{table} -> {fk['referred_table']}: {pairs}"
            seen += 1
    assert seen >= 6  # tokens, samples and paired straps to devices; reflections, feedback; status events


def test_the_distribution_statements_name_every_users_table_after_what_it_refers_to(engine: Engine) -> None:
    schema = inspect(engine)
    order = distribution.distributed_tables()
    assert sorted(order) == _user_tables(engine)
    for table in order:
        for fk in schema.get_foreign_keys(table):
            parent = fk["referred_table"]
            assert parent in REFERENCE_TABLES or order.index(parent) < order.index(table), (table, parent)
    statements = distribution.distribution_sql()
    assert statements.count("SELECT create_reference_table('users')") == 1
    assert sum("create_distributed_table" in s for s in statements) == len(order)


def test_two_users_pairing_one_strap_at_once_get_one_pairing(engine: Engine) -> None:
    """One owner per strap address holds without a key unique across users: two accounts that both heard
    the strap pair it at the same moment, and exactly one gets it (the other a 409), on both databases."""
    sessions = make_session_factory(engine)
    with sessions() as db:
        users = [User(email=f"race{k}@example.org", password_hash="x") for k in range(2)]
        db.add_all(users)
        db.commit()
        ids = [u.id for u in users]
    settings = Settings()
    body = PairBody(address="C0:FF:EE:00:00:19", name="Polar H10")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def pair(user_id: int) -> None:
        with sessions() as db:
            start.wait()
            try:
                _pair_row(db, user_id, body, seen=True, settings=settings)
                outcomes.append("paired")
            except Conflict:
                outcomes.append("409")

    for _ in range(5):
        outcomes.clear()
        threads = [threading.Thread(target=pair, args=(user_id,)) for user_id in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        with sessions() as db:
            rows = db.scalars(select(PairedStrap).where(PairedStrap.address == body.address)).all()
            assert len(rows) == 1 and sorted(outcomes) == ["409", "paired"], (outcomes, len(rows))
            winner = rows[0]
            device = db.get_one(Device, winner.device_id)
            assert device.user_id == winner.user_id
            db.delete(winner)
            db.commit()
