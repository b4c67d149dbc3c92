"""`chinup demo`: an embedded database, a demo user with generated history, and a live virtual strap.

The live part takes the whole real path: a Bumble virtual strap advertises on the in-process link, the
recorder finds it through bleak, spools every notification to disk and uploads it to this very server,
whose ingest updates the rollups and the live stream the dashboard listens to.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import shutil
from pathlib import Path

import uvicorn
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from devices import hrs
from devices.recorder import record
from devices.simulator import StrapProfile, VirtualStrap, generate_workout
from devices.transport import new_random_address
from service.app import create_app
from service.config import Settings
from service.core import localtime, migrate
from service.core.db import make_engine, make_session_factory
from service.core.models import (
    AccessToken,
    Application,
    CheckIn,
    Device,
    Feedback,
    Interview,
    PracticeSession,
    Reflection,
    User,
)
from service.core.security import USER_TOKEN_PREFIX, hash_password, new_token, token_digest
from service.demo.history import generate_history
from service.pipeline.ingest import store_samples
from service.pipeline.live import LiveHub
from service.pipeline.scheduler import Rollups

DEMO_EMAIL = "demo@chinup.example"
DEMO_PASSWORD = "chin-up-demo"
DEMO_TIMEZONE = "Europe/London"
# The demo database lives here under the data directory and is kept between runs; `chinup demo --fresh`
# generates it again. SEEDED is written once the history is stored and analysed, so a run stopped half-way
# through generating starts over instead of serving a half-made history.
DEMO_DIR_NAME = "demo"
SEEDED_MARK = "seeded"
SECOND_INTERVIEW_DAYS_AGO = 4
LIVE_STRAP_NAME = "Demo Polar H10"
# Straps left for the Devices page to find and pair, one of each kind the decoder must handle.
NEARBY_STRAPS = {
    "Demo Garmin HRM-Dual": StrapProfile(uint16_bpm=True, sends_rr=False, contact_supported=True, battery_pct=64,
                                         manufacturer="Demo", model="16-bit, no RR"),
    "Demo Wahoo TICKR": StrapProfile(uint16_bpm=False, sends_rr=True, contact_supported=True, battery_pct=92,
                                     manufacturer="Demo", model="8-bit with RR and contact"),
    "Demo Budget Band": StrapProfile(uint16_bpm=False, sends_rr=True, contact_supported=False, battery_pct=23,
                                     body_location=hrs.BodySensorLocation.WRIST, manufacturer="Demo",
                                     model="8-bit, no contact detection"),
}  # fmt: skip


def _journal(db: Session, user: User, interview_at: dt.datetime) -> None:
    """The hard interview three weeks ago, and what the user did about it since."""
    day = dt.timedelta(days=1)
    interview = Interview(
        user_id=user.id, company="Northwind Analytics", role="Product Analyst", at=interview_at,
        stage="final round", outcome="rejected",
    )  # fmt: skip
    db.add(interview)
    db.flush()
    db.add(
        Reflection(
            interview_id=interview.id,
            user_id=user.id,
            went_well=["Clear story about the pricing dashboard", "Good questions for the panel"],
            went_poorly=["Froze on the SQL window-function question", "Rushed the case study"],
            lessons=[
                {"lesson": "Practise live SQL out loud", "next_time": "Talk through the query before typing"},
                {"lesson": "Time-box the case study", "next_time": "Ask for five minutes to structure first"},
            ],
            outsider_view="A friend would say: one hard question, not a verdict on you.",
            went_well_at=interview_at + 0.5 * day,
            went_poorly_at=interview_at + 0.6 * day,
            moved_on_at=interview_at + 6 * day,
        )
    )
    db.add(Feedback(interview_id=interview.id, user_id=user.id, requested_at=interview_at + 2 * day,
                    received_at=interview_at + 9 * day,
                    notes="Strong product sense; SQL fluency under pressure was the gap."))  # fmt: skip
    for k in range(5):
        db.add(PracticeSession(user_id=user.id, at=interview_at + (4 + 3 * k) * day,
                               questions=["Window functions: running totals", "Tell me about a failure"],
                               self_rating=5 + k, notes="Out loud, timed."))  # fmt: skip
    for k, (company, status) in enumerate(
        [("Contoso", "applied"), ("Fabrikam", "screening"), ("Tailspin", "applied"), ("Litware", "interview"),
         ("Proseware", "applied"), ("Adatum", "rejected")]
    ):  # fmt: skip
        db.add(Application(user_id=user.id, company=company, role="Data Analyst",
                           applied_at=interview_at + (3 + 2 * k) * day, status=status))  # fmt: skip


def _second_interview(db: Session, user: User, interview_at: dt.datetime) -> None:
    """A second, recent interview whose plan is under way: reflected on, one lesson still without its
    "next time", feedback asked for but not received, not moved on, no practice or application since."""
    day = dt.timedelta(days=1)
    interview = Interview(
        user_id=user.id, company="Blue Yonder Airlines", role="Data Analyst", at=interview_at,
        stage="second round", outcome="no offer",
    )  # fmt: skip
    db.add(interview)
    db.flush()
    db.add(
        Reflection(
            interview_id=interview.id,
            user_id=user.id,
            went_well=["Walked through the SQL calmly, out loud", "Asked about the team's data stack"],
            went_poorly=["Vague on how I measured the dashboard's impact"],
            lessons=[
                {"lesson": "Bring numbers for impact", "next_time": "Prepare two metrics per project story"},
                {"lesson": "Salary question caught me out", "next_time": None},
            ],
            went_well_at=interview_at + 0.4 * day,
            went_poorly_at=interview_at + 0.5 * day,
        )
    )
    db.add(Feedback(interview_id=interview.id, user_id=user.id, requested_at=interview_at + 1 * day))


def _has_demo_user(engine: Engine) -> int | None:
    with make_session_factory(engine)() as db:
        return db.scalar(select(User.id).where(User.email == DEMO_EMAIL))


def _new_token(engine: Engine, user_id: int, now: dt.datetime) -> str:
    """A fresh access token for the live strap's recorder (a kept database's old one may have expired)."""
    token = new_token(USER_TOKEN_PREFIX, user_id)
    with make_session_factory(engine)() as db:
        db.add(
            AccessToken(
                user_id=user_id, token_hash=token_digest(token), expires_at=now + dt.timedelta(days=30)
            )
        )
        db.commit()
    return token


def seed_demo(
    engine: Engine, *, weeks: int, console: Console, now: dt.datetime | None = None
) -> tuple[int, str]:
    """Create the demo user and their history; returns the user id and an access token."""
    now = now or dt.datetime.now(dt.UTC)
    tz = localtime.zone(DEMO_TIMEZONE)
    today = localtime.today(tz, now)
    interview_day = today - dt.timedelta(days=21)
    sessions: sessionmaker[Session] = make_session_factory(engine)
    with sessions() as db:
        user = User(email=DEMO_EMAIL, password_hash=hash_password(DEMO_PASSWORD), timezone=DEMO_TIMEZONE,
                    birth_year=1994, is_demo=True)  # fmt: skip
        db.add(user)
        db.flush()
        device = Device(user_id=user.id, name="Demo history (generated)", model="generated")
        db.add(device)
        db.flush()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Generating eight weeks of demo history", total=7 * weeks + 1)
            for demo_day in generate_history(
                today=today, tz=tz, weeks=weeks, interview_day=interview_day, now=now
            ):
                store_samples(db, user_id=user.id, device_id=device.id, samples=demo_day.samples)
                if demo_day.samples:  # the Devices page says when the device last sent a sample, as for any
                    newest = max(s.t_ms for s in demo_day.samples)
                    device.last_sample_ms = max(device.last_sample_ms or newest, newest)
                if demo_day.checkin is not None:
                    at, confidence, mood = demo_day.checkin
                    db.add(CheckIn(user_id=user.id, at=at, confidence=confidence, mood=mood))
                progress.advance(task)
        interview_at = dt.datetime.combine(interview_day, dt.time(10, 0), tzinfo=tz).astimezone(dt.UTC)
        _journal(db, user, interview_at)
        second_day = today - dt.timedelta(days=SECOND_INTERVIEW_DAYS_AGO)
        _second_interview(
            db, user, dt.datetime.combine(second_day, dt.time(14, 0), tzinfo=tz).astimezone(dt.UTC)
        )
        token = new_token(USER_TOKEN_PREFIX, user.id)
        db.add(
            AccessToken(
                user_id=user.id, token_hash=token_digest(token), expires_at=now + dt.timedelta(days=30)
            )
        )
        db.commit()
        user_id = user.id
    with console.status("Analysing the history (sessions, recovery, HRV)"):
        # inline (no debounce): the history is analysed before the server starts, as one job
        Rollups(sessions, LiveHub(), debounce_s=0).recompute_history(user_id)
    return user_id, token


def demo_dir(data_dir: Path | None = None) -> Path:
    """Where the demo keeps its database and spool: under the data directory, never in /tmp."""
    return (data_dir or Settings().data_dir) / DEMO_DIR_NAME


def open_demo_database(workdir: Path, *, weeks: int, fresh: bool, console: Console) -> tuple[Engine, str]:
    """The kept demo database (generated on the first run, after an interrupted one, or with `fresh`) and
    a new access token for the live strap."""
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    if workdir.exists() and not (workdir / SEEDED_MARK).exists():
        console.print("The last demo stopped while generating its history; generating it again.")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{workdir / 'demo.sqlite3'}")
    migrate.upgrade(engine)
    user_id = _has_demo_user(engine)
    if user_id is None:
        _, token = seed_demo(engine, weeks=weeks, console=console)
        (workdir / SEEDED_MARK).write_text(dt.datetime.now(dt.UTC).isoformat() + "\n")
        return engine, token
    console.print(
        f"Using the demo database kept in {workdir} ([bold]chinup demo --fresh[/] generates it again)."
    )
    return engine, _new_token(engine, user_id, dt.datetime.now(dt.UTC))


async def run_demo(
    *, host: str, port: int, weeks: int, console: Console, fresh: bool = False, data_dir: Path | None = None
) -> None:
    """Serve the demo until interrupted (uvicorn handles Ctrl-C); the live strap loops its workout."""
    workdir = demo_dir(data_dir)
    engine, token = open_demo_database(workdir, weeks=weeks, fresh=fresh, console=console)
    settings = Settings(database_url=f"sqlite:///{workdir / 'demo.sqlite3'}", data_dir=workdir, demo=True,
                        host=host, port=port, ble_transport="virtual")  # fmt: skip
    app = create_app(settings, engine=engine, migrate_db=False)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    base = f"http://{host}:{port}"
    try:
        async with asyncio.TaskGroup() as tasks:
            serving = tasks.create_task(server.serve(), name="server")
            while not server.started and not serving.done():
                await asyncio.sleep(0.05)
            if serving.done():
                return
            console.print(f"\n[bold green]Chin Up demo[/] at [bold]{base}/dashboard[/]")
            console.print(f"Log in as [bold]{DEMO_EMAIL}[/] with password [bold]{DEMO_PASSWORD}[/]")
            console.print(
                f"The demo database is kept in {workdir} (--fresh generates it again). Ctrl-C stops.\n"
            )
            strap = tasks.create_task(live_strap(base, token, workdir), name="live strap")
            nearby = tasks.create_task(nearby_straps(), name="nearby straps")
            console.print(f"{len(NEARBY_STRAPS)} more virtual straps are nearby: Devices, then Scan for straps, pairs them.")
            await serving
            strap.cancel()
            nearby.cancel()
    finally:
        engine.dispose()


async def live_strap(base: str, token: str, workdir: Path) -> None:
    """A virtual strap streaming a looping workout, recorded through bleak, the spool and the HTTP API."""
    async with VirtualStrap(
        "virtual", generate_workout(seed=secrets.randbelow(1000)), name=LIVE_STRAP_NAME, loop=True,
        address=new_random_address(seed=LIVE_STRAP_NAME),  # the same strap every run: one device in the kept database
    ):
        await record(server_url=base, token=token, transport="virtual", name=LIVE_STRAP_NAME,
                     spool_path=workdir / "spool.sqlite3")  # fmt: skip


async def nearby_straps() -> None:
    """Virtual straps of different kinds advertising on the service's own virtual link until cancelled."""
    async with contextlib.AsyncExitStack() as stack:
        for seed, (name, profile) in enumerate(NEARBY_STRAPS.items(), start=1):
            workout = generate_workout(seed=seed, rest_bpm=58.0 + 4 * seed)
            await stack.enter_async_context(
                VirtualStrap("virtual", workout, name=name, profile=profile, loop=True)
            )
        await asyncio.Event().wait()
