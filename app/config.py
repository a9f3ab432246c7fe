"""Service settings, read from the environment (prefix-free names such as DATABASE_URL) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
DEFAULT_SECRET_KEY = "dev-only-change-me"
# One device of 4 to 141 GB (a CPU worker takes the small ones), then multi-GPU machines up to 8x141 GB.
DEFAULT_WORKER_CLASSES: tuple[str | float, ...] = (4, 16, 48, 80, 141, "2x80", "4x80", "8x80", "8x141")


class ConfigurationError(RuntimeError):
    """A setting that makes the service unsafe or unable to start; the message says which and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    broker_url: str = ""
    weights_cache_dir: Path | None = None
    dataset_path: str = Field(default="", description="a local copy of RewardBench v1's data for the worker")
    dataset_paths: dict[str, str] = Field(
        default_factory=dict, description="benchmark id -> a local copy of its data (JSON in the environment)"
    )

    environment: Literal["", "development", "production"] = Field(
        default="", description="empty: development on the embedded SQLite default, production otherwise"
    )
    secret_key: str = DEFAULT_SECRET_KEY
    max_parameters: int | None = Field(
        default=None,
        ge=1,
        description="largest model accepted, in parameters; unset: what the largest worker class holds",
    )
    rate_limit_count: int = 5
    rate_limit_days: int = 7
    opt_out_namespaces: list[str] = Field(default_factory=list)

    eval_time_limit_s: int = Field(
        default=2 * 60 * 60, description="a classifier run's time limit; other kinds scale it by their factor"
    )
    eval_max_time_limit_s: int = Field(default=48 * 60 * 60, description="no run's time limit is longer")
    worker_classes: list[str | float] = Field(
        default_factory=lambda: list(DEFAULT_WORKER_CLASSES),
        validation_alias=AliasChoices("worker_classes", "queue_memory_tiers_gb"),
        description="the worker machines of this deployment, GPUsxGB each (8x80; a bare number is one "
        "device), a queue each; a submission goes to the smallest that holds its run "
        "(QUEUE_MEMORY_TIERS_GB, the older name, lists single devices)",
    )
    lease_seconds: int = 120
    max_retries: int = 2
    eval_max_length: int = 2048
    eval_batch_tokens: int | None = Field(
        default=None, ge=1, description="tokens a batch; unset: the device's default (cache or free memory)"
    )
    eval_limit_per_subset: int | None = None

    leaderboard_cache_seconds: int = 30

    # Notifications (app.services.operations.notifications, .webhook_urls, .feeds): webhooks and Atom feeds.
    public_url: str = Field(
        default="",
        description="the site's address as visitors reach it (https://board.example): links in webhook "
        "bodies and the authority of feed entry ids; empty: paths in webhooks, the address asked in feeds",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="also deliver webhooks to loopback and private addresses (tests and one-machine setups)",
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60, description="one webhook request")
    webhook_max_attempts: int = Field(default=6, ge=1, le=20, description="tries before a delivery fails")
    webhook_retry_delays_s: list[float] = Field(
        default_factory=lambda: [30.0, 120.0, 600.0, 3600.0, 3600.0],
        min_length=1,
        description="the wait after each failed try (the last one repeats)",
    )

    db_pool_size: int = Field(default=10, ge=1, description="database connections kept per web process")
    db_max_overflow: int = Field(default=10, ge=0, description="extra connections opened under load")
    db_pool_timeout_s: float = Field(default=5.0, gt=0, description="wait for a free connection, then 503")

    hub_timeout_s: float = Field(default=10.0, gt=0, description="one Hub request")
    hub_deadline_s: float = Field(default=20.0, gt=0, description="all Hub checks of one request")
    hub_concurrency: int = Field(default=4, ge=1, description="Hub checks at once per web process")
    hub_queue_wait_s: float = Field(default=2.0, ge=0, description="wait for a free Hub slot, then 503")

    max_request_body_bytes: int = Field(default=65_536, ge=1024, description="larger bodies get a 413")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="addresses or networks whose X-Forwarded-For is believed"
    )
    client_submission_limit: int = Field(default=10, ge=1, description="per client IP and per user")
    client_submission_window_s: int = Field(default=3600, ge=1)
    client_validation_limit: int = Field(default=30, ge=1, description="dry runs per client IP and per user")
    client_validation_window_s: int = Field(default=60, ge=1)
    limits_url: str = Field(
        default="",
        description="Redis for the per-client check limits shared by all web processes; empty: per process",
    )

    hf_oauth_client_id: str = ""
    hf_oauth_client_secret: str = ""
    hf_oauth_provider_url: str = "https://huggingface.co"
    hf_oauth_scopes: str = "openid profile"
    submit_requires_sign_in: bool = False

    # Health, metrics and logs (app.services.operations.health and .metrics, app.http.request_log).
    log_format: Literal["", "json", "text"] = Field(
        default="", description="json: one JSON object a line; empty: json in production, text in development"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="the least severe log lines written"
    )
    request_log: bool = Field(default=True, description="one log line per request, with its request id")
    metrics_enabled: bool = Field(default=True, description="request latency histograms and /metrics")
    metrics_db_cache_s: float = Field(
        default=10.0, ge=0, description="how long /metrics reuses its database counts (queues, runs)"
    )
    ready_heartbeat_max_age_s: float = Field(
        default=120.0, gt=0, description="/readyz needs a worker heartbeat at most this old"
    )
    ready_check_timeout_s: float = Field(
        default=2.0, gt=0, description="/readyz gives the database and the broker this long each"
    )
    worker_heartbeat_s: float = Field(
        default=15.0, gt=0, description="how often a worker writes its heartbeat to the database"
    )

    admin_token: str = Field(
        default="", description="the operator token for the admin API (Authorization: Bearer); 32+ characters"
    )
    admin_token_file: Path | None = Field(default=None, description="a file holding ADMIN_TOKEN instead")
    maintainers: list[str] = Field(
        default_factory=list, description="Hugging Face user names who may run the board once signed in"
    )

    # Judges on OpenAI-compatible endpoints (worker.engine.judging.endpoints): the operator's registry.
    judge_endpoints: dict[str, dict[str, object]] = Field(
        default_factory=dict,
        description="endpoint name -> definition (JSON); a key is named by api_key_env or api_key_file, "
        "never written here",
    )
    judge_endpoints_file: Path | None = Field(default=None, description="a JSON or TOML file of definitions")

    # Data snapshots (app.services.operations.snapshots): Parquet files under DATA_DIR/snapshots.
    snapshot_hour_utc: int = Field(
        default=3, ge=0, le=23, description="the hour (UTC) of the daily snapshot of every benchmark"
    )
    snapshot_keep_days: int = Field(
        default=30, ge=1, description="snapshots older than this many days are deleted (the newest is kept)"
    )

    @field_validator("worker_classes")
    @classmethod
    def _known_classes(cls, value: list[str | float]) -> list[str | float]:
        from app.services.intake.queues import WorkerClass

        if not value:
            raise ValueError("at least one worker class is needed")
        for entry in value:
            WorkerClass.parse(entry)
        return value

    def dataset_for(self, benchmark: str) -> str | None:
        """The operator's local copy of a benchmark's core data, or None: its pinned Hub dataset."""
        if benchmark in self.dataset_paths:
            return self.dataset_paths[benchmark] or None
        if benchmark == "rewardbench-v1":
            return self.dataset_path or None
        return None

    @property
    def is_development(self) -> bool:
        if self.environment:
            return self.environment == "development"
        return not self.database_url  # the embedded SQLite default

    @property
    def resolved_log_format(self) -> Literal["json", "text"]:
        if self.log_format:
            return self.log_format
        return "text" if self.is_development else "json"

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.hf_oauth_client_id and self.hf_oauth_client_secret)

    def check_safe_to_serve(self) -> None:
        """Refuse settings that must never reach production; development keeps its conveniences."""
        if not self.is_development and self.secret_key == DEFAULT_SECRET_KEY:
            raise ConfigurationError(
                "SECRET_KEY is the built-in development value, which anyone can read in the source. "
                "Set SECRET_KEY to a long random string (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`), or set ENVIRONMENT=development for a local run."
            )
        from app.services.intake.endpoint_judges import check_registry
        from app.services.operations.maintainers import check_admin_token

        check_admin_token(self)
        check_registry(self)
        if self.submit_requires_sign_in and not self.oauth_enabled:
            raise ConfigurationError(
                "SUBMIT_REQUIRES_SIGN_IN is set but Sign in with Hugging Face is not configured "
                "(HF_OAUTH_CLIENT_ID and HF_OAUTH_CLIENT_SECRET)."
            )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rewardboard.db').as_posix()}"

    def resolved_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.db').as_posix()}"

    def resolved_admin_token(self) -> str:
        """ADMIN_TOKEN, else the content of ADMIN_TOKEN_FILE (stripped), else the embedded default's file."""
        if self.admin_token:
            return self.admin_token
        path = self.admin_token_file or (self.data_dir / "admin-token" if self.is_development else None)
        if path is None or not path.is_file():
            return ""
        return path.read_text(encoding="utf-8").strip()

    def resolved_weights_cache(self) -> Path:
        return self.weights_cache_dir or self.data_dir / "weights"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
