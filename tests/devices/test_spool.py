"""The spool on real SQLite files: order, acks, bounds, SIGKILL, a really full disk, two threads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from devices.errors import DeviceError, SpoolFull
from devices.spool import MIN_MAX_BYTES, Spool, SpooledSample

BATCH = 50


def samples(start: int, n: int, **fields: object) -> list[SpooledSample]:
    return [SpooledSample(t_ms=1_700_000_000_000 + 1000 * i, bpm=60 + i % 100, **fields)  # type: ignore[arg-type]
            for i in range(start, start + n)]


def count_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM samples").fetchone()[0]


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def test_samples_come_back_exactly_oldest_first_per_device(tmp_path: Path) -> None:
    rr = (799.8046875, 0.9765625, 63999.0234375)
    with Spool(tmp_path / "s.db") as spool:
        for i in range(3):
            spool.append("AA:01", [SpooledSample(10 + i, 70, rr, True), SpooledSample(20 + i, 71, (), None)])
            spool.append("BB:02", [SpooledSample(30 + i, 80, (), False)])
        got = [s for _, s in spool.pending("AA:01")]
        assert [s.t_ms for s in got] == [10, 20, 11, 21, 12, 22]
        assert got[0] == SpooledSample(10, 70, rr, True) and got[1] == SpooledSample(20, 71, (), None)
        assert [s.contact for _, s in spool.pending("BB:02")] == [False] * 3
        assert (spool.depth(), spool.depth("AA:01"), spool.depth("nobody")) == (9, 6, 0)
        assert spool.device_keys() == ["AA:01", "BB:02"]
        assert [s.t_ms for _, s in spool.pending("AA:01", limit=2)] == [10, 20]


def test_what_was_appended_is_there_after_reopening(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db") as spool:
        spool.append("AA", samples(0, 10))
    with Spool(tmp_path / "s.db") as spool:
        assert [s for _, s in spool.pending("AA")] == samples(0, 10)
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_ack_is_idempotent_and_a_stale_ack_never_hits_a_newer_sample(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db") as spool:
        spool.append("AA", samples(0, 3))
        ids = [row_id for row_id, _ in spool.pending("AA")]
        spool.ack(ids)
        spool.ack(ids)  # the acknowledgement arrived twice
        spool.ack([10_000, -1])  # never existed
        spool.append("AA", samples(3, 1))
        [(new_id, _)] = spool.pending("AA")
        assert new_id > max(ids)  # ids are never reused ...
        spool.ack(ids)  # ... so a late repeat of the old ack leaves the new sample alone
        assert spool.depth("AA") == 1 and spool.device_keys() == ["AA"]
        spool.ack([new_id])
        assert spool.depth() == 0 and spool.device_keys() == []


def test_empty_append_and_ack_do_nothing(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db") as spool:
        spool.append("AA", [])
        spool.ack([])
        assert spool.depth() == 0


def test_a_sample_sqlite_cannot_store_exactly_is_refused_whole(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db") as spool:
        with pytest.raises(ValueError, match="cannot be stored"):
            spool.append("AA", [*samples(0, 2), SpooledSample(5, 60.5)])  # type: ignore[arg-type]
        assert spool.depth() == 0


def test_the_bound_gives_spool_full_and_keeps_everything_already_there(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Spool(path, max_bytes=MIN_MAX_BYTES) as spool:
        stored = 0
        with pytest.raises(SpoolFull) as caught:
            while True:
                spool.append("AA", samples(stored, BATCH, rr_ms=(800.0, 810.0)))
                stored += BATCH
        assert stored > 0
        error = caught.value
        assert isinstance(error, OSError) and isinstance(error, DeviceError)
        assert (error.max_bytes, error.disk_full) == (MIN_MAX_BYTES, False)
        assert str(MIN_MAX_BYTES) in str(error)
        assert spool.depth() == stored  # the refused batch left nothing behind
        assert [s.t_ms for _, s in spool.pending("AA", limit=stored)] == [s.t_ms for s in samples(0, stored)]
        spool.ack([row_id for row_id, _ in spool.pending("AA", limit=stored // 2)])
        spool.append("AA", samples(stored, BATCH))  # acked room is reused
    assert integrity(path) == "ok"
    on_disk = sum(p.stat().st_size for p in tmp_path.glob("s.db*") if not p.name.endswith("-reserve"))
    assert on_disk <= 1.25 * MIN_MAX_BYTES + 32 * 1024  # database + WAL (+ the 32 KiB shared-memory index)


def test_a_bound_below_the_minimum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        Spool(tmp_path / "s.db", max_bytes=MIN_MAX_BYTES - 1)


def test_one_writer_and_one_reader_thread(tmp_path: Path) -> None:
    total = 2000
    acked: list[int] = []
    with Spool(tmp_path / "s.db") as spool:
        def write() -> None:
            for start in range(0, total, 20):
                spool.append("AA", samples(start, 20))

        writer = threading.Thread(target=write)
        writer.start()
        while writer.is_alive() or spool.depth():
            batch = spool.pending("AA", limit=100)
            acked += [s.t_ms for _, s in batch]
            spool.ack([row_id for row_id, _ in batch])
        writer.join()
    assert acked == [s.t_ms for s in samples(0, total)]  # each exactly once, in order


# --- crash and disk-full behaviour, in child processes ------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, time
    from devices.spool import Spool, SpooledSample
    path, batch, stop_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    spool = Spool(path)
    k = 0
    while True:
        spool.append("AA", [SpooledSample(k * batch + i, 60) for i in range(batch)])
        k += 1
        print(k, flush=True)
        if k == stop_after:
            time.sleep(600)
""")


def run_child(tmp_path: Path, stop_after: int, kill_after: int) -> int:
    """Start a child appending batches; SIGKILL it once it reported `kill_after` commits; return reports."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    args = [str(script), str(tmp_path / "s.db"), str(BATCH), str(stop_after)]
    child = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    reported = 0
    try:
        while reported < kill_after:
            line = child.stdout.readline()
            assert line, "child died before reporting"
            reported = int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return reported


def test_sigkill_while_idle_keeps_exactly_what_was_committed(tmp_path: Path) -> None:
    reported = run_child(tmp_path, stop_after=12, kill_after=12)
    assert count_rows(tmp_path / "s.db") == 12 * BATCH
    with Spool(tmp_path / "s.db") as spool:
        assert [s.t_ms for _, s in spool.pending("AA", limit=10_000)] == list(range(reported * BATCH))


def test_sigkill_mid_stream_loses_no_committed_batch_and_tears_none(tmp_path: Path) -> None:
    reported = run_child(tmp_path, stop_after=-1, kill_after=25)
    with Spool(tmp_path / "s.db") as spool:
        t_ms = [s.t_ms for _, s in spool.pending("AA", limit=100_000)]
    assert len(t_ms) % BATCH == 0 and len(t_ms) >= reported * BATCH  # whole batches, none reported lost
    assert t_ms == list(range(len(t_ms)))
    assert integrity(tmp_path / "s.db") == "ok"


FULL_DISK_CHILD = textwrap.dedent("""
    import json, sqlite3, sys
    from devices.errors import SpoolFull
    from devices.spool import Spool, SpooledSample
    path = sys.argv[1] + "/spool.db"
    spool = Spool(path, reserve_bytes=256 * 1024)
    n = 0
    try:
        while True:
            spool.append("AA", [SpooledSample(n * 100 + i, 60, (800.0,), True) for i in range(100)])
            n += 1
    except SpoolFull as exc:
        result = {"disk_full": exc.disk_full, "stored": spool.depth()}
    try:
        spool.append("AA", [SpooledSample(-1, 61)])
        result["refused_again"] = False
    except SpoolFull:
        result["refused_again"] = True
    result["after_refusal"] = spool.depth()
    for _ in range(result["stored"] // 2000):  # the uploader acks 1000 at a time
        spool.ack([row_id for row_id, _ in spool.pending("AA", limit=1000)])
    spool.append("AA", [SpooledSample(10**9, 61)])
    spool.close()
    with sqlite3.connect(path) as db:
        result["final"] = db.execute("SELECT count(*) FROM samples").fetchone()[0]
        result["integrity"] = db.execute("PRAGMA integrity_check").fetchone()[0]
    print(json.dumps(result))
""")


def test_a_really_full_disk_gives_spool_full_and_acks_still_free_it(tmp_path: Path) -> None:
    """A 2 MiB tmpfs in a private mount namespace (needs unshare; skipped where it is not allowed)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not available")
    script, mount = tmp_path / "child.py", tmp_path / "small-disk"
    script.write_text(FULL_DISK_CHILD)
    mount.mkdir()
    command = f"mount -t tmpfs -o size=2m tmpfs {mount} && exec {sys.executable} {script} {mount}"
    done = subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", command],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and "mount" in done.stderr and "ermission" in done.stderr:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["disk_full"] is True and result["refused_again"] is True
    assert result["after_refusal"] == result["stored"] > 0
    assert result["final"] == result["stored"] - 1000 * (result["stored"] // 2000) + 1
    assert result["integrity"] == "ok"
