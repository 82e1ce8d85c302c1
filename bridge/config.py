"""Configuration: TOML file plus ``BRIDGE_<SECTION>__<KEY>`` environment (environment wins)."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.exceptions import SettingsError

from bridge.errors import ConfigError

PLACEHOLDER = "CHANGE-ME"
S = TypeVar("S", bound="Section")
AppMode = Literal["auto", "chat", "agent-chat", "advanced-chat", "completion", "workflow"]
InputValue = str | int | float | bool
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""What Telegram accepts as ``secret_token`` in setWebhook."""


def _not_empty(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


class Section(BaseModel):
    """A config section: unknown keys are refused, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ClickAIConfig(Section):
    base_url: str = "https://api.clickai.io/v1"
    api_key: SecretStr
    response_mode: Literal["streaming", "blocking"] = "streaming"
    app_mode: AppMode = "auto"
    studio_base_url: str = "https://clickai.io"
    studio_token: SecretStr | None = None
    workspace_id: str | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=300.0, gt=0)
    idle_timeout_s: float = Field(default=90.0, gt=0)
    requests_per_minute: int = Field(default=100, ge=1)
    max_retries: int = Field(default=3, ge=0, le=10)
    inputs: dict[str, InputValue] = Field(default_factory=dict)
    query_variable: str = "query"
    workflow_output: str = ""
    auto_generate_name: bool = True

    _keys_not_empty = field_validator("api_key", "studio_token")(_not_empty)
    file_hosts: list[str] = Field(default_factory=list)
    file_timeout_s: float = Field(default=60.0, gt=0)


BackendKind = Literal["clickai", "chatbase", "maiagent", "agentok"]
DEFAULT_BASE_URLS: dict[str, str] = {
    "clickai": "https://api.clickai.io/v1",
    "chatbase": "https://www.chatbase.co/api/v2",
    "maiagent": "https://api.maiagent.ai/api/v1",
    "agentok": "https://api.agentok.ai/v1",
}
_ID_KEYS: dict[str, str] = {"chatbase": "agent_id", "maiagent": "chatbot_id", "agentok": "flow_id"}


class BackendConfig(Section):
    """``[backends.NAME]``: one AI app on one platform (``kind``), with its own key and id."""

    kind: BackendKind
    base_url: str = ""
    api_key: SecretStr
    agent_id: str | None = None
    chatbot_id: str | None = None
    flow_id: str | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=300.0, gt=0)
    idle_timeout_s: float = Field(default=90.0, gt=0)
    requests_per_minute: int = Field(default=100, ge=1)
    max_retries: int = Field(default=3, ge=0, le=10)
    poll_interval_s: float = Field(default=1.0, gt=0)
    run_timeout_s: float = Field(default=600.0, gt=0)
    # kind = "clickai" only (the [clickai] keys of the same names)
    response_mode: Literal["streaming", "blocking"] = "streaming"
    app_mode: AppMode = "auto"
    inputs: dict[str, InputValue] = Field(default_factory=dict)
    query_variable: str = "query"
    workflow_output: str = ""
    auto_generate_name: bool = True

    @model_validator(mode="after")
    def _check(self) -> BackendConfig:
        key = _ID_KEYS.get(self.kind)
        if key is not None and not getattr(self, key):
            raise ValueError(f"{key} is required for kind = {self.kind!r}")
        return self

    @property
    def root(self) -> str:
        """``base_url``, or the platform's public API root when unset."""
        return self.base_url or DEFAULT_BASE_URLS[self.kind]

    @property
    def app_id(self) -> str:
        """The platform's id of the app (agent, chatbot or flow); "" for ClickAI."""
        key = _ID_KEYS.get(self.kind)
        return str(getattr(self, key) or "") if key else ""


class StoreConfig(Section):
    url: str = "sqlite:///data/bridge.db"
    schema_: str | None = Field(
        default=None, alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
    )
    """PostgreSQL only: keep the tables in this schema (created when missing)."""
    busy_timeout_s: float = Field(default=5.0, gt=0, le=600)
    """SQLite: how long a statement waits for another process's lock before it fails."""


class CoordinationConfig(Section):
    """How several replicas on one PostgreSQL store share work (see docs/scaling.md)."""

    redis_url: SecretStr | None = None
    redis_prefix: str = Field(default="clickai-bridge", min_length=1)
    replica_id: str = ""
    lease_s: float = Field(default=30.0, ge=3.0, le=600.0)
    scope_wait_s: float = Field(default=300.0, gt=0)
    replicas: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _check(self) -> CoordinationConfig:
        url = self.redis_url.get_secret_value() if self.redis_url is not None else None
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must be a redis://, rediss:// or unix:// URL")
        return self


class ServerConfig(Section):
    listen: str = "127.0.0.1:8080"
    readyz_cache_s: float = Field(default=30.0, ge=0)

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]") or "0.0.0.0"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @model_validator(mode="after")
    def _check_listen(self) -> ServerConfig:
        _host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("listen must be HOST:PORT, e.g. 127.0.0.1:8080")
        return self


class BridgeConfig(Section):
    default_language: Literal["en", "vi"] = "en"
    shutdown_grace_s: float = Field(default=20.0, ge=0)
    max_query_chars: int = Field(default=8000, ge=100)
    max_file_mb: float = Field(default=15.0, gt=0)
    default_file_query: str = ""
    user_messages_per_minute: int = Field(default=12, ge=0)
    chat_messages_per_minute: int = Field(default=30, ge=0)
    show_conversation_reset_notice: bool = True
    suggested_questions: bool = True
    event_retention_hours: float = Field(default=72.0, ge=25.0)


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LogConfig(Section):
    level: LogLevel = "INFO"
    format: Literal["text", "json"] = "text"
    library_level: LogLevel = "INFO"


class BotConfig(BaseModel):
    """One more bot of a platform: its name, backend, chat routes and overrides of the
    platform section's keys (any ``[telegram]`` / ``[slack]`` key may be repeated here)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    backend: str | None = None
    routes: dict[str, str] = Field(default_factory=dict)
    """Chat / channel id → the backend that answers there instead."""

    def overrides(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class TelegramBotConfig(BotConfig):
    """``[[telegram.bots]]``."""

    token: SecretStr
    webhook_secret: SecretStr | None = None


class SlackAppConfig(BotConfig):
    """``[[slack.apps]]``."""

    bot_token: SecretStr
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None


_NOT_INHERITED = frozenset({"bots", "apps", "routes", "backend", "enabled", "webhook_url"})


def bot_section(parent: Section, bot: BotConfig) -> dict[str, Any]:
    """The platform section a bot runs with: the parent's keys, the bot's on top."""
    data = {k: v for k, v in parent if k not in _NOT_INHERITED}
    declared = {
        k: getattr(bot, k) for k in type(bot).model_fields if k not in BotConfig.model_fields
    }
    data.update({k: v for k, v in declared.items() if v is not None})
    unknown = sorted(set(bot.overrides()) - set(type(parent).model_fields) - _NOT_INHERITED)
    if unknown:
        raise ValueError(f"{bot.name}: unknown key {unknown[0]}")
    data.update(bot.overrides())
    data.setdefault("enabled", True)
    data["backend"] = bot.backend or getattr(parent, "backend", "clickai")
    data["routes"] = bot.routes
    return data


class TelegramConfig(Section):
    enabled: bool = False
    backend: str = "clickai"
    """The backend that answers this (the default) bot; ``[backends.NAME]`` or ``clickai``."""
    routes: dict[str, str] = Field(default_factory=dict)
    """Chat id → another backend's name, for chats that a different assistant answers."""
    bots: list[TelegramBotConfig] = Field(default_factory=list)
    token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    allowed_user_ids: list[int] = Field(default_factory=list)
    allowed_chat_ids: list[int] = Field(default_factory=list)
    group_scope: Literal["group", "user", "topic"] = "topic"
    drafts: bool = False
    local_bot_api: bool = False
    stop_button: bool = True
    edit_interval_s: float = Field(default=1.0, ge=0.2)
    group_edit_interval_s: float = Field(default=3.0, ge=0.5)
    global_per_second: float = Field(default=25.0, gt=0, le=30)

    _token_not_empty = field_validator("token")(_not_empty)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram's rule)")
        return value

    @model_validator(mode="after")
    def _check(self) -> TelegramConfig:
        if not self.enabled:
            return self
        if self.token is None:
            raise ValueError("token is required when telegram is enabled")
        if self.mode == "webhook" and (not self.webhook_url or self.webhook_secret is None):
            raise ValueError("webhook mode needs webhook_url and webhook_secret")
        return self

    @model_validator(mode="after")
    def _check_bots(self) -> TelegramConfig:
        self.more_bots()
        return self

    def more_bots(self) -> list[tuple[str, TelegramConfig]]:
        """``[[telegram.bots]]`` as (name, its whole section), each validated."""
        return _more(self, self.bots, TelegramConfig, "bots")


class SlackConfig(Section):
    enabled: bool = False
    backend: str = "clickai"
    """The backend that answers this (the default) app; ``[backends.NAME]`` or ``clickai``."""
    routes: dict[str, str] = Field(default_factory=dict)
    """Channel id → another backend's name."""
    apps: list[SlackAppConfig] = Field(default_factory=list)
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    mode: Literal["socket", "http"] = "socket"
    api_base_url: str = "https://slack.com/api/"
    allowed_team_ids: list[str] = Field(default_factory=list)
    allowed_channel_ids: list[str] = Field(default_factory=list)
    allowed_user_ids: list[str] = Field(default_factory=list)
    thread_requires_mention: bool = False
    dm_scope: Literal["dm", "thread"] = "dm"
    dm_reply_in_thread: bool = True
    native_streaming: bool = True
    agent_sessions: bool = True
    thread_titles: bool = True
    suggested_prompts: bool = True
    update_interval_s: float = Field(default=1.0, ge=0.2)
    updates_per_minute: int = Field(default=45, ge=1)

    _secrets_not_empty = field_validator("bot_token", "app_token", "signing_secret")(_not_empty)

    @model_validator(mode="after")
    def _check(self) -> SlackConfig:
        if not self.enabled:
            return self
        if self.bot_token is None:
            raise ValueError("bot_token is required when slack is enabled")
        if self.mode == "socket" and self.app_token is None:
            raise ValueError("socket mode needs app_token")
        if self.mode == "http" and self.signing_secret is None:
            raise ValueError("http mode needs signing_secret")
        return self

    @model_validator(mode="after")
    def _check_apps(self) -> SlackConfig:
        self.more_bots()
        return self

    def more_bots(self) -> list[tuple[str, SlackConfig]]:
        """``[[slack.apps]]`` as (name, its whole section), each validated."""
        return _more(self, self.apps, SlackConfig, "apps")


def _more(
    parent: Section, bots: Sequence[BotConfig], cls: type[S], key: str
) -> list[tuple[str, S]]:
    names = [b.name for b in bots]
    if len(set(names)) != len(names):
        raise ValueError(f"{key}: two entries share a name")
    out: list[tuple[str, S]] = []
    for bot in bots:
        try:
            out.append((bot.name, cls.model_validate(bot_section(parent, bot))))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(
                f"{key}[{bot.name}]{'.' + where if where else ''}: {first['msg']}"
            ) from None
    return out


class Settings(BaseSettings):
    """The whole configuration; build it with :func:`load_settings` (environment over file)."""

    model_config = SettingsConfigDict(
        env_prefix="BRIDGE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    clickai: ClickAIConfig | None = None
    backends: dict[str, BackendConfig] = Field(default_factory=dict)
    store: StoreConfig = StoreConfig()
    coordination: CoordinationConfig = CoordinationConfig()
    server: ServerConfig = ServerConfig()
    bridge: BridgeConfig = BridgeConfig()
    log: LogConfig = LogConfig()
    telegram: TelegramConfig = TelegramConfig()
    slack: SlackConfig = SlackConfig()

    @model_validator(mode="after")
    def _check_backends(self) -> Settings:
        if "clickai" in self.backends:
            raise ValueError("backends.clickai: that name is the [clickai] section's")
        for name in self.backends:
            if ":" in name or "/" in name:
                raise ValueError(f"backends.{name}: a name may not contain ':' or '/'")
        known = set(self.backends) | ({"clickai"} if self.clickai is not None else set())
        for where, name in self.backend_references():
            if name not in known:
                if name == "clickai":
                    raise ValueError(
                        "clickai.api_key: required (config.toml or BRIDGE_CLICKAI__…), "
                        f"{where} uses the clickai backend"
                    )
                raise ValueError(f"{where}: no [backends.{name}]")
        return self

    def backend_references(self) -> list[tuple[str, str]]:
        """(config key, backend name) for every place that names a backend."""
        refs = [("telegram.backend", self.telegram.backend), ("slack.backend", self.slack.backend)]
        refs += [(f"telegram.routes.{k}", v) for k, v in self.telegram.routes.items()]
        refs += [(f"slack.routes.{k}", v) for k, v in self.slack.routes.items()]
        for key, section in (("telegram.bots", self.telegram), ("slack.apps", self.slack)):
            for name, bot in section.more_bots():
                refs.append((f"{key}[{name}].backend", bot.backend))
                refs += [(f"{key}[{name}].routes.{k}", v) for k, v in bot.routes.items()]
        if not self.backends:
            refs.append(("clickai", "clickai"))
        return refs


_ENV_IGNORED = {"BRIDGE_CONFIG", "BRIDGE_CONFIG_DEFAULTS"}


def default_config_path(environ: Mapping[str, str]) -> Path:
    """``--config`` default: ``$BRIDGE_CONFIG``, then ``./config.toml``."""
    return Path(environ.get("BRIDGE_CONFIG") or "config.toml")


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (a missing file is fine) and the environment into ``Settings``.

    Raises:
        ConfigError: naming the first bad key, e.g. ``clickai.api_key: field required``.
    """
    env = dict(os.environ if environ is None else environ)
    cfg_path = path or default_config_path(env)
    data: dict[str, Any] = {}
    if env.get("BRIDGE_CONFIG_DEFAULTS"):
        # Defaults under the config file (the Docker image's /data store and 0.0.0.0 listen).
        data = _read_toml(Path(env["BRIDGE_CONFIG_DEFAULTS"]))
    if cfg_path.exists():
        for section, values in _read_toml(cfg_path).items():
            below = data.get(section)
            if isinstance(below, dict) and isinstance(values, dict):
                values = {**below, **values}
            data[section] = values
    elif path is not None:
        raise ConfigError(f"{cfg_path}: config file not found")
    _refuse_unknown_env(env)
    _refuse_placeholders(data, env)
    try:
        return _Loader(env).build(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:
        raise ConfigError(str(exc).splitlines()[0]) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read TOML: {exc}") from exc


class _Loader:
    """Builds Settings from a given environment mapping instead of the process environment."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = {k: v for k, v in env.items() if k.upper() not in _ENV_IGNORED}

    def build(self, data: dict[str, Any]) -> Settings:
        env = self._env

        class _Bound(Settings):
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                source = _EnvSource(
                    settings_cls,
                    env_prefix="BRIDGE_",
                    env_nested_delimiter="__",
                    case_sensitive=False,
                )
                source.env_vars = {k.lower(): _empty_list(k, v) for k, v in env.items()}
                return (source, init_settings)

        built = _Bound(**data)
        return Settings.model_construct(
            **{name: getattr(built, name) for name in Settings.model_fields}
        )


class _EnvSource(EnvSettingsSource):
    """Environment values: lists as JSON (``[42,43]``) or comma-separated (``42,43``)."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        is_list = get_origin(getattr(field, "annotation", None)) is list  # field may be None
        try:
            decoded = super().decode_complex_value(field_name, field, value)
        except ValueError:
            if is_list:
                return [item.strip() for item in str(value).split(",") if item.strip()]
            names = [k for k in self.env_vars if k.endswith(f"__{field_name.lower()}")]
            name = names[0].upper() if names else field_name
            example = json.dumps({"name": "value"})
            raise ConfigError(f"{name}: not valid JSON; write a table as {example}") from None
        return [decoded] if is_list and not isinstance(decoded, list) else decoded  # one id: 42


def _empty_list(name: str, value: str) -> str:
    """``value``, or "[]" when it is empty and ``name`` (BRIDGE_SECTION__KEY) is a list: an
    empty variable clears the list (pydantic-settings would hand "" to it)."""
    if value.strip() or not name.upper().startswith("BRIDGE_"):
        return value
    section, _, key = name[len("BRIDGE_") :].lower().partition("__")
    model = getattr(Settings.model_fields.get(section), "annotation", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return value
    field = model.model_fields.get(key)
    return "[]" if field is not None and get_origin(field.annotation) is list else value


def _refuse_unknown_env(env: Mapping[str, str]) -> None:
    sections = Settings.model_fields
    for name in env:
        upper = name.upper()
        if not upper.startswith("BRIDGE_") or upper in _ENV_IGNORED:
            continue
        section, _, key = upper[len("BRIDGE_") :].lower().partition("__")
        field = sections.get(section)
        if field is None:
            raise ConfigError(f"{name}: unknown section {section!r}")
        model = field.annotation
        sub = key.partition("__")[0]
        if (
            isinstance(model, type)
            and issubclass(model, BaseModel)
            and sub not in model.model_fields
            and sub not in {f.alias for f in model.model_fields.values()}
        ):
            raise ConfigError(f"{name}: unknown key {section}.{sub}")


def _refuse_placeholders(data: Mapping[str, Any], env: Mapping[str, str]) -> None:
    overridden = {name.upper() for name in env}  # the environment wins over the file
    for section, values in data.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if value == PLACEHOLDER and f"BRIDGE_{section}__{key}".upper() not in overridden:
                    raise ConfigError(f"{section}.{key}: still the placeholder {PLACEHOLDER!r}")
    for name, value in env.items():
        if name.upper().startswith("BRIDGE_") and value == PLACEHOLDER:
            raise ConfigError(f"{name}: still the placeholder {PLACEHOLDER!r}")


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"] if not str(part).startswith("function-"))
        msg = err["msg"].replace("Value error, ", "")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts = loc.split(".")
        if parts[-1].isdigit() or err["type"] == "list_type":
            loc = ".".join(p for p in parts if not p.isdigit())
            msg += " (a list: 42,43 or [42, 43] in the environment, [42, 43] in TOML)"
        field = Settings.model_fields.get(loc)
        if err["type"] == "missing" and field is not None and isinstance(field.annotation, type):
            required = [k for k, f in field.annotation.model_fields.items() if f.is_required()]
            loc = ", ".join(f"{loc}.{k}" for k in required) or loc
            msg = "required (config.toml or BRIDGE_" + loc.split(".")[0].upper() + "__…)"
        lines.append(f"{loc or 'config'}: {msg}")
    return "; ".join(lines)
