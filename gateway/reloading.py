"""What SIGHUP can change in a running process, and what needs a restart.

A reload rebuilds the runtime (mappings, credentials, allow-lists, limits,
backend token and timeouts), re-reads the env file and loads the TLS
certificate files again into the live SSL context (new connections get the
new certificate).  What the process bound or opened at start-up cannot change
under it: those keys are named in the reload's log line.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from gateway.settings import Settings, SettingsError

# dotted settings keys that are read once, when the process starts
RESTART_KEYS: tuple[str, ...] = (
    "host",
    "port",
    "workers",
    "metrics_port",
    "demo",
    "data_dir",
    "store",
    "access_log",
    "backend.kind",
    "backend.max_concurrency",
    "backend.breaker_failures",
    "backend.breaker_reset",
    "limits.max_body_bytes",
)


def _get(settings: Settings, dotted: str) -> Any:
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def needs_restart(old: Settings, new: Settings) -> list[str]:
    """The keys that changed but only take effect on a restart."""
    keys = [k for k in RESTART_KEYS if _get(old, k) != _get(new, k)]
    if old.embedded_backend != new.embedded_backend:
        keys.append("backend.url (embedded simulator <-> real backend)")
    if (old.tls_cert is None) != (new.tls_cert is None):
        keys.append("tls_cert/tls_key (turning TLS on or off)")
    for name in sorted(set(old.dialects) | set(new.dialects)):
        before, after = old.dialect(name), new.dialect(name)
        for key in ("enabled", "prefix"):
            if getattr(before, key) != getattr(after, key):
                keys.append(f"dialects.{name}.{key}")
    return keys


def changed(old: Settings, new: Settings) -> list[str]:
    """Top-level sections whose values differ (what a reload applied, for its log line)."""
    before, after = old.model_dump(), new.model_dump()
    return sorted(k for k in after if before.get(k) != after.get(k))


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """The certificate and key paths, checked to exist: a SettingsError names a missing one."""
    if settings.tls_cert is None and settings.tls_key is None:
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise SettingsError("--tls-cert and --tls-key go together")
    for flag, path in (("tls_cert", settings.tls_cert), ("tls_key", settings.tls_key)):
        if not path.is_file():
            raise SettingsError(f"{flag}: {path}: no such file")
    return settings.tls_cert, settings.tls_key


def load_chain(ctx: ssl.SSLContext, cert: Path, key: Path) -> None:
    """Load a certificate chain into ``ctx``; a SettingsError names the file and the reason."""
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except FileNotFoundError as exc:
        raise SettingsError(f"TLS file {exc.filename or cert}: no such file") from None
    except PermissionError as exc:
        raise SettingsError(f"TLS file {exc.filename or cert}: permission denied") from None
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(f"TLS files {cert} / {key}: {exc.strerror or exc}") from None


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    files = tls_files(settings)
    if files is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    load_chain(ctx, *files)
    return ctx
