"""Settings as an operator writes them: typos named, URLs checked, paths resolved, env files read."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError, load_settings, read_env_file

REAL = {"GATEWAY_BACKEND_URL": "https://crm.example/", "GATEWAY_BACKEND_TOKEN": "tok", "GATEWAY_CLIENT": "a:b"}


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_mistyped_variable_is_named_with_the_closest_known_one() -> None:
    env = {"GATEWAY_BACKEND_ULR": "https://crm.example/", "GATEWAY_BACKEND_TOKEN": "tok", "GATEWAY_CLIENT": "a:b"}
    with pytest.raises(SettingsError) as err:
        load_settings(env=env)
    assert "GATEWAY_BACKEND_ULR" in str(err.value) and "'GATEWAY_BACKEND_URL'" in str(err.value)


@pytest.mark.parametrize(
    ("text", "bad", "close"),
    [
        ("backend:\n  tokn: x\n", "backend.tokn", "'token'"),
        ("dialects:\n  whmcs:\n    prefx: /w\n", "dialects.whmcs.prefx", "'prefix'"),
        ("clients:\n  - {identifier: a, secret: b, action: [GetTicket]}\n", "clients.0.action", "'actions'"),
        ("index:\n  max_stalenes: 1\n", "index.max_stalenes", "'max_staleness'"),
        ("limts:\n  rate_burst: 1\n", "limts", "'limits'"),
    ],
)
def test_a_mistyped_config_key_is_named_with_the_closest_known_one(
    tmp_path: Path, text: str, bad: str, close: str
) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(_config(tmp_path, text), env={})
    line = next(line for line in str(err.value).splitlines() if bad in line)
    assert "unknown key" in line and close in line


def test_kubernetes_service_links_are_ignored_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        "GATEWAY_PORT": "tcp://10.0.0.7:80",
        "GATEWAY_PORT_80_TCP_ADDR": "10.0.0.7",
        "GATEWAY_SERVICE_HOST": "10.0.0.7",
        "GATEWAY_SERVICE_PORT": "80",
    }
    with caplog.at_level(logging.WARNING, logger="gateway"):
        settings = load_settings(env=env)
    assert settings.port == 8080
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "GATEWAY_SERVICE_HOST" in warnings[0].getMessage()


def test_a_gateway_port_that_is_a_number_is_still_the_port() -> None:
    assert load_settings(env={"GATEWAY_PORT": "9000"}).port == 9000


@pytest.mark.parametrize("url", ["ftp://crm.example/", "crm.example", "https://", "file:///etc/passwd"])
def test_the_backend_url_must_be_http_or_https(url: str) -> None:
    with pytest.raises(SettingsError, match=r"backend\.url"):
        load_settings(env={**REAL, "GATEWAY_BACKEND_URL": url})


def test_a_backend_url_without_a_token_is_an_error() -> None:
    env = {k: v for k, v in REAL.items() if k != "GATEWAY_BACKEND_TOKEN"}
    with pytest.raises(SettingsError, match="needs a token"):
        load_settings(env=env)


def test_backend_kind_is_pmp_or_whmcs() -> None:
    assert load_settings(env=REAL).backend.kind == "pmp"
    whmcs = load_settings(flags={"backend_kind": "whmcs", "backend_token": "ident:secret"}, env=REAL)
    assert whmcs.backend.kind == "whmcs"
    with pytest.raises(SettingsError, match="IDENTIFIER:SECRET"):
        load_settings(flags={"backend_kind": "whmcs"}, env=REAL)
    with pytest.raises(SettingsError, match=r"backend\.kind"):
        load_settings(env={**REAL, "GATEWAY_BACKEND_KIND": "zendesk"})


def test_new_keys_have_their_defaults_and_bounds(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.index.max_staleness == 5
    assert settings.dialect("pmp").generation == 3
    assert settings.backend.features == {} and settings.backend.accesskey is None
    text = (
        "index: {max_staleness: 0}\ndialects: {pmp: {generation: 2}}\n"
        "backend: {features: {notes: read-only, staff: auto, paging: no}, accesskey: k}\n"
    )
    loaded = load_settings(_config(tmp_path, text), env={})
    assert loaded.index.max_staleness == 0 and loaded.dialect("pmp").generation == 2
    assert loaded.backend.features == {"notes": "read-only", "staff": "auto", "paging": "no"}
    with pytest.raises(SettingsError, match=r"index\.max_staleness"):
        load_settings(_config(tmp_path, "index: {max_staleness: -1}\n"), env={})
    with pytest.raises(SettingsError, match="'notes'"):
        load_settings(_config(tmp_path, "backend: {features: {note: yes}}\n"), env={})


def test_config_paths_resolve_from_the_config_folder_and_defaults_from_cwd(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    config = _config(folder, "mappings: overlay\ndata_dir: state\ntls_cert: certs/c.pem\nstore: ids.sqlite3\n")
    settings = load_settings(config, env={})
    assert settings.mappings == folder / "overlay"
    assert settings.data_dir == folder / "state"
    assert settings.tls_cert == folder / "certs" / "c.pem"
    assert settings.store == str(folder / "ids.sqlite3")
    assert load_settings(_config(folder, "port: 1\n"), env={}).data_dir == Path("gateway-data")
    # a PostgreSQL URL is not a path, and flags stay relative to the working directory
    pg = load_settings(_config(folder, "store: postgresql://u@db/g\n"), {"mappings": Path("m")}, env={})
    assert pg.store == "postgresql://u@db/g" and pg.mappings == Path("m")


def test_the_env_file_is_read_as_environment_and_overrides_the_process_environment(tmp_path: Path) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text(
        "# comment\nexport GATEWAY_PORT=9100\nGATEWAY_CLIENT='a:b,c:d'\nGATEWAY_BACKEND_TOKEN=\"from-file\"\n",
        encoding="utf-8",
    )
    assert read_env_file(env_file)["GATEWAY_CLIENT"] == "a:b,c:d"
    env = {**REAL, "GATEWAY_PORT": "9000", "GATEWAY_ENV_FILE": str(env_file)}
    settings = load_settings(env=env)
    assert settings.port == 9100 and settings.backend.token == "from-file"
    assert [c.identifier for c in settings.clients] == ["a", "c"]
    assert load_settings(flags={"env_file": env_file, "port": 7000}, env=REAL).port == 7000  # flags win


def test_the_env_file_is_checked_like_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text("GATEWAY_BAKEND_TOKEN=x\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="'GATEWAY_BACKEND_TOKEN'"):
        load_settings(flags={"env_file": env_file}, env={})
    env_file.write_text("not a line\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"gateway\.env:1"):
        load_settings(flags={"env_file": env_file}, env={})
    with pytest.raises(SettingsError, match=r"missing\.env"):
        load_settings(flags={"env_file": tmp_path / "missing.env"}, env={})


def test_the_backend_is_named() -> None:
    assert load_settings(env={}).backend_name == "demo: embedded pmp simulator"
    assert load_settings(env=REAL).backend_name == "pmp at https://crm.example/"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("gw.example", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert Settings(host=host).loopback is loopback
