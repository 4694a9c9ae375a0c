"""Client credentials, compared in constant time.

Every form INTERFACE lists resolves to one configured ``--client``:
``identifier`` + ``secret``; ``username`` + ``password`` where the password is
the secret itself or its MD5 hex (a legacy admin login); or the bare secret as
a key (Keliweb's Bearer token, Clientexec's application key, ReadyDesk's key).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.errors import AuthError, Forbidden
from gateway.settings import ClientCredential

# kept for callers that still pass it; the words a client sees come from the dialect's mapping (code "auth")
AUTH_FAILED = ""


@dataclass(frozen=True)
class Principal:
    identifier: str
    actions: frozenset[str] | None
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


class Credentials:
    def __init__(self, clients: Iterable[ClientCredential]) -> None:
        self._clients = tuple(clients)
        self._md5 = tuple(hashlib.md5(c.secret.encode()).hexdigest() for c in self._clients)
        # what each presented value is compared with, encoded once
        self._encoded = tuple(
            (_bytes(c.identifier), _bytes(c.secret), _bytes(md5))
            for c, md5 in zip(self._clients, self._md5, strict=True)
        )
        self._principals = tuple(
            Principal(
                c.identifier,
                frozenset(a.casefold() for a in c.actions) if c.actions is not None else None,
                tuple(ipaddress.ip_network(n, strict=False) for n in c.networks) if c.networks else None,
            )
            for c in self._clients
        )

    def __len__(self) -> int:
        return len(self._clients)

    def by_pair(self, identifier: str | None, secret: str | None) -> Principal:
        """identifier+secret, or username+password (secret itself or its MD5 hex)."""
        if not identifier or not secret:
            raise AuthError()
        found: Principal | None = None
        codec = ("utf-8", "surrogateescape")
        given_id, given, given_lower = identifier.encode(*codec), secret.encode(*codec), secret.lower().encode(*codec)
        for i, (client_id, client_secret, client_md5) in enumerate(self._encoded):
            # evaluate every comparison: the time taken does not depend on which one matched
            id_ok = hmac.compare_digest(given_id, client_id)
            secret_ok = hmac.compare_digest(given, client_secret) | hmac.compare_digest(given_lower, client_md5)
            if id_ok and secret_ok and found is None:
                found = self._principals[i]
        if found is None:
            raise AuthError()
        return found

    def by_key(self, key: str | None) -> Principal:
        if not key:
            raise AuthError()
        found: Principal | None = None
        for i, client in enumerate(self._clients):
            if _eq(key, client.secret) and found is None:
                found = self._principals[i]
        if found is None:
            raise AuthError()
        return found


def authorize(principal: Principal, action: str, operation: str, remote: str | None) -> None:
    """Per-credential allow-lists of actions and client networks."""
    if principal.networks is not None:
        try:
            addr = ipaddress.ip_address(remote or "")
        except ValueError:
            raise Forbidden(reason="ip_not_allowed", ip=remote or "unknown") from None
        if not any(addr in net for net in principal.networks):
            raise Forbidden(reason="ip_not_allowed", ip=str(addr))
    if principal.actions is not None and not (
        action.casefold() in principal.actions or operation.casefold() in principal.actions
    ):
        raise Forbidden(reason="action_not_allowed", action=action.lower())
