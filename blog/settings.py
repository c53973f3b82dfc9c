"""Runtime configuration, read from ``BLOG_*`` environment variables and ``.env``."""

from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Shipped so that `make run` works out of the box; refused in production.
DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105
MIN_PRODUCTION_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Every setting is documented in ``.env.example``."""

    model_config = SettingsConfigDict(
        env_prefix="BLOG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./blog.db"
    migration_database_url: str | None = Field(
        default=None,
        description="The tables' owner, for migrations; defaults to database_url.",
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    access_token_minutes: int = Field(default=15, gt=0)
    refresh_token_days: int = Field(default=14, gt=0)
    # SameSite of the refresh cookie (``?refresh_in=cookie``): lax lets a link from
    # another site open the app already signed in; strict does not.
    refresh_cookie_samesite: Literal["strict", "lax"] = "strict"
    password_reset_minutes: int = Field(default=30, gt=0)
    email_link_hours: int = Field(default=48, gt=0)
    verification_resends_per_hour: int = Field(default=3, gt=0)
    password_resets_per_hour: int = Field(default=5, gt=0)
    # RealWorld clients have no refresh token: theirs lives longer (deactivation still
    # ends it at once; the user is re-read on every request).
    conduit_token_hours: int = Field(default=24, gt=0)
    # Per worker; 0 turns the response cache off.
    response_cache_mb: int = Field(default=16, ge=0)
    # A post's history: each save keeps a revision; older ones than the newest N go.
    revisions_per_post: int = Field(default=50, ge=1, le=10_000)
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allow_tenant_signup: bool = True
    rate_limits_enabled: bool = True
    login_attempts_per_minute: int = Field(default=10, gt=0)
    auth_requests_per_minute_per_address: int = Field(default=60, gt=0)
    signups_per_hour_per_address: int = Field(default=20, gt=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] | None = Field(
        default=None,
        description="json: one JSON object per line; console: for reading at a terminal. "
        "Default: json in production, console otherwise.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies (comma-separated addresses or networks, `*` for any) whose "
        "X-Forwarded-For and X-Forwarded-Proto `blog serve` trusts: the client address of "
        "logs and rate limits is then the forwarded one. Empty: trust none.",
    )
    mail_backend: Literal["console", "smtp"] = "console"
    mail_from: str = "blog <no-reply@localhost>"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    # Links in mail point at the frontend; "{tenant}" becomes the blog's slug.
    frontend_url: str = "http://localhost:5173/{tenant}"
    public_url: str = Field(
        default="http://localhost:8000",
        description="Where this API is reached from outside: the sitemap index links its "
        "child sitemaps under it, lists their pages (Link headers); the Host header is never "
        "trusted for that.",
    )
    jobs_url: str = Field(
        default="sqlite:///./blog-jobs.db",
        description="Where job announcements travel: sqlite:///FILE (embedded), redis://…"
        " (production), or memory:// (one process).",
    )
    jobs_queue: str = Field(
        default="blog",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="The queue's name: deployments sharing one Redis need their own.",
    )
    jobs_workers: int = Field(default=2, gt=0, description="Threads of `blog worker`.")
    jobs_keep_days: int = Field(default=7, gt=0, description="Finished jobs kept this long.")
    webhooks_timeout_seconds: float = Field(
        default=10, gt=0, le=60, description="A webhook delivery's whole request, at most."
    )
    webhooks_max_response_bytes: int = Field(
        default=65_536, ge=0, description="Of a receiver's answer, read at most this much."
    )
    webhooks_allow_private_addresses: bool = Field(
        default=False,
        description="Let webhooks reach loopback, private and other internal addresses"
        " (development and tests only: it opens the door to SSRF).",
    )
    shutdown_seconds: float = Field(
        default=20,
        gt=0,
        description="On SIGTERM, how long the server may take to stop: requests in flight"
        " finish meanwhile; past it they are cut (their transactions roll back).",
    )
    media_storage: Literal["local", "s3"] = Field(
        default="local", description="Where uploaded files live: a local directory or S3."
    )
    media_root: Path = Field(default=Path("./media"), description="The local storage's root.")
    media_url: str = Field(
        default="/media",
        description="Where local files are reached: a path (the app serves them there) or "
        "an absolute URL (a web server or CDN serves the root).",
    )
    media_s3_bucket: str | None = None
    media_s3_endpoint_url: str | None = Field(
        default=None, description="An S3-compatible server's URL; empty: AWS."
    )
    media_s3_region: str | None = None
    media_s3_public_url: str | None = Field(
        default=None, description="Where the bucket's objects are read publicly (a CDN)."
    )
    media_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, description="Per upload.")
    media_max_pixels: int = Field(
        default=40_000_000, gt=0, description="Per image (width x height): decompression bombs."
    )
    media_quota_mb: int = Field(
        default=1024, ge=0, description="Stored bytes per blog, all variants counted; 0: none."
    )
    background_queue_size: int = Field(default=1000, gt=0)
    background_retry_seconds: float = Field(default=2, ge=0)
    # GET /metrics: for these addresses only, and with this bearer token when it is set
    # (in production, only with it).
    metrics_allow: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=lambda: [ip_network("127.0.0.0/8"), ip_network("::1/128")]
    )
    metrics_token: SecretStr | None = None

    @property
    def log_json(self) -> bool:
        """Whether log lines are JSON (``log_format``, or the environment's default)."""
        if self.log_format is None:
            return self.environment == "production"
        return self.log_format == "json"

    @property
    def owner_database_url(self) -> str:
        """Where migrations run: the owner of the tables (the app's role must not be)."""
        return self.migration_database_url or self.database_url

    @field_validator("cors_origins", "metrics_allow", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """Accept ``a,b`` as well as a list, so the variable is easy to write."""
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "log_format",
        "media_s3_bucket",
        "media_s3_endpoint_url",
        "media_s3_region",
        "media_s3_public_url",
        "smtp_username",
        "smtp_password",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        """An empty variable (``BLOG_SMTP_USERNAME=``, as in ``.env.example``) means the
        setting is not given: its default, no login, no token, no bucket."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> "Settings":
        if self.media_storage == "s3" and not self.media_s3_bucket:
            raise ValueError("BLOG_MEDIA_STORAGE=s3 needs BLOG_MEDIA_S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> "Settings":
        secret = self.secret_key.get_secret_value()
        if self.environment == "production" and (
            secret == DEFAULT_SECRET_KEY or len(secret) < MIN_PRODUCTION_SECRET_LENGTH
        ):
            raise ValueError(
                "BLOG_SECRET_KEY must be set to a random value of at least "
                f"{MIN_PRODUCTION_SECRET_LENGTH} characters when BLOG_ENVIRONMENT=production "
                "(it signs every access token). Generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
