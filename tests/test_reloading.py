"""gateway/reloading.py: what a reload applies and what it names as needing a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.reloading import changed, needs_restart, ssl_context, tls_files
from gateway.settings import DialectSettings, LimitSettings, Settings, SettingsError


def test_restart_keys_are_named() -> None:
    old = Settings()
    new = Settings(
        port=9000,
        workers=2,
        limits=LimitSettings(max_body_bytes=4096),
        dialects={"readydesk": DialectSettings(enabled=False)},
        backend={"url": "https://crm.example/", "token": "t"},
    )
    restart = needs_restart(old, new)
    assert {"port", "workers", "limits.max_body_bytes", "dialects.readydesk.enabled"} <= set(restart)
    assert any(k.startswith("backend.url") for k in restart)


def test_run_time_settings_need_no_restart() -> None:
    old = Settings()
    new = Settings(log_level="debug", limits=LimitSettings(rate_per_second=5), index={"max_staleness": 0})
    assert needs_restart(old, new) == []
    assert changed(old, new) == ["index", "limits", "log_level"]


def test_tls_files_are_named_when_missing_or_alone(tmp_path: Path) -> None:
    assert tls_files(Settings()) is None
    with pytest.raises(SettingsError, match="go together"):
        tls_files(Settings(tls_cert=tmp_path / "c.pem"))
    with pytest.raises(SettingsError, match=r"c\.pem: no such file"):
        tls_files(Settings(tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem"))
    (tmp_path / "c.pem").write_text("not a certificate", encoding="utf-8")
    (tmp_path / "k.pem").write_text("not a key", encoding="utf-8")
    with pytest.raises(SettingsError, match="TLS files"):
        ssl_context(Settings(tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem"))
