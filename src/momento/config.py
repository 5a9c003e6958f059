"""Settings, read once at start from the environment (and an optional `.env`).

Every value is validated when the process starts; a bad value stops it with one clear line per
problem (see `load_settings`). Defaults run on a laptop with nothing configured: an embedded
PostgreSQL and generated signing keys under the data directory. `MOMENTO_ENV=production` turns
the defaults that are only safe on a laptop into errors.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


class SettingsError(Exception):
    """The environment holds settings the server cannot start with."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


Seconds = Annotated[int, Field(ge=1)]


def _url(v: str, schemes: tuple[str, ...], problem: str, *, host: bool = True) -> str:
    """`v` if it is a URL with one of `schemes` (and a host, unless `host` is False), else a
    ValueError saying `problem`."""
    parts = urlsplit(v)
    if parts.scheme not in schemes or (host and not parts.hostname):
        raise ValueError(problem)
    return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MOMENTO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- where it runs ---
    env: Environment = Environment.development
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Path(".momento")
    # Public base URL of this server, used in mailed links and the JWT issuer.
    public_url: str | None = None
    log_level: str = "info"
    log_json: bool | None = None

    # --- database ---
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "MOMENTO_DATABASE_URL")
    )
    db_pool_min: int = Field(2, ge=1)
    db_pool_max: int = Field(16, ge=1)
    # A request waits this long for a database connection (PostgreSQL restarting: the pool
    # reconnects meanwhile), then answers 503 with Retry-After.
    db_pool_timeout: float = Field(5.0, gt=0, le=60)

    # --- auth ---
    # PEM of the EC P-256 private key that signs access tokens. Generated and kept in the data
    # directory in embedded mode; required in production.
    jwt_private_key: str | None = Field(
        None, validation_alias=AliasChoices("JWT_PRIVATE_KEY", "MOMENTO_JWT_PRIVATE_KEY")
    )
    # Legacy HS256 secret (Supabase's JWT secret): only used to verify the anon and service
    # API keys an existing Supabase client sends in `apikey`; user tokens are always ES256.
    access_token_ttl: Seconds = 3600
    refresh_token_ttl: Seconds = 60 * 60 * 24 * 60
    # Grace period in which a just-rotated refresh token is still accepted (two app tabs racing).
    refresh_reuse_interval: int = Field(10, ge=0)
    email_confirm: bool = False
    # An email change waits for the links mailed to both the current and the new address
    # (GoTrue's secure email change); off: the new address's link alone applies it.
    secure_email_change: bool = True
    disable_signup: bool = False
    # Guests: POST /auth/v1/signup with no email signs in an anonymous user (GoTrue's anonymous
    # sign-ins), who adds an email later. Unset: on in development and test, off in production
    # (an operator opts in knowing guests are accounts too); off, the call is 422
    # anonymous_provider_disabled.
    anonymous_signins: bool | None = None
    # Guests never used (no sign-in, no token refresh) for this many days are deleted with
    # their data by the daily cleanup job.
    anonymous_user_retention_days: int = Field(30, ge=1)
    password_min_length: int = Field(8, ge=6, le=72)
    # Character sets a password must each draw from, GoTrue's GOTRUE_PASSWORD_REQUIRED_CHARACTERS
    # form: sets separated by ':' ('\:' for a colon), e.g. "abc...z:ABC...Z:0123456789".
    # Empty: none required (a long passphrase of lowercase words is a good password).
    password_required_characters: str = ""
    # Ask Have I Been Pwned (k-anonymity: only the first 5 hex digits of the SHA-1 leave the
    # server) whether a new password is in known breaches. Off by default: it sends a request
    # to a third party on every signup and password change. When the API is down or slower
    # than the timeout the password is accepted and a warning logged (GoTrue's default).
    password_hibp_enabled: bool = False
    password_hibp_url: str = "https://api.pwnedpasswords.com"  # noqa: S105 (a URL)
    password_hibp_timeout: float = Field(2.0, gt=0, le=10)
    # Where mailed links send the user after /verify (the app's universal link).
    site_url: str | None = None
    redirect_allow_list: list[str] = Field(default_factory=list)
    otp_ttl: Seconds = 60 * 60 * 24
    # At most one confirmation or recovery mail per address in this many seconds.
    email_send_interval: int = Field(60, ge=0)

    # --- mail ---
    smtp_url: str | None = Field(
        None, validation_alias=AliasChoices("SMTP_URL", "MOMENTO_SMTP_URL")
    )
    mail_from: str = "Momento <no-reply@momento.local>"
    smtp_timeout: float = Field(10.0, gt=0)

    # --- HTTP ---
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    # Addresses of reverse proxies whose X-Forwarded-For is trusted ("*" for all).
    forwarded_allow_ips: str = "127.0.0.1"

    # --- storage ---
    # Where photos are kept: unset for `<data dir>/files`, `file:///path`, or
    # `s3://bucket[/prefix]?endpoint=http://host:9000&region=...` (credentials: AWS_* variables).
    storage_url: str | None = Field(
        None, validation_alias=AliasChoices("STORAGE_URL", "MOMENTO_STORAGE_URL")
    )
    # S3 credentials. Read here as well as by the AWS SDK's own chain (which only looks at the
    # process environment, profiles and instance roles) so that they can stand in `.env` beside
    # every other setting; unset, the chain decides.
    aws_access_key_id: str | None = Field(
        None,
        validation_alias=AliasChoices("AWS_ACCESS_KEY_ID", "MOMENTO_AWS_ACCESS_KEY_ID"),
        repr=False,
    )
    aws_secret_access_key: str | None = Field(
        None,
        validation_alias=AliasChoices("AWS_SECRET_ACCESS_KEY", "MOMENTO_AWS_SECRET_ACCESS_KEY"),
        repr=False,
    )
    # The old deployment's bucket credentials for `momento legacy import --files` (Supabase
    # Storage's S3 access keys): apart from this server's own, and never in the command line,
    # the job's arguments or the logs; unset, the AWS credential chain decides.
    legacy_s3_access_key_id: str | None = Field(
        None,
        validation_alias=AliasChoices("LEGACY_S3_ACCESS_KEY_ID", "MOMENTO_LEGACY_S3_ACCESS_KEY_ID"),
        repr=False,
    )
    legacy_s3_secret_access_key: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "LEGACY_S3_SECRET_ACCESS_KEY", "MOMENTO_LEGACY_S3_SECRET_ACCESS_KEY"
        ),
        repr=False,
    )
    # Signs the local backend's file URLs. Generated and kept in the data directory unless set;
    # required in production when files are stored locally.
    files_signing_secret: str | None = Field(
        None,
        validation_alias=AliasChoices("FILES_SIGNING_SECRET", "MOMENTO_FILES_SIGNING_SECRET"),
        min_length=32,
    )
    # How long signed file URLs stay valid.
    signed_url_ttl: int = Field(3600, ge=60, le=7 * 24 * 3600)

    # --- realtime streams (momento.realtime) ---
    # How long the change log keeps rows: a client reconnecting within it gets what it missed
    # (Last-Event-ID), one older is told to resync (reload the feed).
    stream_resume_seconds: int = Field(300, ge=10, le=24 * 3600)
    # Heartbeat comments keep proxies (and load balancers) from closing idle streams.
    stream_heartbeat_seconds: float = Field(15.0, gt=0, le=300)
    # The SSE `retry:` sent first: how soon (ms) a client reconnects after losing the stream.
    stream_retry_ms: int = Field(2000, ge=100, le=60_000)
    # Messages queued for one client before it is deemed too slow and closed with `resync`.
    stream_queue_size: int = Field(256, ge=8, le=100_000)

    # --- photos ---
    photo_limit_free: int = Field(100, ge=1)
    photo_limit_premium: int = Field(1000, ge=1)
    # Uploads are accepted until release_at plus this grace (photos shot offline arrive late).
    upload_grace: int = Field(6 * 3600, ge=0)
    max_upload_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    # Decompression-bomb guard: images with more pixels are refused before decoding.
    max_pixels: int = Field(100_000_000, ge=1_000_000)
    # Threads doing image work (libvips and pillow-heif release the GIL).
    image_workers: int = Field(2, ge=1, le=64)
    # A reported photo is hidden for everyone (not only its reporters) once this many distinct
    # signed-up members reported it; anonymous guests' reports do not count (issue 14). The
    # event's host hides or restores a photo at once whatever the count.
    reports_to_hide: int = Field(3, ge=1, le=1000)
    # Who may download an event's photos as one ZIP (GET /v1/events/{id}/export.zip) once
    # revealed: "everyone" (every member) or "premium" (members of premium events only), for
    # a host who sells the archive as part of premium.
    export_zip: Literal["everyone", "premium"] = "everyone"

    # --- analytics ---
    # PostHog project key (phc_...): unset, nothing is captured and no flags are evaluated.
    posthog_api_key: str | None = Field(
        None, validation_alias=AliasChoices("POSTHOG_API_KEY", "MOMENTO_POSTHOG_API_KEY")
    )
    posthog_host: str = Field(
        "https://us.i.posthog.com",
        validation_alias=AliasChoices("POSTHOG_HOST", "MOMENTO_POSTHOG_HOST"),
    )
    # Captured events are sent in batches of this many, or after this many seconds.
    posthog_flush_at: int = Field(100, ge=1, le=1000)
    posthog_flush_interval: float = Field(5.0, gt=0)
    # One upload to PostHog gives up after this long (it runs in a background thread).
    posthog_timeout: float = Field(5.0, gt=0)
    # Feature flags for GET /v1/config: PostHog gets this long, then the answer has none;
    # a user's flags are reused for this many seconds (0: asked every time).
    posthog_flags_timeout: float = Field(1.0, gt=0, le=10)
    posthog_flags_ttl: int = Field(60, ge=0)

    # --- push ---
    # APNs token authentication: the .p8 key (its PEM text in APNS_KEY, or a path to the file
    # in APNS_KEY_FILE), its key id, the team id and the app's bundle id (the topic). All or
    # none: unset, notifications are only logged (the console sender, embedded mode).
    apns_key: str | None = Field(
        None, validation_alias=AliasChoices("APNS_KEY", "MOMENTO_APNS_KEY")
    )
    apns_key_file: Path | None = Field(
        None, validation_alias=AliasChoices("APNS_KEY_FILE", "MOMENTO_APNS_KEY_FILE")
    )
    apns_key_id: str | None = Field(
        None, validation_alias=AliasChoices("APNS_KEY_ID", "MOMENTO_APNS_KEY_ID")
    )
    apns_team_id: str | None = Field(
        None, validation_alias=AliasChoices("APNS_TEAM_ID", "MOMENTO_APNS_TEAM_ID")
    )
    apns_topic: str | None = Field(
        None, validation_alias=AliasChoices("APNS_TOPIC", "MOMENTO_APNS_TOPIC")
    )
    # Apple's development environment (builds signed for development) instead of production.
    apns_use_sandbox: bool = Field(
        False, validation_alias=AliasChoices("APNS_USE_SANDBOX", "MOMENTO_APNS_USE_SANDBOX")
    )
    # Another APNs base URL (https://host:port): a fake or a proxy.
    apns_url: str | None = Field(
        None, validation_alias=AliasChoices("APNS_URL", "MOMENTO_APNS_URL")
    )
    # "New photos added" goes out at most once per event per this many seconds (uploads in
    # between are announced together).
    push_new_photos_interval: int = Field(600, ge=10)

    # --- Sign in with Apple ---
    # The client ids Apple identity tokens may be issued to (their `aud`): the app's bundle id,
    # and a services id for web sign-in; comma-separated or a JSON list. Unset, the `apple`
    # provider is disabled (the id_token grant answers GoTrue's provider_disabled).
    apple_client_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # For exchanging the app's authorization code (and revoking the refresh token it yields when
    # an account is deleted, as the App Store requires): the team id, the Sign in with Apple
    # key's id and its .p8 key (PEM text in APPLE_PRIVATE_KEY, or a path in
    # APPLE_PRIVATE_KEY_FILE). All or none; the id_token grant needs only the client ids.
    apple_team_id: str | None = None
    apple_key_id: str | None = None
    apple_private_key: str | None = Field(None, repr=False)
    apple_private_key_file: Path | None = None
    # Apple's base URL (/auth/keys, /auth/token, /auth/revoke): a fake in tests.
    apple_url: str = "https://appleid.apple.com"
    # One request to Apple gives up after this many seconds (the app's request is waiting).
    apple_timeout: float = Field(10.0, gt=0, le=60)
    # Apple's signing keys are cached this long (an unknown key id refetches them, at most
    # once a minute).
    apple_keys_ttl: Seconds = 3600
    # Encrypts stored Apple refresh tokens (AES-GCM, key derived with HKDF). Generated and kept
    # in the data directory unless set; required in production when the code exchange is
    # configured. Changing it makes the stored tokens unreadable (they can then not be revoked).
    apple_token_secret: str | None = Field(None, min_length=32, repr=False)

    # --- jobs ---
    # `momento serve` runs a job worker in its process; turn off when separate
    # `momento worker` processes run the jobs.
    inprocess_worker: bool = True
    worker_concurrency: int = Field(10, ge=1, le=200)
    # Each worker records a heartbeat this often; a worker silent for `worker_stalled_after`
    # seconds is taken for dead (killed, machine lost) and its jobs are run again.
    worker_heartbeat_interval: float = Field(10.0, gt=0, le=300)
    worker_stalled_after: Seconds = 30
    # A notification claimed by a worker that died before recording APNs' answer is sent
    # again (same apns-id and collapse id) once it has been in flight this many seconds.
    push_sending_lease: Seconds = 300

    # --- cleanup ---
    # Free events are soft-deleted this many days after their reveal, then hard-deleted
    # (files and rows); premium events are kept.
    free_event_retention_days: int = Field(7, ge=0)
    # A photo still pending this many seconds after it was created is marked failed
    # (`upload_expired`) and its partial files are removed.
    pending_upload_expiry: Seconds = 24 * 3600
    # Stored files no row points to are removed once they are this many seconds old (younger
    # ones may belong to a write in flight).
    orphan_file_grace: Seconds = 3600

    # --- billing (RevenueCat) ---
    # The value RevenueCat sends verbatim in the webhook's Authorization header (set in its
    # dashboard); unset, POST /webhooks/revenuecat answers 503.
    revenuecat_webhook_auth: str | None = Field(
        None,
        validation_alias=AliasChoices("REVENUECAT_WEBHOOK_AUTH", "MOMENTO_REVENUECAT_WEBHOOK_AUTH"),
    )
    # Secret API key for the REST API (purchase verification); unset, verification answers 503.
    revenuecat_api_key: str | None = Field(
        None, validation_alias=AliasChoices("REVENUECAT_API_KEY", "MOMENTO_REVENUECAT_API_KEY")
    )
    revenuecat_api_url: str = Field(
        "https://api.revenuecat.com",
        validation_alias=AliasChoices("REVENUECAT_API_URL", "MOMENTO_REVENUECAT_API_URL"),
    )
    revenuecat_timeout: float = Field(10.0, gt=0)
    # Products that make one event premium (bought per event by its host), as a JSON list.
    premium_product_ids: list[str] = Field(default_factory=lambda: ["event_premium"])
    # Entitlement of a host subscription: while active, the events its holder creates are
    # premium. Unset: no host subscription.
    host_entitlement_id: str | None = None

    # --- rate limits (requests per window, per client address and per account) ---
    rate_limit_window: Seconds = 60
    # Password sign-in attempts per window: from one client address (any accounts), and for
    # one account from one address (the pair). The per-account ceiling counts the attempts
    # from addresses the account has not signed in from lately (see `login_known_address_days`)
    # and refuses only those: an attack spread over many addresses is slowed down, while the
    # owner's own devices keep their allowance and are never locked out by it.
    rate_limit_login_per_ip: int = Field(30, ge=1)
    rate_limit_login_per_account_ip: int = Field(10, ge=1)
    rate_limit_login_per_account: int = Field(10, ge=1)
    # An (account, address) pair that signed in successfully this many days ago or less is
    # known: its attempts are not held to the account ceiling. The address is kept only as a
    # keyed hash, and forgotten after this many days.
    login_known_address_days: int = Field(30, ge=1, le=365)
    # Wrong mailed codes (POST /verify with email+token or token_hash; a followed link) per
    # window, from one address and for one account (when the email names it). A correct code
    # does not count. Kept low for the account: a 6-digit code must not be guessable, even
    # from many addresses, in the day it is valid.
    rate_limit_verify_window: Seconds = 3600
    rate_limit_verify_per_ip: int = Field(30, ge=1)
    rate_limit_verify_per_account: int = Field(10, ge=1)
    rate_limit_recover_per_ip: int = Field(10, ge=1)
    rate_limit_recover_per_account: int = Field(3, ge=1)
    rate_limit_join_per_ip: int = Field(60, ge=1)
    rate_limit_join_per_account: int = Field(20, ge=1)
    rate_limit_signup_per_ip: int = Field(30, ge=1)
    # Guest sign-ins per client address per `rate_limit_anonymous_window` seconds. A venue's
    # guests share one NAT address, so it is far above the signup limit (GoTrue: 30 an hour);
    # yet each one is an account, so it is counted over an hour, not a minute. The window stays
    # within the limiter's pruning horizon (an hour past the shortest window).
    rate_limit_anonymous_per_ip: int = Field(300, ge=1)
    rate_limit_anonymous_window: int = Field(3600, ge=1, le=3600)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, v: str | None) -> str | None:
        if not v:
            return None
        return _url(v, ("postgresql", "postgres"), "must be a postgresql:// URL", host=False)

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, v: str | None) -> str | None:
        if not v:
            return None
        return _url(
            v, ("smtp", "smtps"), "must look like smtp://user:pass@host:587 or smtps://host:465"
        )

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        from momento.storage.url import parse

        parse(v)
        return v

    @field_validator("password_hibp_url")
    @classmethod
    def _check_hibp_url(cls, v: str) -> str:
        problem = "must be an http(s):// URL such as https://api.pwnedpasswords.com"
        return _url(v, ("http", "https"), problem).rstrip("/")

    @field_validator("posthog_host")
    @classmethod
    def _check_posthog_host(cls, v: str) -> str:
        problem = "must be an http(s):// URL such as https://eu.i.posthog.com"
        return _url(v, ("http", "https"), problem).rstrip("/")

    @field_validator(
        "posthog_api_key", "apns_key", "apns_key_id", "apns_team_id", "apns_topic", "apns_url"
    )
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @field_validator("apns_url")
    @classmethod
    def _check_apns_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        problem = "must be an https:// URL such as https://api.push.apple.com"
        return _url(v, ("https",), problem).rstrip("/")

    @model_validator(mode="after")
    def _check_apns(self) -> Settings:
        if self.apns_key and self.apns_key_file:
            raise ValueError("set APNS_KEY or APNS_KEY_FILE, not both")
        given = {
            "APNS_KEY (or APNS_KEY_FILE)": bool(self.apns_key or self.apns_key_file),
            "APNS_KEY_ID": bool(self.apns_key_id),
            "APNS_TEAM_ID": bool(self.apns_team_id),
            "APNS_TOPIC": bool(self.apns_topic),
        }
        if any(given.values()) and not all(given.values()):
            missing = [name for name, ok in given.items() if not ok]
            raise ValueError(
                "APNs needs APNS_KEY (or APNS_KEY_FILE), APNS_KEY_ID, APNS_TEAM_ID and "
                "APNS_TOPIC together; missing " + ", ".join(missing)
            )
        if self.apns_key_file is not None and not self.apns_key_file.is_file():
            raise ValueError(f"APNS_KEY_FILE {self.apns_key_file} is not a readable file")
        return self

    @field_validator("apple_client_ids", mode="before")
    @classmethod
    def _split_client_ids(cls, v: object) -> object:
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return v

    @field_validator("apple_team_id", "apple_key_id", "apple_private_key")
    @classmethod
    def _apple_blank_is_unset(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @field_validator("apple_url")
    @classmethod
    def _check_apple_url(cls, v: str) -> str:
        problem = "must be an http(s):// URL such as https://appleid.apple.com"
        return _url(v, ("http", "https"), problem).rstrip("/")

    @model_validator(mode="after")
    def _check_apple(self) -> Settings:
        if self.apple_private_key and self.apple_private_key_file:
            raise ValueError(
                "set MOMENTO_APPLE_PRIVATE_KEY or MOMENTO_APPLE_PRIVATE_KEY_FILE, not both"
            )
        given = {
            "MOMENTO_APPLE_TEAM_ID": bool(self.apple_team_id),
            "MOMENTO_APPLE_KEY_ID": bool(self.apple_key_id),
            "MOMENTO_APPLE_PRIVATE_KEY (or _FILE)": bool(
                self.apple_private_key or self.apple_private_key_file
            ),
        }
        if any(given.values()):
            missing = [name for name, ok in given.items() if not ok]
            if not self.apple_client_ids:
                missing.append("MOMENTO_APPLE_CLIENT_IDS")
            if missing:
                raise ValueError(
                    "the Apple code exchange needs MOMENTO_APPLE_CLIENT_IDS, _TEAM_ID, _KEY_ID"
                    " and _PRIVATE_KEY (or _PRIVATE_KEY_FILE) together; missing "
                    + ", ".join(missing)
                )
        if self.apple_private_key_file is not None and not self.apple_private_key_file.is_file():
            raise ValueError(
                f"MOMENTO_APPLE_PRIVATE_KEY_FILE {self.apple_private_key_file}"
                " is not a readable file"
            )
        return self

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, v: str) -> str:
        v = v.lower()
        if v not in ("debug", "info", "warning", "error"):
            raise ValueError("must be one of debug, info, warning, error")
        return v

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.photo_limit_premium < self.photo_limit_free:
            raise ValueError("MOMENTO_PHOTO_LIMIT_PREMIUM must not be below the free limit")
        if self.worker_stalled_after <= self.worker_heartbeat_interval:
            raise ValueError(
                "MOMENTO_WORKER_STALLED_AFTER must be longer than MOMENTO_WORKER_HEARTBEAT_INTERVAL"
            )
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("MOMENTO_DB_POOL_MIN must not exceed MOMENTO_DB_POOL_MAX")
        if self.anonymous_signins is None:
            self.anonymous_signins = self.env is not Environment.production
        if self.env is Environment.production:
            missing = [
                name
                for name, value in (
                    ("DATABASE_URL", self.database_url),
                    ("JWT_PRIVATE_KEY", self.jwt_private_key),
                    ("MOMENTO_PUBLIC_URL", self.public_url),
                    ("SMTP_URL", self.smtp_url),
                )
                if not value
            ]
            if self.local_storage and not self.files_signing_secret:
                missing.append("FILES_SIGNING_SECRET")
            if self.apple_exchange_configured and not self.apple_token_secret:
                missing.append("MOMENTO_APPLE_TOKEN_SECRET")
            if missing:
                raise ValueError("production mode needs " + ", ".join(missing) + " to be set")
        return self

    @property
    def embedded(self) -> bool:
        """True when the server starts its own PostgreSQL (no DATABASE_URL given)."""
        return self.database_url is None

    @property
    def local_storage(self) -> bool:
        """True when files live on this machine's disk (no s3:// STORAGE_URL)."""
        return not (self.storage_url or "").startswith("s3:")

    @property
    def apns_configured(self) -> bool:
        """True when APNs credentials are set (else the console sender logs notifications)."""
        return bool(
            (self.apns_key or self.apns_key_file)
            and self.apns_key_id
            and self.apns_team_id
            and self.apns_topic
        )

    def apns_key_pem(self) -> str | None:
        """The .p8 key's PEM text, from APNS_KEY or read from APNS_KEY_FILE."""
        if self.apns_key:
            return self.apns_key.replace("\\n", "\n")
        if self.apns_key_file is not None:
            return self.apns_key_file.read_text(encoding="utf-8")
        return None

    @property
    def apple_enabled(self) -> bool:
        """True when Sign in with Apple is on (client ids set)."""
        return bool(self.apple_client_ids)

    @property
    def apple_exchange_configured(self) -> bool:
        """True when authorization codes can be exchanged and tokens revoked at Apple."""
        return bool(
            self.apple_client_ids
            and self.apple_team_id
            and self.apple_key_id
            and (self.apple_private_key or self.apple_private_key_file)
        )

    def apple_private_key_pem(self) -> str | None:
        """The Sign in with Apple .p8 key's PEM text, from the setting or its file."""
        if self.apple_private_key:
            return self.apple_private_key.replace("\\n", "\n")
        if self.apple_private_key_file is not None:
            return self.apple_private_key_file.read_text(encoding="utf-8")
        return None

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def _env_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else ""
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        return str(info.validation_alias.choices[0])
    return ("MOMENTO_" + field).upper() if field else "settings"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = _env_name(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            # A check of the whole (model validators: no loc) would echo every setting.
            shown = "" if "production" in msg or not err["loc"] else f" (got {err.get('input')!r})"
            if name.endswith(("KEY", "URL", "PASSWORD", "SECRET")):
                shown = ""  # never echo secrets
            problems.append(f"{name}: {msg}{shown}")
        raise SettingsError(problems) from None
