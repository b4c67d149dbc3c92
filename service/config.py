"""Settings in one place: environment variables with the prefix CHINUP_, overridable in tests."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from platformdirs import user_data_path
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

APP_NAME = "chinup"


def default_data_dir() -> Path:
    """The user's data directory, where the embedded database and the spool live by default."""
    return user_data_path(APP_NAME, appauthor=False)


class Settings(BaseSettings):
    """Everything the service reads from its environment; passed explicitly, never a module global."""

    model_config = SettingsConfigDict(env_prefix="CHINUP_", env_file=None, extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # Bearer tokens are opaque random strings stored hashed, so revocation is a row update.
    access_token_ttl_s: int = 7 * 24 * 3600
    max_batch_samples: int = 10_000
    # Request bodies larger than these answer 413 before they are read (Content-Length) or as soon as the
    # stream passes the limit: JSON bodies (a 10,000-sample batch with RR intervals is about 0.8 MB) and the
    # files of POST /imports (spooled to disk while they arrive, never held in memory whole).
    max_body_bytes: int = Field(default=4 * 2**20, ge=64 * 2**10)
    max_upload_bytes: int = Field(default=512 * 2**20, ge=2**20)
    # What one import may unpack (service.importers.limits): a gunzipped file, one zip member and all of a
    # zip's members together; the entries a zip may list; one XML token (a tag with its attributes, a text
    # node, a comment); one JSON part of an account export, which is read whole. Past any of them: 413.
    import_max_expanded_bytes: int = Field(default=4 * 2**30, ge=2**20)
    import_max_zip_members: int = Field(default=10_000, ge=1)
    import_max_xml_token_bytes: int = Field(default=2**20, ge=2**12)
    import_max_export_json_bytes: int = Field(default=64 * 2**20, ge=2**16)
    future_tolerance_s: int = 300
    # Sessions, HRV and resting HR of a touched day are analysed once the user's uploads have been quiet
    # for analysis_quiet_s, and at the latest analysis_debounce_s after it was touched while uploads keep
    # coming (a live strap uploads every few seconds: its quiet is 1.5 times the span of its last batch,
    # capped at the debounce; service.pipeline.scheduler). 0 debounce: at once, inline (demo history, benchmarks).
    analysis_debounce_s: float = 10.0
    analysis_quiet_s: float = Field(default=1.0, ge=0)
    ble_transport: str = "os"
    # Straps the service records (service/api/straps.py). Pairing one needs this user's own scan through
    # the service (GET /straps/scan) to have heard its address within strap_sighting_ttl_s: an address typed
    # in from afar cannot be claimed, so nobody squats on a neighbour's strap. The first pairing then holds
    # the strap until it is forgotten (a strap connects to one central anyway). Per user at most
    # max_straps_per_user paired straps and max_devices_per_user devices (POST /devices); past either: 409.
    strap_sighting_ttl_s: float = Field(default=600.0, gt=0)
    max_straps_per_user: int = Field(default=8, ge=1)
    max_devices_per_user: int = Field(default=100, ge=1)
    cors_origins: list[str] = Field(default_factory=list)
    # Log-in guessing (service/web/throttle.py). One (account, address) pair has login_free_failures wrong
    # guesses, then waits login_delay_base_s doubled at each further failure, at most login_delay_max_s:
    # an attacker is slowed without locking the owner out from another address. Looser ceilings within the
    # window: failures per account from all addresses (addresses that logged in to it before are exempt)
    # and per address across accounts (spraying). Refusals answer 429 with Retry-After.
    login_free_failures: int = Field(default=3, ge=1)
    login_delay_base_s: float = Field(default=1.0, gt=0)
    login_delay_max_s: float = Field(default=900.0, gt=0)
    login_failures_per_account: int = Field(default=50, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_failure_window_s: float = Field(default=900.0, gt=0)
    # Sign-ups (each an Argon2 hash and a stored account) per client address within the window.
    signups_per_address: int = Field(default=50, ge=1)
    signup_window_s: float = Field(default=3600.0, gt=0)
    # Client addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # forwarded_allow_ips: addresses, networks, or "*"). Empty: no forwarded header is believed, the peer
    # address is the client's (uvicorn alone would trust 127.0.0.1, so any local tunnel could forge it).
    # In the environment: comma-separated, CHINUP_FORWARDED_ALLOW_IPS=10.0.0.5,192.168.1.0/24.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Live streams (GET /live): at most live_streams_per_user open at once per user (429 past it); each
    # rechecks its access token every live_token_check_s (log-out, expiry, a password change end it);
    # a stream ticket (POST /live/ticket) is good for one stream within live_ticket_ttl_s.
    live_streams_per_user: int = Field(default=5, ge=1)
    live_token_check_s: float = Field(default=2.0, gt=0, le=60)
    live_ticket_ttl_s: float = Field(default=30.0, gt=0, le=300)
    # Connections of `chinup serve` (service/cli/main.py server_options). A request's headers must arrive within
    # http_header_timeout_s of the connection (or of the previous answer on a kept-alive one) and stay under
    # http_max_header_bytes, else the connection is closed (uvicorn itself has no header timeout). An idle
    # kept-alive connection is closed after http_keep_alive_timeout_s (uvicorn's timeout_keep_alive). Past
    # http_max_connections open connections (or requests in flight) new requests answer 503 (uvicorn's
    # limit_concurrency); live streams count, so it stays well under the process's file descriptors.
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    http_max_header_bytes: int = Field(default=64 * 2**10, ge=4 * 2**10)
    http_keep_alive_timeout_s: int = Field(default=5, ge=1)
    http_max_connections: int = Field(default=2000, ge=1)
    # Threads serving this process's routes, and with them its database pool (route_threads + 8, see
    # service/core/db.py). `serve --workers N` lowers it so N pools fit PostgreSQL's max_connections.
    route_threads: int = Field(default=40, ge=2, le=1000)
    demo: bool = False

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("access_token_ttl_s")
    @classmethod
    def _positive_ttl(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("access_token_ttl_s must be positive")
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured URL, else a SQLite file in the data directory (created on demand)."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the owner's alone, like the file
        return f"sqlite:///{self.data_dir / 'chinup.sqlite3'}"
