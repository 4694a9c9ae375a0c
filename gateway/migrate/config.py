"""``gateway migrate``'s settings: flags over environment over the config file's blocks.

The config file may hold ``source:`` and ``target:`` blocks with the keys of ``backend:``,
and a ``migrate:`` block with the operator's department and staff mappings.  Tokens may
come from ``GATEWAY_SOURCE_TOKEN`` / ``GATEWAY_TARGET_TOKEN`` so that they stay out of ``ps``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.migrate.engine import SCOPES
from gateway.settings import SettingsError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Side(BaseModel):
    """One end of a migration: the keys of ``backend:``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["pmp", "whmcs"] = "pmp"
    url: str = ""
    token: str = Field(default="", repr=False)
    accesskey: str | None = Field(default=None, repr=False)
    timeout: float = Field(default=60.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0)
    zone: str = "UTC"
    max_concurrency: int = Field(default=16, ge=1)
    retries: int = Field(default=2, ge=0)
    breaker_failures: int = 5
    breaker_reset: float = 10.0
    features: dict[str, str] = Field(default_factory=dict)


class MigrateBlock(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    departments: dict[str, str] = Field(default_factory=dict)
    default_department: str = ""  # target name or id for an accepted department:NAME loss ("": the lowest id)
    staff: dict[str, str] = Field(default_factory=dict)
    concurrency: int = Field(default=4, ge=1, le=64)


class MigrateSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")  # the rest of a serve config may sit beside
    source: Side = Side()
    target: Side = Side()
    migrate: MigrateBlock = MigrateBlock()
    mappings: Path | None = None
    data_dir: Path = Path("gateway-data")
    store: str | None = None

    @property
    def store_url(self) -> str:
        return self.store or str(self.data_dir / "gateway.sqlite3")


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


def _read(config: Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    if config is None:
        return {}
    try:
        loaded = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{config}: {exc}") from None
    if not isinstance(loaded, dict):
        raise SettingsError(f"{config}: the config file must be a mapping")
    tree: dict[str, Any] = _expand(loaded, env)
    for key in ("mappings", "data_dir"):  # paths in the file resolve from its folder
        if isinstance(tree.get(key), str):
            tree[key] = str((config.parent / tree[key]).resolve())
    return tree


def load(flags: Mapping[str, Any], config: Path | None, env: Mapping[str, str] | None = None) -> MigrateSettings:
    """Config file < GATEWAY_SOURCE_* / GATEWAY_TARGET_* < flags; SettingsError names a bad key."""
    env = os.environ if env is None else env
    tree = _read(config, env)
    for side in ("source", "target"):
        block = tree.setdefault(side, {})
        if not isinstance(block, dict):
            raise SettingsError(f"{side}: must be a mapping with the keys of backend:")
        for key in ("kind", "url", "token"):
            raw = env.get(f"GATEWAY_{side.upper()}_{key.upper()}")
            if raw:
                block[key] = raw
            value = flags.get(f"{side}_{key}")
            if value:
                block[key] = value
    for key in ("store", "mappings"):
        if flags.get(key):
            tree[key] = flags[key]
    try:
        return MigrateSettings.model_validate(tree)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"])
            hint = ""
            if err["type"] == "extra_forbidden" and len(err["loc"]) >= 2:
                fields: dict[str, list[str]] = {
                    "source": list(Side.model_fields),
                    "target": list(Side.model_fields),
                    "migrate": list(MigrateBlock.model_fields),
                }
                close = difflib.get_close_matches(str(err["loc"][-1]), fields.get(str(err["loc"][0]), []), 1)
                hint = f" (did you mean {close[0]}?)" if close else ""
            lines.append(f"{config or 'settings'}: {path}: {err['msg']}{hint}")
        raise SettingsError("\n".join(lines)) from None


def parse_only(text: str | None) -> frozenset[str]:
    if not text:
        return frozenset(SCOPES)
    kinds = frozenset(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(kinds - set(SCOPES))
    if unknown:
        raise SettingsError(f"--only: unknown kind {', '.join(unknown)} (one of {', '.join(SCOPES)})")
    return kinds


def parse_losses(text: str | None) -> frozenset[str]:
    from gateway.losses import is_known

    if not text:
        return frozenset()
    ids = frozenset(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(i for i in ids if i != "all" and not is_known(i))
    if unknown:
        raise SettingsError(f"--allow-loss: unknown loss id {', '.join(unknown)} (see the README's list)")
    return ids
