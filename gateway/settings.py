"""Configuration: config file, then environment, then command-line flags.

Flags override ``GATEWAY_<FLAG>`` environment variables, which override the
YAML config file; ``${NAME}`` in the config file is replaced by that
environment variable.  The result is validated once and frozen; an error names
the key (``backend.timeout: Input should be greater than 0``).
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


FeaturePin = Literal["yes", "no", "read-only", "auto"]


class BackendSettings(_Frozen):
    kind: Literal["pmp", "whmcs"] = "pmp"
    url: str | None = None
    token: str | None = Field(default=None, repr=False)
    accesskey: str | None = Field(default=None, repr=False)  # WHMCS API access key
    # pin or forbid what discovery would find (gateway/backends/base.py FEATURES); "auto": discover
    features: dict[str, FeaturePin] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0)
    zone: str = "UTC"
    max_concurrency: int = Field(default=64, ge=1)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset: float = Field(default=10.0, gt=0)
    retries: int = Field(default=2, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL with a host, not {value[:60]!r}")
        return value

    @field_validator("features", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        # YAML reads an unquoted yes/no as a boolean
        if isinstance(value, dict):
            return {k: ("yes" if v else "no") if isinstance(v, bool) else v for k, v in value.items()}
        return value

    @field_validator("features")
    @classmethod
    def _features(cls, value: dict[str, FeaturePin]) -> dict[str, FeaturePin]:
        from gateway.backends.base import FEATURES

        for name in value:
            if name not in FEATURES:
                raise ValueError(f"unknown feature {name!r}{_did_you_mean(name, FEATURES)}")
        return value

    @model_validator(mode="after")
    def _token(self) -> BackendSettings:
        if self.url and not self.token:
            raise ValueError("a backend URL needs a token (--backend-token / GATEWAY_BACKEND_TOKEN / backend.token)")
        if self.url and self.kind == "whmcs" and ":" not in (self.token or ""):
            raise ValueError("a WHMCS backend token is the API credential IDENTIFIER:SECRET")
        return self


class DialectSettings(_Frozen):
    enabled: bool = True
    prefix: str | None = None  # None: the vendor's own path
    display_zone: str | None = None  # None: the backend's zone
    default_format: str | None = None  # WHMCS: "legacy" (NVP/XML like real WHMCS) or "json"
    generation: Literal[2, 3] = 3  # PMP dialect only: the module generation its clients expect


class LimitSettings(_Frozen):
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    rate_per_second: float = Field(default=0.0, ge=0)  # 0: no rate limit
    rate_burst: int = Field(default=50, ge=1)


class CacheSettings(_Frozen):
    ttl: float = Field(default=30.0, ge=0)
    size: int = Field(default=1024, ge=1)
    tickets: bool = False


class IndexSettings(_Frozen):
    max_staleness: float = Field(default=5.0, ge=0)  # seconds a served list may lag the backend; 0: never


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
    index: IndexSettings = IndexSettings()
    demo: bool = False  # the embedded simulator may serve on a non-loopback address
    env_file: Path | None = None  # NAME=value lines read as environment; re-read on SIGHUP

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

    @property
    def loopback(self) -> bool:
        """Whether the gateway listens only on this host (where the embedded demo may run unasked)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def backend_name(self) -> str:
        """The backend in use, as the first log line, the banner and ``/readyz`` name it."""
        if self.embedded_backend:
            return f"demo: embedded {self.backend.kind} simulator"
        return f"{self.backend.kind} at {self.backend.url}"


log = logging.getLogger("gateway")

# flag name -> dotted settings key
FLAG_KEYS: dict[str, str] = {
    "host": "host",
    "port": "port",
    "workers": "workers",
    "backend_kind": "backend.kind",
    "backend_url": "backend.url",
    "backend_token": "backend.token",
    "backend_timeout": "backend.timeout",
    "mappings": "mappings",
    "client": "clients",
    "tls_cert": "tls_cert",
    "tls_key": "tls_key",
    "metrics_port": "metrics_port",
    "store": "store",
    "data_dir": "data_dir",
    "demo": "demo",
    "env_file": "env_file",
}

# GATEWAY_* variables that are not flags
OTHER_ENV = ("GATEWAY_CONFIG", "GATEWAY_SOURCE_TOKEN", "GATEWAY_TARGET_TOKEN")

# config keys holding paths: written in the config file, they resolve from the file's folder
PATH_KEYS = ("mappings", "data_dir", "tls_cert", "tls_key", "store", "env_file")


def known_env_names() -> list[str]:
    return [f"GATEWAY_{flag.upper()}" for flag in FLAG_KEYS] + list(OTHER_ENV)


def _did_you_mean(name: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_service_link(name: str, value: str) -> bool:
    """The variables Kubernetes injects for a Service named ``gateway`` (ignored, see INTERFACE)."""
    if name.startswith(("GATEWAY_SERVICE_", "GATEWAY_PORT_")):
        return True
    return name == "GATEWAY_PORT" and value.startswith("tcp://")


def check_env(env: Mapping[str, str]) -> dict[str, str]:
    """The ``GATEWAY_*`` variables that are settings; an unknown one is an error naming the closest."""
    known = set(known_env_names())
    ignored: list[str] = []
    out: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith("GATEWAY_"):
            continue
        if _is_service_link(name, value):
            ignored.append(name)
        elif name not in known:
            raise SettingsError(f"unknown environment variable {name}{_did_you_mean(name, known)}")
        else:
            out[name] = value
    if ignored:
        log.warning(
            "ignoring Kubernetes service-link variables %s (set enableServiceLinks: false)", ", ".join(sorted(ignored))
        )
    return out


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments, optional ``export`` and quotes), as systemd and Docker read them."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"--env-file {path}: {exc.strerror or exc}") from None
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SettingsError(f"{path}:{number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name] = value
    return out


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


def _resolve_paths(tree: dict[str, Any], base: Path) -> None:
    for key in PATH_KEYS:
        value = tree.get(key)
        if not isinstance(value, str) or not value or "://" in value:
            continue
        path = Path(value).expanduser()
        if not path.is_absolute():
            tree[key] = str(base / path)


def _read_config(config_file: Path, env: Mapping[str, str]) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{config_file}: {exc}") from None
    if not isinstance(loaded, dict):
        raise SettingsError(f"{config_file}: the config file must be a mapping")
    tree: dict[str, Any] = _expand(loaded, env)
    _resolve_paths(tree, config_file.resolve().parent)
    return tree


def load_settings(
    config_file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Config file < environment (the env file over the process's) < flags; raises SettingsError naming the key."""
    env = dict(os.environ if env is None else env)
    flags = {k: v for k, v in (flags or {}).items() if k in FLAG_KEYS and v is not None and v != [] and v is not False}
    env_file = flags.get("env_file") or env.get("GATEWAY_ENV_FILE") or None
    if env_file:
        env.update(read_env_file(Path(env_file)))
    config_file = config_file or (Path(env["GATEWAY_CONFIG"]) if env.get("GATEWAY_CONFIG") else None)
    tree: dict[str, Any] = {}
    if config_file is not None:
        tree = _read_config(config_file, env)
        if not env_file and isinstance(tree.get("env_file"), str):
            # an env file named in the config: its variables count as the environment too
            env.update(read_env_file(Path(tree["env_file"])))
            tree = _read_config(config_file, env)
    settable = check_env(env)
    for flag, key in FLAG_KEYS.items():
        raw = settable.get(f"GATEWAY_{flag.upper()}")
        if raw is not None and raw != "":
            _set(tree, key, raw.split(",") if flag == "client" else raw)
    for flag, value in flags.items():
        _set(tree, FLAG_KEYS[flag], value)
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        raise SettingsError("\n".join(_describe(err, config_file) for err in exc.errors())) from None


def _describe(err: Any, config_file: Path | None) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    where = config_file or "settings"
    if err["type"] == "extra_forbidden":
        known = _fields_at(Settings, loc[:-1])
        return f"{where}: {key}: unknown key{_did_you_mean(str(loc[-1]), known)}"
    return f"{where}: {key}: {str(err['msg']).removeprefix('Value error, ')}"


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc`` (through dicts and tuples of models)."""
    annotation: Any = model
    parts = list(loc)
    while parts:
        current = _model_in(annotation)
        if current is None:
            return []
        field = current.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        annotation = _model_or_container(field.annotation)
        origin = typing.get_origin(annotation)
        if origin in (dict, tuple) and parts:
            # dict[str, Model] and tuple[Model, ...]: the next part is the key or index
            annotation = typing.get_args(annotation)[-1 if origin is dict else 0]
            parts.pop(0)
    found = _model_in(annotation)
    return list(found.model_fields) if found is not None else []


def _model_or_container(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next((a for a in typing.get_args(annotation) if a is not type(None)), annotation)
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    annotation = _model_or_container(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
