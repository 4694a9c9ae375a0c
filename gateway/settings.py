"""Configuration: config file, then environment, then command-line flags.

Flags override ``GATEWAY_<FLAG>`` environment variables, which override the
YAML config file; ``${NAME}`` in the config file is replaced by that
environment variable.  The result is validated once and frozen; an error names
the key (``backend.timeout: Input should be greater than 0``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SettingsError(Exception):
    pass


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClientCredential(_Frozen):
    identifier: str
    secret: str = Field(repr=False)
    actions: tuple[str, ...] | None = None  # allow-list of canonical operations or vendor actions
    networks: tuple[str, ...] | None = None  # allow-list of client IP ranges (CIDR)

    @classmethod
    def parse(cls, text: str) -> ClientCredential:
        identifier, sep, secret = text.partition(":")
        if not sep or not identifier or not secret:
            raise SettingsError("--client takes IDENTIFIER:SECRET")
        return cls(identifier=identifier, secret=secret)


class BackendSettings(_Frozen):
    kind: Literal["pmp", "whmcs"] = "pmp"
    url: str | None = None
    token: str | None = Field(default=None, repr=False)
    accesskey: str | None = Field(default=None, repr=False)  # WHMCS API access key
    timeout: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0)
    zone: str = "UTC"
    max_concurrency: int = Field(default=64, ge=1)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset: float = Field(default=10.0, gt=0)
    retries: int = Field(default=2, ge=0)


class DialectSettings(_Frozen):
    enabled: bool = True
    prefix: str | None = None  # None: the vendor's own path
    display_zone: str | None = None  # None: the backend's zone
    default_format: str | None = None  # WHMCS: "legacy" (NVP/XML like real WHMCS) or "json"


class LimitSettings(_Frozen):
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    rate_per_second: float = Field(default=0.0, ge=0)  # 0: no rate limit
    rate_burst: int = Field(default=50, ge=1)


class CacheSettings(_Frozen):
    ttl: float = Field(default=30.0, ge=0)
    size: int = Field(default=1024, ge=1)
    tickets: bool = False


class Settings(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    backend: BackendSettings = BackendSettings()
    clients: tuple[ClientCredential, ...] = ()
    mappings: Path | None = None
    data_dir: Path = Path("gateway-data")
    store: str | None = None  # SQLite path or postgresql:// URL; default <data_dir>/gateway.sqlite3
    dialects: dict[str, DialectSettings] = Field(default_factory=dict)
    limits: LimitSettings = LimitSettings()
    cache: CacheSettings = CacheSettings()
    access_log: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @field_validator("clients", mode="before")
    @classmethod
    def _clients(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(ClientCredential.parse(v) if isinstance(v, str) else v for v in value)
        return value

    def dialect(self, name: str) -> DialectSettings:
        return self.dialects.get(name) or DialectSettings()

    @property
    def embedded_backend(self) -> bool:
        return not self.backend.url

    @property
    def store_url(self) -> str:
        return self.store or str(self.data_dir / "gateway.sqlite3")


# flag name -> dotted settings key
FLAG_KEYS: dict[str, str] = {
    "host": "host",
    "port": "port",
    "workers": "workers",
    "backend_url": "backend.url",
    "backend_token": "backend.token",
    "backend_timeout": "backend.timeout",
    "backend_kind": "backend.kind",
    "mappings": "mappings",
    "client": "clients",
    "tls_cert": "tls_cert",
    "tls_key": "tls_key",
    "metrics_port": "metrics_port",
    "store": "store",
    "data_dir": "data_dir",
}


def _expand(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                raise SettingsError(f"config refers to ${{{m.group(1)}}}, which is not set")
            return env[m.group(1)]

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env) for v in value]
    return value


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = tree
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def load_settings(
    config_file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Config file < environment < flags; raises SettingsError naming the bad key."""
    env = os.environ if env is None else env
    tree: dict[str, Any] = {}
    config_file = config_file or (Path(env["GATEWAY_CONFIG"]) if env.get("GATEWAY_CONFIG") else None)
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"{config_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise SettingsError(f"{config_file}: the config file must be a mapping")
        tree = _expand(loaded, env)
    for flag, key in FLAG_KEYS.items():
        raw = env.get(f"GATEWAY_{flag.upper()}")
        if raw is not None and raw != "":
            _set(tree, key, raw.split(",") if flag == "client" else raw)
    for flag, value in (flags or {}).items():
        if value is None or value == [] or flag not in FLAG_KEYS:
            continue
        _set(tree, FLAG_KEYS[flag], value)
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            lines.append(f"{config_file or 'settings'}: {key}: {err['msg']}")
        raise SettingsError("\n".join(lines)) from None
    except SettingsError:
        raise
