"""Application settings: pydantic-settings, ``COACHIQ_`` prefix, ``__`` nesting.

Load order (later wins): defaults, then the ``.env`` file, then the environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "COACHIQ_"
PRODUCTION_DATA_DIR = Path("/var/lib/coachiq")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ConfigError(Exception):
    """Settings that cannot be used; ``lines`` name each variable and what is allowed."""

    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = lines


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServerSettings(_Section):
    """HTTP server."""

    host: str = Field(default="127.0.0.1", description="Address to bind.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port, 1-65535.")
    access_log: bool = Field(default=False, description="Log every HTTP request.")
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a connection may take to send a request's headers, then closed.",
    )
    max_connections: int = Field(
        default=512,
        ge=8,
        description="Open HTTP and WebSocket connections beyond which new ones are closed.",
    )


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class CANSettings(_Section):
    """CAN bus interfaces.

    Checked here: the form of each value. Checked by
    ``backend.services.can_config.validate_can_settings`` (it needs python-can and the file
    system): the bus type, and each ``replay:`` channel's options and log file.
    """

    interfaces: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["virtual0"],
        description="Comma-separated channels, e.g. can0,can1, or replay:PATH?speed=2&loop=1.",
    )
    bustype: str = Field(
        default="virtual", description="python-can interface name (socketcan, ...)."
    )
    bus_options: Annotated[dict[str, Any], NoDecode] = Field(
        default_factory=dict, description="JSON object of extra python-can keyword arguments."
    )
    bitrate: int = Field(default=250000, gt=0, description="Bus bitrate in bit/s (RV-C: 250000).")
    interface_mappings: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Logical to physical interfaces, e.g. house:can0,chassis:can1.",
    )
    source_address: int = Field(
        default=0xF9, ge=0, le=253, description="Source address CoachIQ transmits from (0-253)."
    )
    udp_multicast_loopback: bool = Field(
        default=True,
        description=(
            "udp_multicast (development) stays on this machine: sent with TTL 0, datagrams from "
            "other machines dropped. A real coach uses socketcan."
        ),
    )
    rx_queue_size: int = Field(default=20000, ge=10, description="Receive queue bound (frames).")
    rx_batch_window_ms: float = Field(
        default=20.0,
        ge=0,
        le=50,
        description="Milliseconds a readable bus socket waits so its frames are read in one batch.",
    )
    rx_socket_buffer: int = Field(
        default=4 * 2**20,
        ge=0,
        description="Receive buffer (bytes) asked for socket buses; capped by net.core.rmem_max.",
    )
    rx_fast_path: bool = Field(
        default=True,
        description=(
            "Read socketcan and udp_multicast sockets without a python-can Message per frame "
            "(same frames, order and timestamps); false keeps python-can's reader."
        ),
    )
    tx_queue_size: int = Field(default=256, ge=1, description="Transmit queue bound per interface.")
    replay_rate: float = Field(
        default=100.0,
        gt=0,
        le=100_000,
        description="Frames/s a replayed log plays frames without timestamps at (times speed).",
    )
    tx_priority_size: int = Field(
        default=64, ge=1, description="Priority lane (motion Stop frames) bound per interface."
    )
    sniffer_size: int = Field(default=1000, ge=1, description="Frames kept by the sniffer.")
    group_size: int = Field(default=500, ge=1, description="Command/response groups kept.")
    pending_timeout: float = Field(
        default=2.0, gt=0, description="Seconds a command awaits its answer."
    )

    tx_max_age: float = Field(
        default=5.0, gt=0, description="Seconds a queued frame may wait (interface down)."
    )
    reconnect_initial: float = Field(
        default=1.0, gt=0, description="First reconnection delay in seconds (doubles)."
    )
    reconnect_max: float = Field(default=30.0, gt=0, description="Longest reconnection delay.")
    activity_timeout: float = Field(
        default=10.0, gt=0, description="Seconds without frames before 'no CAN activity'."
    )
    address_claiming: bool = Field(
        default=True,
        description="Claim SOURCE_ADDRESS dynamically (yield to higher-priority nodes).",
    )
    name_serial: int = Field(
        default=0, ge=0, le=0x1FFFFF, description="ADDRESS_CLAIM serial number (21 bits)."
    )
    name_manufacturer_code: int = Field(
        default=0, ge=0, le=0x7FF, description="ADDRESS_CLAIM manufacturer code (11 bits)."
    )
    product_id: str = Field(
        default="CoachIQ*CoachIQ Server**",
        description="PRODUCT_ID answer: make*model*serial*unit (ISO 8859-1).",
    )

    @field_validator("interfaces", mode="before")
    @classmethod
    def _parse_interfaces(cls, value: Any) -> Any:
        parsed = _split_csv(value)
        if isinstance(parsed, list) and not parsed:
            raise ValueError("at least one interface is required, e.g. can0 or virtual0")
        return parsed

    @field_validator("interfaces", mode="after")
    @classmethod
    def _check_interfaces(cls, value: list[str]) -> list[str]:
        # Only the form here: whether a replay log exists and the bus type is one python-can
        # knows is checked by backend.services.can_config.validate_can_settings.
        if len(set(value)) != len(value):
            raise ValueError("an interface is listed twice")
        return value

    @field_validator("product_id", mode="after")
    @classmethod
    def _check_product_id(cls, value: str) -> str:
        if value.count("*") < 3:
            raise ValueError("must be four '*'-delimited fields: make*model*serial*unit")
        return value

    @field_validator("bus_options", mode="before")
    @classmethod
    def _parse_bus_options(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f'must be a JSON object such as {{"port": 43114}}: {exc}') from exc
            if not isinstance(parsed, dict):
                raise ValueError('must be a JSON object such as {"port": 43114}')
            return parsed
        return value

    @field_validator("interface_mappings", mode="before")
    @classmethod
    def _parse_mappings(cls, value: Any) -> Any:
        if isinstance(value, str):
            mappings: dict[str, str] = {}
            for item in _split_csv(value):
                logical, sep, physical = item.partition(":")
                if not sep or not logical.strip() or not physical.strip():
                    raise ValueError(
                        f"'{item}' is not LOGICAL:PHYSICAL; expected e.g. house:can0,chassis:can1"
                    )
                mappings[logical.strip()] = physical.strip()
            return mappings
        return value

    @field_validator("interface_mappings", mode="after")
    @classmethod
    def _check_mappings(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        interfaces = info.data.get("interfaces")
        if not interfaces:
            return value
        for logical, physical in value.items():
            if physical not in interfaces:
                raise ValueError(
                    f"'{logical}' maps to '{physical}', which is not in "
                    f"{ENV_PREFIX}CAN__INTERFACES ({', '.join(interfaces)})"
                )
        return value


class RVCSettings(_Section):
    """RV-C protocol and coach model."""

    spec_path: Path | None = Field(
        default=None, description="RV-C spec JSON (default config/rvc.json)."
    )
    coach_mapping_path: Path | None = Field(
        default=None, description="Coach mapping YAML (default config/coach_mapping.default.yml)."
    )
    coach_model: str | None = Field(
        default=None, description="Name of a shipped mapping, config/coach_mapping.<model>.yml."
    )
    mapping_versions: int = Field(
        default=20, ge=1, le=1000, description="Previous mapping versions kept for undo."
    )


class SimulatorSettings(_Section):
    """The simulated coach (on by default with the virtual bus type)."""

    faults: bool = Field(default=False, description="Raise and clear DM_RV faults now and then.")
    fault_interval: float = Field(
        default=120.0, gt=0, description="Mean seconds between simulated faults per node."
    )
    jitter: float = Field(
        default=0.05, ge=0, lt=0.5, description="Broadcasts come up to this fraction early."
    )
    source_address_base: int = Field(
        default=0x80, ge=0, le=0xE0, description="First source address of the simulated nodes."
    )
    default_gap: float = Field(
        default=2.5, gt=0, description="Seconds between broadcasts of DGNs the spec gives no gap."
    )


class EntitiesSettings(_Section):
    """The coach model: availability, history, tracking bounds and command handling."""

    command_timeout: float = Field(
        default=2.0, gt=0, description="Seconds a command waits for the device's status."
    )
    command_log_size: int = Field(
        default=1000,
        ge=1,
        description="Recent commands kept for GET /api/commands/{command_id} (oldest evicted).",
    )
    motor_run_seconds: int = Field(
        default=20, ge=1, le=240, description="Longest run of a motor (awning, slide, shade)."
    )
    availability_floor: float = Field(
        default=60.0,
        gt=0,
        description="Seconds without status before unavailable, for DGNs with no spec gap.",
    )
    availability_grace: float = Field(
        default=0.5, ge=0, description="Seconds added to the spec's maximum broadcast gap."
    )
    availability_check_interval: float = Field(
        default=0.5, gt=0, description="Seconds between availability checks."
    )
    history_count: int = Field(default=200, ge=1, description="State changes kept per entity.")
    history_max_age: float = Field(
        default=86400.0, gt=0, description="Seconds a state change is kept in memory history."
    )
    unmapped_limit: int = Field(
        default=500, ge=1, description="Unmapped (DGN, instance) pairs tracked."
    )
    unknown_dgn_limit: int = Field(default=200, ge=1, description="Unknown DGNs tracked.")


class SafetySettings(_Section):
    """Motion safety: hold-to-run leases, the coach-is-moving interlock, Stop, rate limits."""

    hold_timeout_ms: int = Field(
        default=400,
        ge=100,
        le=5000,
        description="A motion command runs only while renewed within this many ms (hold-to-run).",
    )
    parked_max_speed_kph: float = Field(
        default=0.5,
        ge=0,
        le=10,
        description="Above this vehicle speed (CHASSIS_MOBILITY_STATUS) the coach is moving.",
    )
    stop_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="How long the final Stop of a motion is retried when it cannot be queued.",
    )
    command_rate: float = Field(
        default=20.0,
        gt=0,
        description="Commands per second per client (motion renewals and Stop excepted).",
    )
    command_burst: int = Field(
        default=40, ge=1, description="Commands a client may send at once before the rate applies."
    )


class FeaturesSettings(_Section):
    """Feature switches; unset means the default from feature_flags.yaml."""

    model_config = ConfigDict(extra="allow")

    enable_can: bool | None = None
    enable_rvc: bool | None = None
    enable_entities: bool | None = None
    enable_websocket: bool | None = None
    enable_simulator: bool | None = None
    enable_persistence: bool | None = None
    enable_dashboard: bool | None = None
    enable_mqtt: bool | None = None

    def overrides(self) -> dict[str, bool]:
        """Return {feature name: enabled} for every ENABLE_<NAME> that was set."""
        result: dict[str, bool] = {}
        values = dict(self.__dict__)
        values.update(self.__pydantic_extra__ or {})
        for key, value in values.items():
            if key.startswith("enable_") and value is not None:
                result[key.removeprefix("enable_")] = _parse_bool(f"enable_{key[7:]}", value)
        return result


def _parse_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(
        [f"{ENV_PREFIX}FEATURES__{field.upper()}: must be true or false, got {value!r}"]
    )


class PersistenceSettings(_Section):
    """Optional persistence."""

    enabled: bool = Field(
        default=False, description="Keep history, overrides and audit in a database."
    )
    data_dir: Path = Field(
        default=Path("backend/data"), description="Directory for the SQLite file."
    )
    backup_retention: int = Field(default=10, ge=1, description="Backups kept (newest N).")
    history_retention_days: int = Field(
        default=30, ge=1, description="Days of entity history kept."
    )
    history_queue_size: int = Field(
        default=20000, ge=10, description="History rows queued for writing (oldest dropped)."
    )
    history_batch_size: int = Field(
        default=1000, ge=1, description="History rows written per transaction."
    )
    history_flush_interval: float = Field(
        default=0.5, gt=0, le=60, description="Seconds between history writes."
    )
    fault_queue_size: int = Field(
        default=1000,
        ge=10,
        description="DM_RV fault changes queued for the fault history (oldest dropped).",
    )


class DatabaseSettings(_Section):
    """Database connection (SQLite file in DATA_DIR unless a URL is given)."""

    url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL, e.g. postgresql+asyncpg://."
    )
    pool_size: int = Field(default=5, ge=1, description="Connection pool size (PostgreSQL).")


class DashboardSettings(_Section):
    """Web dashboard: alert thresholds and the activity feed."""

    black_tank_high: float = Field(
        default=80.0, ge=0, le=100, description="Black tank alert above this level (%)."
    )
    gray_tank_high: float = Field(
        default=80.0, ge=0, le=100, description="Gray tank alert above this level (%)."
    )
    fresh_tank_low: float = Field(
        default=20.0, ge=0, le=100, description="Fresh water alert below this level (%)."
    )
    lpg_tank_low: float = Field(
        default=20.0, ge=0, le=100, description="LPG alert below this level (%)."
    )
    battery_low_voltage: float = Field(
        default=12.0, ge=0, description="Battery alert below this voltage (V)."
    )
    battery_low_soc: float = Field(
        default=20.0, ge=0, le=100, description="Battery alert below this state of charge (%)."
    )
    can_inactivity_seconds: float = Field(
        default=10.0, gt=0, description="Interface alert after this long with no frame received."
    )
    fault_expiry_seconds: float = Field(
        default=15.0, gt=0, description="A DM_RV fault not repeated for this long is cleared."
    )
    max_faults: int = Field(
        default=256, ge=1, le=10000, description="Active DM_RV faults kept; more are dropped."
    )
    activity_size: int = Field(
        default=200, ge=1, le=10000, description="Entries kept in the activity feed."
    )
    startup_grace_seconds: float = Field(
        default=30.0, ge=0, description="Entities silent since start are not alerted before this."
    )


class SecuritySettings(_Section):
    """Authentication, browser safety and request limits (docs/security.md)."""

    auth: Literal["auto", "required", "off"] = Field(
        default="auto",
        description=(
            "auto: required unless the server listens on loopback only; required: always; "
            "off: never (a warning at every start and a banner in the dashboard off loopback)."
        ),
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated browser origins (https://coach.example:8443) allowed to open the "
            "WebSockets and change state, besides the server's own."
        ),
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated extra names in the Host header (besides localhost, the machine's "
            "name, NAME.local, the bind address and the address a request arrived on); * for any."
        ),
    )
    min_password_length: int = Field(
        default=10, ge=8, le=128, description="Shortest password an account may have."
    )
    session_idle_timeout: float = Field(
        default=7 * 86400.0, gt=0, description="Seconds a browser session lasts unused."
    )
    session_max_age: float = Field(
        default=30 * 86400.0, gt=0, description="Seconds a browser session lasts at most."
    )
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="Largest request body (bytes); larger is 413."
    )
    audit_size: int = Field(
        default=2000, ge=10, le=100000, description="Security audit entries kept in memory."
    )

    @field_validator("allowed_origins", "allowed_hosts", mode="before")
    @classmethod
    def _parse_lists(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("allowed_origins", mode="after")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                raise ValueError(
                    f"{origin!r} is not an origin; expected scheme://host[:port], "
                    "e.g. https://coach.example:8443"
                )
        return [origin.lower() for origin in value]


class WebSocketSettings(_Section):
    """WebSocket streams: per-client bounds, batching, stall and heartbeat timing."""

    queue_size: int = Field(
        default=1000, ge=10, description="Messages queued per client (entity updates coalesce)."
    )
    batch_window_ms: float = Field(
        default=0.0, ge=0, le=50, description="Milliseconds updates are gathered before a send."
    )
    join_writes: bool = Field(
        default=True,
        description="Write the messages of one batch to a client's socket in one write.",
    )
    stall_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a client may block a send before it is dropped."
    )
    sniffer_rate_limit: int = Field(
        default=500, ge=1, description="Frames per second per sniffer client; beyond, a count."
    )
    heartbeat_interval: float = Field(
        default=20.0, gt=0, description="Seconds of silence before a client gets a heartbeat."
    )
    max_clients: int = Field(
        default=256, ge=1, description="WebSocket clients served at once; more are refused."
    )


_MQTT_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_MQTT_ROLES = ("viewer", "operator", "admin")


def _topic_root(value: str, variable: str) -> str:
    text = value.strip().strip("/")
    if not text or any(ch in text for ch in "#+\0") or "//" in text:
        raise ValueError(
            f"{variable} must be a topic path such as 'coachiq' or 'site/coachiq' "
            "(no '#', '+', empty levels)"
        )
    return text


class MQTTSettings(_Section):
    """MQTT bridge and Home Assistant discovery (feature ``mqtt``, off by default)."""

    enabled: bool = Field(default=False, description="Run the MQTT bridge.")
    url: str = Field(
        default="mqtt://127.0.0.1:1883",
        description="Broker: mqtt://host:port or mqtts://host:port (TLS).",
    )
    username: str | None = Field(default=None, description="Broker user name.")
    password: SecretStr | None = Field(default=None, description="Broker password.")
    ca_file: Path | None = Field(default=None, description="CA certificate (PEM) for mqtts://.")
    cert_file: Path | None = Field(default=None, description="Client certificate for mqtts://.")
    key_file: Path | None = Field(default=None, description="Client key for mqtts://.")
    client_id: str | None = Field(
        default=None, description="MQTT client id (default coachiq-<coach_id>)."
    )
    topic_prefix: str = Field(default="coachiq", description="First topic level(s).")
    coach_id: str | None = Field(
        default=None,
        description="Topic level naming this coach ([a-zA-Z0-9_-]; default the mapping's "
        "coach name, else the host name).",
    )
    discovery: bool = Field(default=True, description="Publish Home Assistant discovery.")
    discovery_prefix: str = Field(
        default="homeassistant", description="Home Assistant discovery prefix."
    )
    role: Literal["viewer", "operator", "admin"] = Field(
        default="operator", description="Role MQTT commands act with (viewer, operator, admin)."
    )
    allow_motion: bool = Field(
        default=False, description="Let MQTT move slides, awnings, shades and roof-fan lids."
    )
    queue_size: int = Field(
        default=1000, ge=10, description="Outbound messages queued (states coalesce per entity)."
    )
    keepalive: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive in seconds.")
    reconnect_min: float = Field(default=1.0, gt=0, description="First reconnect delay (s).")
    reconnect_max: float = Field(default=60.0, gt=0, description="Longest reconnect delay (s).")

    @field_validator("url", mode="after")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @field_validator("coach_id", mode="after")
    @classmethod
    def _check_coach_id(cls, value: str | None) -> str | None:
        if value is not None and not _MQTT_ID.match(value):
            raise ValueError("must use only letters, digits, '_' and '-'")
        return value

    @field_validator("topic_prefix", mode="after")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        return _topic_root(value, "the topic prefix")

    @field_validator("discovery_prefix", mode="after")
    @classmethod
    def _check_discovery_prefix(cls, value: str) -> str:
        return _topic_root(value, "the discovery prefix")

    @field_validator("role", mode="before")
    @classmethod
    def _lower_role(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def parse_mqtt_url(url: str) -> tuple[bool, str, int]:
    """(tls, host, port) of an ``mqtt://`` or ``mqtts://`` URL; ValueError names what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError("must start with mqtt:// or mqtts://, e.g. mqtt://127.0.0.1:1883")
    if parts.username or parts.password:
        raise ValueError(
            f"must not hold credentials; set {ENV_PREFIX}MQTT__USERNAME and "
            f"{ENV_PREFIX}MQTT__PASSWORD"
        )
    if not parts.hostname:
        raise ValueError("has no host, e.g. mqtt://127.0.0.1:1883")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError("takes only a host and a port, e.g. mqtt://broker.local:1883")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not 1-65535") from None
    tls = parts.scheme == "mqtts"
    return tls, parts.hostname, port or (8883 if tls else 1883)


class UnitsSettings(_Section):
    """Display units: the dashboard's default (each browser may switch); the API stays SI."""

    system: Literal["metric", "us"] = Field(
        default="metric",
        description="metric (°C, L, kPa, km/h) or us (°F, gal, psi, mph): the dashboard's "
        "default units (each browser may switch); REST, WebSocket and MQTT are always SI.",
    )


class LoggingSettings(_Section):
    """Logging, shared with uvicorn."""

    level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    """All CoachIQ settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    app_name: str = "CoachIQ"
    environment: Literal["development", "production", "test"] = "development"
    server: ServerSettings = Field(default_factory=lambda: ServerSettings())
    can: CANSettings = Field(default_factory=lambda: CANSettings())
    rvc: RVCSettings = Field(default_factory=lambda: RVCSettings())
    entities: EntitiesSettings = Field(default_factory=lambda: EntitiesSettings())
    safety: SafetySettings = Field(default_factory=lambda: SafetySettings())
    features: FeaturesSettings = Field(default_factory=lambda: FeaturesSettings())
    simulator: SimulatorSettings = Field(default_factory=lambda: SimulatorSettings())
    persistence: PersistenceSettings = Field(default_factory=lambda: PersistenceSettings())
    database: DatabaseSettings = Field(default_factory=lambda: DatabaseSettings())
    dashboard: DashboardSettings = Field(default_factory=lambda: DashboardSettings())
    security: SecuritySettings = Field(default_factory=lambda: SecuritySettings())
    logging: LoggingSettings = Field(default_factory=lambda: LoggingSettings())
    websocket: WebSocketSettings = Field(default_factory=lambda: WebSocketSettings())
    mqtt: MQTTSettings = Field(default_factory=lambda: MQTTSettings())
    units: UnitsSettings = Field(default_factory=lambda: UnitsSettings())

    def data_dir(self) -> Path:
        """The data directory: ``persistence.data_dir``, else /var/lib/coachiq in production."""
        if "data_dir" not in self.persistence.model_fields_set and self.environment == "production":
            return PRODUCTION_DATA_DIR
        return self.persistence.data_dir


def _variable(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def format_validation_error(exc: ValidationError) -> list[str]:
    """Turn a settings ValidationError into one line per bad variable."""
    lines = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "literal_error":
            expected = (error.get("ctx") or {}).get("expected", "")
            message = f"must be one of {expected}"
        got = error.get("input")
        suffix = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        lines.append(f"{_variable(error['loc'])}: {message}{suffix}")
    return lines


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Build Settings from defaults, ``env_file`` and the environment.

    Raises:
        ConfigError: with one line per bad variable.
    """
    try:
        settings = Settings(_env_file=env_file, **overrides)  # pyright: ignore[reportCallIssue]
        settings.features.overrides()
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    return settings
