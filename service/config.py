"""Settings in one place: environment variables with the prefix CHINUP_, overridable in tests."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    future_tolerance_s: int = 300
    # Sessions, HRV and resting HR of a touched day are analysed once the user's uploads have been quiet
    # for analysis_quiet_s, and at the latest analysis_debounce_s after it was touched while uploads keep
    # coming (a live strap uploads every second). 0 debounce: at once, inline (demo history, benchmarks).
    analysis_debounce_s: float = 10.0
    analysis_quiet_s: float = Field(default=1.0, ge=0)
    ble_transport: str = "os"
    cors_origins: list[str] = Field(default_factory=list)
    # Failed log-ins allowed per account and per client address within the window; then 429 with Retry-After.
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_failure_window_s: float = Field(default=900.0, gt=0)
    demo: bool = False

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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'chinup.sqlite3'}"
