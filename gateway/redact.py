"""What a log line may not carry: credentials, in every spelling a client can send them.

A credential parameter is recognised by its name whatever the spelling the form
parser accepts (any letter case, percent-encoded, PHP brackets: ``apikey[]``,
``apikey[0]``, ``key%5B%5D``), in the query string and in ``;``-parameters of the
path.  Whatever a request presented as a credential (parameter or header) and
every configured secret are then blanked wherever they appear in the line.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import quote, quote_plus, unquote_plus

REDACTED = "[redacted]"

# the parameters any dialect reads a credential from (WHMCS, Keliweb, Clientexec, ReadyDesk, PMP),
# plus the names clients commonly use for one (RFC 6750's access_token)
CREDENTIAL_PARAMS = frozenset(
    {
        "key",
        "apikey",
        "api_key",
        "access_key",
        "accesskey",
        "access_token",
        "auth_token",
        "authtoken",
        "token",
        "secret",
        "password",
        "passwd",
        "identifier",
    }
)

# headers that carry credentials (headers are never logged; their values are blanked if echoed)
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "authtoken", "x-auth-token", "x-api-token", "proxy-authorization")

_SEPARATORS = re.compile(r"([?&;])")
_MIN_SECRET = 3  # shorter values (an id, a flag) would blank innocent text


@lru_cache(maxsize=1024)  # names repeat request after request; decoding one is the cost
def is_credential_name(name: str) -> bool:
    """``apikey``, ``APIKEY[]``, ``key[0]``, ``access%5Ftoken`` ... (brackets and encoding ignored)."""
    try:
        base = unquote_plus(name)
    except (ValueError, UnicodeDecodeError):
        base = name
    base = base.split("[", 1)[0].rsplit("/", 1)[-1].strip().lower()
    return base in CREDENTIAL_PARAMS


def redact_url(path_qs: str) -> str:
    """A URL fit for a log line: the values of credential parameters blanked."""
    parts = _SEPARATORS.split(path_qs)
    for i in range(2, len(parts), 2):  # parts[0] is the path before any separator
        name, eq, _ = parts[i].partition("=")
        if eq and is_credential_name(name):
            parts[i] = f"{name}={REDACTED}"
    return "".join(parts)


def presented_secrets(params: Mapping[str, object], headers: Mapping[str, str]) -> list[str]:
    """The values a request presented as credentials: credential-named parameters and headers."""
    found: list[str] = []
    # clients send the same parameter names request after request: which of them hold a
    # secret is worked out once per set of names
    names = tuple(params)
    secret_names = _secret_names(names) if len(names) <= 64 else tuple(n for n in names if _secret_param(str(n)))
    getall = getattr(params, "getall", None)  # a multidict (the query string): every value of a name
    for name in dict.fromkeys(secret_names):
        values = getall(name) if getall is not None else params[name]
        found.extend(str(v) for v in (values if isinstance(values, list | tuple) else [values]))
    if headers:
        found.extend(header_secrets(headers))
    return found


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The values of credential headers (and a Bearer's or Basic's parts)."""
    found: list[str] = []
    # most requests carry no credential header: one look-up for the (repeating) set of names
    if not headers or not _any_credential_header(tuple(headers)):
        return found
    for name, value in headers.items():
        if not value or not _is_credential_header(name):
            continue
        found.append(value)
        scheme, _, rest = value.strip().partition(" ")
        if rest:
            found.append(rest.strip())
            if scheme.lower() == "basic":
                found.extend(_basic_parts(rest.strip()))
    return found


@lru_cache(maxsize=256)
def _is_credential_header(name: str) -> bool:
    return name.lower() in CREDENTIAL_HEADERS


@lru_cache(maxsize=256)
def _any_credential_header(names: tuple[str, ...]) -> bool:
    return any(_is_credential_header(name) for name in names)


def _basic_parts(encoded: str) -> list[str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return []
    _, _, password = decoded.partition(":")
    return [decoded, password]


@lru_cache(maxsize=256)
def _secret_names(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if _secret_param(str(n)))


@lru_cache(maxsize=1024)
def _secret_param(name: str) -> bool:
    """A parameter whose value is a secret (a credential name other than the identifier)."""
    return is_credential_name(name) and not _is_identifier(name)


@lru_cache(maxsize=256)
def _is_identifier(name: str) -> bool:
    """An API identifier is blanked in URLs but is no secret (it names the client in the log)."""
    return unquote_plus(name).split("[", 1)[0].strip().lower() == "identifier"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (as written, or URL-encoded) replaced by ``[redacted]``."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True):
        for form in {secret, quote_plus(secret), quote(secret, safe="")}:
            if form in text:
                text = text.replace(form, REDACTED)
    return text
