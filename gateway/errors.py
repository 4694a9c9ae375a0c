"""One exception tree for everything a client can be told.

    GatewayError                 base; ``message`` is safe to show a client
    ├── AuthError                bad or missing credential (never reaches the backend)
    ├── NotFound                 the record does not exist (``kind``: ticket, customer, contact, ...)
    ├── InvalidInput             the client's input is wrong (``field`` names it)
    ├── Unsupported              the backend cannot carry the operation out
    ├── UnknownAction            the dialect has no such action
    ├── RateLimited              the credential is over its rate (``retry_after`` seconds)
    ├── PayloadTooLarge          the body is over the configured limit
    ├── Forbidden                the credential may not call this action / from this address
    └── BackendError             the backend failed
        ├── BackendAuthError     the backend refused the gateway's token
        ├── BackendAddressRefused  the backend refused the gateway's address (WHMCS "Invalid IP")
        ├── BackendTimeout       the request's deadline passed
        ├── BackendUnavailable   down, refused, 5xx, garbage, breaker open
        │   └── InternalError    a gateway bug (logged; the client sees no details)
        └── WriteOutcomeUnknown  a write was sent and its outcome could not be verified

Library exceptions (aiohttp, sqlite, yaml) are translated at the boundary that
meets them; dialects map each class to their own envelope and HTTP status.
Messages never carry a credential, a token or a stack trace.
"""

from __future__ import annotations


class GatewayError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthError(GatewayError):
    pass


class Forbidden(GatewayError):
    pass


class NotFound(GatewayError):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class InvalidInput(GatewayError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Unsupported(GatewayError):
    pass


class UnknownAction(GatewayError):
    pass


class RateLimited(GatewayError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(GatewayError):
    pass


class BackendError(GatewayError):
    pass


class BackendAuthError(BackendError):
    pass


class BackendAddressRefused(BackendError):
    """The backend refused the gateway's network address (WHMCS's API IP allow-list): the
    message says so and how to fix it, so it is never worded as a credential failure."""


class BackendTimeout(BackendError):
    pass


class BackendUnavailable(BackendError):
    pass


class WriteOutcomeUnknown(BackendError):
    pass


class InternalError(BackendUnavailable):
    """A bug in the gateway: logged with its traceback, answered as the dialect's 'unavailable' error."""
