"""gateway/redact.py: credential parameters in every spelling the form parser accepts."""

from __future__ import annotations

import base64

import pytest

from gateway.redact import is_credential_name, presented_secrets, redact_url, scrub

SPELLINGS = [
    "apikey", "APIKEY", "apikey[]", "apikey[0]", "apikey%5B%5D", "apikey%5b0%5d", "key", "KEY[]", "key[0]",
    "key%5B%5D", "access_token", "Access_Token", "access%5Ftoken", "authtoken", "AuthToken[]", "secret",
    "SECRET[x]", "password", "token", "api_key", "accesskey",
]  # fmt: skip


@pytest.mark.parametrize("name", SPELLINGS)
def test_every_spelling_is_a_credential_name(name: str) -> None:
    assert is_credential_name(name)


@pytest.mark.parametrize("name", ["action", "ticketid", "keyword", "monkey", "tokens_left", "format"])
def test_other_names_are_not(name: str) -> None:
    assert not is_credential_name(name)


@pytest.mark.parametrize("name", SPELLINGS)
@pytest.mark.parametrize("sep", ["?", "&", ";"])
def test_redact_url_blanks_each_spelling(name: str, sep: str) -> None:
    head = "/API/default.aspx" + ("?action=x" if sep != "?" else "")
    out = redact_url(f"{head}{sep}{name}=hostile-secret&tid=1")
    assert "hostile-secret" not in out and f"{name}=[redacted]" in out and out.endswith("&tid=1")


def test_presented_secrets_reads_parameters_and_headers() -> None:
    basic = base64.b64encode(b"user:basic-pass").decode()
    found = presented_secrets(
        {"key[0]": "k-secret", "apikey[]": ["l1-secret", "l2-secret"], "identifier": "demo", "tid": "1"},
        {"Authorization": "Bearer bearer-secret", "X-API-KEY": "xkey-secret"},
    )
    assert {"k-secret", "l1-secret", "l2-secret", "bearer-secret", "xkey-secret"} <= set(found)
    assert "demo" not in found and "1" not in found  # an identifier names the client; it is no secret
    assert "basic-pass" in presented_secrets({}, {"Authorization": f"Basic {basic}"})


def test_scrub_blanks_secrets_as_written_and_url_encoded() -> None:
    text = 'path=/api/ticket/s3 cr/t?x=s3+cr%2Ft "s3 cr/t"'
    assert "s3" not in scrub(text, ["s3 cr/t", "ab"])
    assert scrub("ab cd", ["ab"]) == "ab cd"  # too short to blank without blanking innocent text


def test_fresh_request_ids_are_unique_safe_tokens() -> None:
    from gateway.middlewares import _REQUEST_ID, new_request_id

    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 32 and _REQUEST_ID.fullmatch(i) for i in ids)


def test_every_value_of_a_repeated_credential_parameter_is_a_secret() -> None:
    from multidict import MultiDict, MultiDictProxy

    from gateway.redact import presented_secrets

    query = MultiDictProxy(MultiDict([("apikey", "first-key"), ("ticket", "1"), ("APIKEY[]", "second-key")]))
    assert sorted(presented_secrets(query, {})) == ["first-key", "second-key"]
    query = MultiDictProxy(MultiDict([("apikey", "one-key"), ("apikey", "two-key")]))
    assert sorted(presented_secrets(query, {"Authorization": "Bearer tok-en"})) == [
        "Bearer tok-en",
        "one-key",
        "tok-en",
        "two-key",
    ]
