"""Service configuration: one frozen object read from PROMPTCUT_* environment variables at the edge.

Library code receives a Settings (or the values it needs) as arguments and never reads the environment itself.
Tests build `Settings(data_dir=tmp_path, ...)` directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fusion.segmenters import segmenter_choices

SEGMENTERS = tuple(segmenter_choices())  # auto and every registered backend


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROMPTCUT_", frozen=True, extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path.home() / ".local" / "share" / "promptcut")
    # "" → a SQLite file in data_dir (zero set-up); e.g. postgresql+psycopg://user@host/db when scaled out.
    database_url: str = ""
    # False (`promptcut serve --no-migrate`): the server never changes the schema; it refuses to start unless the
    # database is at the head revision (`promptcut migrate` brings it there, e.g. as a more privileged account).
    migrate_on_start: bool = True
    # Same variable (PROMPTCUT_MODELS) as the CLI's --models option.
    models: Path = Field(default_factory=lambda: Path.home() / ".cache" / "promptcut" / "models")
    segmenter: str = "auto"

    workers: int = Field(default=2, ge=1)
    torch_threads: int = Field(default=1, ge=1)
    cutout_side: int = Field(default=0, ge=0)  # salient backend: model input px (0 = the model's own size)
    precision: str = Field(default="auto", pattern=r"^(auto|bf16|fp32)$")  # neural backend (see NeuralSegmenter)
    queue_size: int = Field(default=8, ge=1)  # pending work held in memory by the pool; beyond → 429

    max_upload_bytes: int = Field(default=25_000_000, gt=0)
    # Any body that is not a multipart upload (JSON: URLs and options). 500 items with long URLs fit in ~1.5 MB.
    max_json_bytes: int = Field(default=4_000_000, gt=0)
    max_pixels: int = Field(default=40_000_000, gt=0)
    max_items_per_job: int = Field(default=500, ge=1)
    max_concurrent_jobs_per_key: int = Field(default=4, ge=1)
    # Per-key limits (service/jobs/key_limits.py; docs/operations.md "Limits per store"): beyond → 429.
    max_queued_items_per_key: int = Field(default=2000, ge=1)
    max_cuts_per_key: int = Field(default=2, ge=1)  # cut-outs, reprompts, corrections in flight
    max_swaps_per_key: int = Field(default=1, ge=1)  # jobs being re-themed at once
    max_zip_builds_per_key: int = Field(default=1, ge=1)
    max_url_fetches_per_key: int = Field(default=2, ge=1)  # cut-out image URLs being downloaded

    allow_http_urls: bool = False
    # "host" or "host:port" exempt from the private-address check (an internal image CDN). The environment
    # variable takes a comma-separated list or a JSON list.
    url_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    url_timeout: float = Field(default=20.0, gt=0)
    url_max_redirects: int = Field(default=5, ge=0)
    webhook_timeout: float = Field(default=5.0, gt=0)

    # Encrypts store tokens at rest. "" → a random key kept in data_dir/secret.key (one server); servers that
    # share a database must all be given the same value.
    secret_key: SecretStr = SecretStr("")
    # "host:port" a store's explicit API URL may name over plain http (loopback only: a local test store).
    store_api_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    store_timeout: float = Field(default=30.0, gt=0)  # one request to a store's Admin API
    # A store webhook triggered longer ago than this is refused as a replay. Shopify retries a failed delivery
    # for up to 48 h with the original X-Shopify-Triggered-At, so a shorter window drops the retries that
    # follow an outage longer than it. Delivery ids are kept for at least this long (duplicates are ignored).
    store_webhook_max_age: int = Field(default=48 * 3600, ge=60)  # seconds
    store_webhook_max_bytes: int = Field(default=2_000_000, gt=0)  # a webhook body larger than this: 413

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    lease_seconds: int = Field(default=600, ge=1)  # a running item whose claim is older is re-queued

    # Scaled out (docs/operations.md "Running on several machines"): "" = in-process workers (the default).
    # redis://host:6379/0 or amqp://user:password@host:5672// — `promptcut serve` then hands job items to
    # `promptcut worker` processes through it; the database stays the record of every item's state.
    broker_url: str = ""
    # Job items handed to the broker and not yet started, at most. A store's new job waits behind at most this many
    # items spread over the workers, so keep it near the number of worker processes (too small: workers idle).
    broker_window: int = Field(default=4, ge=1)
    # A handed item still queued after this long is handed again (a message lost with a broker restart); a
    # duplicate is harmless: only one worker can claim an item.
    broker_resend_seconds: float = Field(default=120.0, gt=0)
    # "" = the only server on this database: on start it re-queues every interrupted item. Several servers
    # sharing one PostgreSQL each get a stable, distinct name: on start each takes back only its own items,
    # and the lease re-queues those of a server that never came back.
    instance_name: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9._-]*$")

    # Artifacts (docs/operations.md "Artifacts in S3-compatible storage"): "" = the folder data_dir/artifacts (the
    # default); "s3://bucket/prefix" = an S3-compatible bucket (extra `s3`). Credentials: boto3's own chain
    # (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role), never these settings.
    artifacts_url: str = Field(default="", pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?)?$")
    s3_endpoint_url: str = ""  # "" = AWS; e.g. http://minio:9000 for MinIO, Ceph, a local moto server
    s3_region: str = ""  # "" = boto3's (AWS_REGION / AWS_DEFAULT_REGION / ~/.aws/config)
    # 0: the API streams results (only an API key gets them). > 0: result and original downloads answer 307 to a
    # presigned URL valid this long — a bearer link anyone holding it can use, whatever happens to the key.
    s3_presign_seconds: int = Field(default=0, ge=0, le=7 * 24 * 3600)  # S3 signs for at most 7 days

    @field_validator("data_dir", "models", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("segmenter", mode="after")
    @classmethod
    def _known_segmenter(cls, value: str) -> str:
        if value not in SEGMENTERS:
            raise ValueError(f"must be one of {', '.join(SEGMENTERS)}")
        return value

    @field_validator("url_allow_hosts", "store_api_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: database_url, else a SQLite file in data_dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'promptcut.db'}"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"
