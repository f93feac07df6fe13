"""One settings object, read once from ``GEOMON_*`` environment variables.

Everything configurable lives here so a worker, the CLI, tests and benchmarks agree on it; the
object is frozen and passed explicitly (Faust's own env vars such as ``BROKER_URL`` would
otherwise win over keyword arguments).
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    """geomon's configuration; each field is ``GEOMON_<FIELD>`` in the environment."""

    # hide_input_in_errors: a model-level error would otherwise print every value, secrets too.
    model_config = SettingsConfigDict(
        env_prefix="GEOMON_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    broker: str = Field(
        "kafka://127.0.0.1:9092",
        description="Kafka bootstrap URL(s), comma separated (kafka://host:port).",
    )
    app_id: str = Field("geomon", description="Faust application id, the consumer group.")
    topic_prefix: str = Field("geomon", description="Prefix of every topic name.")
    article_partitions: int = Field(8, ge=1, description="Partitions of the articles topic.")
    partitions: int = Field(4, ge=1, description="Partitions of the other topics.")
    replication_factor: int = Field(1, ge=1, description="Replication factor of new topics.")
    web_host: str = Field("127.0.0.1", description="Address the worker's web/metrics port binds.")
    web_port: int = Field(6066, ge=0, le=65535, description="Worker web port (serves /metrics).")
    config_dir: Path = Field(REPO_ROOT / "configs", description="Folder of YAML/JSON configs.")
    samples_dir: Path = Field(REPO_ROOT / "samples", description="Folder of sample articles.")
    data_dir: Path = Field(Path(".geomon-data"), description="Faust data directory.")
    log_level: str = Field("info", description="Log level: debug, info, warn, error.")
    max_article_bytes: int = Field(
        2_000_000, ge=1024, description="Larger messages go to the DLQ (protects the worker)."
    )
    session_timeout: float = Field(
        10.0, gt=0, description="Consumer group session timeout, seconds."
    )
    coder_processes: int = Field(
        0,
        ge=0,
        description="Helper processes that normalize and code articles beside the worker's "
        "event loop (each loads the coder); 0 runs both in the loop. Pays where cores are idle.",
    )
    producer_linger_ms: float = Field(
        5.0,
        ge=0,
        description="How long the producer waits to batch records into one request: fewer, "
        "larger requests cost the worker and the broker less CPU for a few ms of latency.",
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="Faust's guarantee; exactly_once stalls with faust-streaming 0.15 here, so "
        "alerts are deduplicated by the alert ledger instead.",
    )
    webhook_urls: str = Field("", description="Comma-separated URLs that receive each alert.")
    webhook_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key for webhooks.")
    webhook_secret_file: Path | None = Field(
        None, description="File holding the webhook secret (instead of GEOMON_WEBHOOK_SECRET)."
    )
    webhook_timeout: float = Field(5.0, gt=0, description="Seconds per webhook attempt.")
    webhook_retries: int = Field(3, ge=0, description="Retries after a failed delivery.")
    webhook_backoff: float = Field(0.5, ge=0, description="First retry delay, doubling.")
    watchlist_reload: float = Field(
        5.0, ge=0, description="Seconds between watch-list change checks (0: never)."
    )
    security_protocol: SecurityProtocol = Field("PLAINTEXT", description="Kafka security.")
    sasl_mechanism: SaslMechanism | None = Field(None, description="SASL mechanism.")
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    sasl_password_file: Path | None = Field(
        None, description="File holding the SASL password (instead of GEOMON_SASL_PASSWORD)."
    )
    ssl_cafile: Path | None = Field(None, description="CA bundle for TLS.")
    ssl_certfile: Path | None = Field(None, description="Client certificate for mutual TLS.")
    ssl_keyfile: Path | None = Field(None, description="Client key for mutual TLS.")

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any) -> Any:
        """``GEOMON_<SECRET>_FILE`` names a file holding the secret (Docker/Kubernetes secrets)."""
        if not isinstance(data, dict):
            return data
        for name in ("sasl_password", "webhook_secret"):
            path = data.get(f"{name}_file")
            if not path:
                continue
            var = f"GEOMON_{name.upper()}"
            if data.get(name):
                raise ValueError(f"set {var} or {var}_FILE, not both")
            try:
                secret = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"cannot read {var}_FILE {path}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise ValueError(f"{var}_FILE {path} is not UTF-8 text") from None
            data = {**data, name: secret}
        return data

    @model_validator(mode="after")
    def _sasl_consistent(self) -> Settings:
        """A SASL protocol needs a mechanism, and a mechanism needs a SASL protocol."""
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not self.sasl_mechanism:
            raise ValueError(
                f"GEOMON_SECURITY_PROTOCOL={self.security_protocol} needs GEOMON_SASL_MECHANISM"
            )
        if self.sasl_mechanism and not sasl:
            raise ValueError(
                f"GEOMON_SASL_MECHANISM needs GEOMON_SECURITY_PROTOCOL SASL_PLAINTEXT "
                f"or SASL_SSL, not {self.security_protocol}"
            )
        return self

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.lower()
        if level == "warning":
            level = "warn"
        if level not in {"debug", "info", "warn", "error", "crit"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("broker")
    @classmethod
    def _broker(cls, value: str) -> str:
        for part in value.split(","):
            host = part.strip().removeprefix("kafka://")
            if ":" not in host:
                raise ValueError(f"broker {part!r} needs host:port")
        return value

    @property
    def bootstrap_servers(self) -> list[str]:
        """host:port list for plain Kafka clients (kafka-python, aiokafka)."""
        return [p.strip().removeprefix("kafka://") for p in self.broker.split(",")]

    @property
    def broker_url(self) -> str:
        """Faust's ``broker`` argument: kafka:// URLs separated by ';'."""
        return ";".join(f"kafka://{h}" for h in self.bootstrap_servers)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context when the protocol asks for one."""
        if self.security_protocol not in ("SSL", "SASL_SSL"):
            return None
        ctx = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        if self.ssl_certfile:
            ctx.load_cert_chain(
                str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None
            )
        return ctx

    def kafka_python_config(self) -> dict[str, Any]:
        """Security settings as kafka-python keyword arguments."""
        cfg: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            cfg["sasl_mechanism"] = self.sasl_mechanism
            cfg["sasl_plain_username"] = self.sasl_username
            cfg["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        if self.security_protocol in ("SSL", "SASL_SSL"):
            cfg["ssl_context"] = self.ssl_context()
        return cfg

    def faust_credentials(self) -> Any:
        """Faust credentials object for SASL/TLS, or None for PLAINTEXT."""
        from faust.auth import SASLCredentials, SSLCredentials

        ctx = self.ssl_context()
        if self.sasl_mechanism:
            password = self.sasl_password.get_secret_value() if self.sasl_password else ""
            return SASLCredentials(
                username=self.sasl_username,
                password=password,
                ssl_context=ctx,
                mechanism=self.sasl_mechanism,
            )
        if ctx is not None:
            return SSLCredentials(ctx)
        return None

    def topic(self, name: str) -> str:
        """Full topic name with the configured prefix."""
        return f"{self.topic_prefix}.{name}" if name else self.topic_prefix


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
