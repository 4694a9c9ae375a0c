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


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


class Credentials:
    def __init__(self, clients: Iterable[ClientCredential]) -> None:
        self._clients = tuple(clients)
        self._md5 = tuple(hashlib.md5(c.secret.encode()).hexdigest() for c in self._clients)
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
        for i, client in enumerate(self._clients):
            # evaluate every comparison: the time taken does not depend on which one matched
            id_ok = _eq(identifier, client.identifier)
            secret_ok = _eq(secret, client.secret) | _eq(secret.lower(), self._md5[i])
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
