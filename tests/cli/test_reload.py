"""SIGHUP on a real process: TLS certificates rotate, the env file is read again, and what needs a
restart is named."""

from __future__ import annotations

import datetime
import json
import signal
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from tests.cli.serve_process import Served, start_gateway


def _self_signed(cert: Path, key: Path, name: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _served_cert(port: int) -> bytes:
    """The DER certificate a new TLS connection is given."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der
    return der


def _pem_to_der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text(encoding="ascii"))


def _whmcs(served: Served, secret: str) -> dict[str, object]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = urlencode(
        {"action": "GetTicket", "ticketid": "1", "identifier": "ops", "secret": secret, "responsetype": "json"}
    ).encode()
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{served.port}/includes/api.php", data=data, timeout=10, context=ctx
        ) as resp:
            result: dict[str, object] = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        result = json.loads(exc.read())
    return result


def _reload(served: Served) -> dict[str, object]:
    served.proc.send_signal(signal.SIGHUP)
    return served.wait_for(lambda rec: rec.get("event") in ("reloaded", "reload_failed"))


def test_sighup_rotates_certificates_and_rereads_the_env_file(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    cert.parent.mkdir()
    _self_signed(cert, key, "first.example")
    first = _pem_to_der(cert)
    env_file = tmp_path / "gateway.env"
    env_file.write_text("GATEWAY_CLIENT=ops:first-secret\n", encoding="utf-8")
    served = start_gateway(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), "--env-file", str(env_file))
    try:
        assert _served_cert(served.port) == first
        assert _whmcs(served, "first-secret")["result"] == "success"

        # new certificate files in place; in the env file a new secret and a worker count (restart only)
        _self_signed(cert, key, "second.example")
        second = _pem_to_der(cert)
        assert second != first
        env_file.write_text("GATEWAY_CLIENT=ops:second-secret\nGATEWAY_WORKERS=3\n", encoding="utf-8")
        event = _reload(served)
        assert event["event"] == "reloaded" and event["tls_rotated"] is True
        assert event["needs_restart"] == ["workers"]
        assert "needs a restart to apply: workers" in str(event["message"])

        assert _served_cert(served.port) == second
        assert _whmcs(served, "second-secret")["result"] == "success"
        assert _whmcs(served, "first-secret")["message"] == "Authentication Failed"

        # a broken certificate file: the reload names it and the running certificate stays
        cert.write_text("not a certificate\n", encoding="utf-8")
        env_file.write_text("GATEWAY_CLIENT=ops:second-secret\n", encoding="utf-8")
        event = _reload(served)
        if event["event"] == "reloaded":  # the runtime reloaded; the certificate is reported on its own line
            event = next(e for e in served.events() if e["event"] == "reload_failed")
        assert str(cert) in str(event["message"])
        assert _served_cert(served.port) == second
    finally:
        assert served.stop() == 0
    output = served.all_output()
    assert "first-secret" not in output and "second-secret" not in output
    assert "Traceback" not in output


def test_a_bad_env_file_on_reload_keeps_the_running_settings(tmp_path: Path) -> None:
    env_file = tmp_path / "gateway.env"
    env_file.write_text("GATEWAY_CLIENT=ops:kept-secret\n", encoding="utf-8")
    served = start_gateway(tmp_path, "--env-file", str(env_file))
    try:
        env_file.write_text("GATEWAY_CLEINT=ops:other\n", encoding="utf-8")
        event = _reload(served)
        assert event["event"] == "reload_failed"
        assert any("GATEWAY_CLEINT" in line and "GATEWAY_CLIENT" in line for line in event["errors"])  # type: ignore[attr-defined]
    finally:
        assert served.stop() == 0
