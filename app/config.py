"""Service settings, read from the environment (prefix-free names such as DATABASE_URL) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    broker_url: str = ""
    weights_cache_dir: Path | None = None
    dataset_path: str = ""

    secret_key: str = "dev-only-change-me"
    max_parameters: int = Field(default=20_000_000_000, description="largest model accepted, in parameters")
    rate_limit_count: int = 5
    rate_limit_days: int = 7
    opt_out_namespaces: list[str] = Field(default_factory=list)

    eval_time_limit_s: int = 2 * 60 * 60
    lease_seconds: int = 120
    max_retries: int = 2
    eval_max_length: int = 2048
    eval_batch_tokens: int = 16384
    eval_limit_per_subset: int | None = None

    leaderboard_cache_seconds: int = 30

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rewardboard.db').as_posix()}"

    def resolved_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.db').as_posix()}"

    def resolved_weights_cache(self) -> Path:
        return self.weights_cache_dir or self.data_dir / "weights"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
