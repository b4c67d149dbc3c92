"""Reading a user's samples back for analysis: straight through the driver, into numpy columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class SampleArrays:
    t_s: NDArray[np.float64]
    bpm: NDArray[np.float32]
    contact: NDArray[np.bool_]  # False where the strap reported lost contact


_SELECT_SAMPLES = {
    "sqlite": "SELECT t_ms, bpm, COALESCE(contact, 1){rr} FROM samples"
    " WHERE user_id = ? AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
    "postgresql": "SELECT t_ms, bpm, COALESCE(contact, TRUE){rr} FROM samples"
    " WHERE user_id = %s AND t_ms >= %s AND t_ms < %s ORDER BY t_ms",
}


def fetch_samples(
    db: Session, user_id: int, lo_s: float, hi_s: float, *, with_rr: bool = False
) -> list[tuple]:  # type: ignore[type-arg]
    """Raw rows (t_ms, bpm, contact[, rr_ms, device_id]) from the DB-API cursor: a day is ~100k rows, and every layer
    above the driver would cost more than the query (bench/analysis.py)."""
    sql = _SELECT_SAMPLES[db.get_bind().dialect.name].format(rr=", rr_ms, device_id" if with_rr else "")
    cursor = db.connection().connection.cursor()
    try:
        cursor.execute(sql, (user_id, int(lo_s * 1000), int(hi_s * 1000)))
        return cursor.fetchall()
    finally:
        cursor.close()


def sample_arrays(rows: list[tuple]) -> SampleArrays:  # type: ignore[type-arg]
    """Columns of fetched rows as arrays; contact is False only where the strap reported it lost."""
    return _arrays(np.fromiter((row[:3] for row in rows), _ROW, len(rows)))


# One structured row per sample, filled by numpy from the driver's tuples: a third cheaper than columns
# transposed in Python, and the minute counting reads every stored sample back once (bench/ingest.py).
_ROW = np.dtype([("t_ms", np.int64), ("bpm", np.int32), ("contact", np.int8)])


def _arrays(table: np.ndarray) -> SampleArrays:
    return SampleArrays(table["t_ms"] / 1000.0, table["bpm"].astype(np.float32), table["contact"].astype(bool))


def load_samples(db: Session, user_id: int, lo_s: float, hi_s: float) -> SampleArrays:
    """A user's samples (all devices) with lo_s <= t < hi_s, in time order, straight from the cursor."""
    sql = _SELECT_SAMPLES[db.get_bind().dialect.name].format(rr="")
    cursor = db.connection().connection.cursor()
    try:
        cursor.execute(sql, (user_id, int(lo_s * 1000), int(hi_s * 1000)))
        return _arrays(np.fromiter(cursor, _ROW))
    finally:
        cursor.close()
