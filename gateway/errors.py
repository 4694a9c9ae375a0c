"""One exception tree for everything a client can be told.

    GatewayError                 base; ``message`` is safe to show a client; ``code`` names the situation
    ├── AuthError                bad or missing credential (never reaches the backend)       auth
    ├── NotFound                 the record does not exist (``kind``: ticket, customer, ...) <kind>_not_found
    ├── InvalidInput             the client's input is wrong (``field`` names it)           <reason> | invalid_input
    ├── Unsupported              the backend cannot carry the operation out (``grant``)     <reason> | unsupported
    ├── UnknownAction            the dialect has no such action                              unknown_action
    ├── RateLimited              the credential is over its rate (``retry_after`` seconds)  rate_limited
    ├── PayloadTooLarge          the body is over the configured limit                       too_large
    ├── Forbidden                the credential may not call this action / from this address <reason> | forbidden
    └── BackendError             the backend failed                                          backend_error
        ├── BackendAuthError     the backend refused the gateway's token                     backend_auth
        ├── BackendAddressRefused  the backend refused the gateway's address (WHMCS "Invalid IP") backend_address
        ├── BackendTimeout       the request's deadline passed                               timeout
        ├── BackendUnavailable   down, refused, 5xx, garbage, breaker open                   unavailable
        │   └── InternalError    a gateway bug (logged; the client sees no details)          internal
        └── WriteOutcomeUnknown  a write was sent and its outcome could not be verified      outcome_unknown

Errors carry codes; each dialect supplies the words.  The hub raises
``NotFound("ticket")`` or ``InvalidInput(reason="requester_required",
field="name")``; a dialect looks the ``code`` up in its mapping's
``settings.errors`` (and an action's ``options.errors``) and falls back to
``message``, which, when the raiser gave none, is built from the structured
fields (``describe``), the way jmespath builds its messages.  ``details`` are the
values a mapping text may name as ``{field}``, ``{kind}``, ``{grant}``, ...

Library exceptions (aiohttp, sqlite, yaml) are translated at the boundary that
meets them; dialects map each class to their own envelope and HTTP status.
Messages never carry a credential, a token or a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping


class GatewayError(Exception):
    default_code = "error"

    def __init__(self, message: str = "", *, code: str = "", details: Mapping[str, str] | None = None) -> None:
        self.code = code or self.default_code
        self.details: dict[str, str] = {k: str(v) for k, v in (details or {}).items() if v not in (None, "")}
        self.message = message or self.describe()
        super().__init__(self.message)

    def describe(self) -> str:
        """The generic text for this error, from its code and details (used when none was given)."""
        text = self.code.replace("_", " ")
        extra = ", ".join(f"{k}: {v}" for k, v in sorted(self.details.items()))
        return f"{text[:1].upper()}{text[1:]}" + (f" ({extra})" if extra else "")


class AuthError(GatewayError):
    default_code = "auth"

    def describe(self) -> str:
        return "Authentication failed"


class Forbidden(GatewayError):
    """``reason``: ``ip_not_allowed`` (detail ``ip``) or ``action_not_allowed`` (detail ``action``)."""

    default_code = "forbidden"

    def __init__(self, message: str = "", *, reason: str = "", **details: str) -> None:
        super().__init__(message, code=reason, details=details)

    def describe(self) -> str:
        if self.code == "ip_not_allowed":
            return f"Access from {self.details.get('ip', 'this address')} is not allowed"
        if self.code == "action_not_allowed":
            return f"The action {self.details.get('action', '')} is not allowed for this credential".replace("  ", " ")
        return "Access denied"


class NotFound(GatewayError):
    """``NotFound("ticket")``: code ``ticket_not_found``."""

    def __init__(self, kind: str, message: str = "", **details: str) -> None:
        self.kind = kind
        super().__init__(message, code=f"{kind}_not_found", details={"kind": kind, **details})

    def describe(self) -> str:
        return f"{self.kind.replace('_', ' ').capitalize()} not found"


class InvalidInput(GatewayError):
    """``field`` names the input; ``reason`` (the code) says what is wrong with it.

    Reasons the hub raises: ``required`` (a value is missing), ``invalid`` (a value
    the argument model refuses), ``requester_required`` (no client and no
    name/email), ``future_date``, ``client_ref_required`` (neither client id nor
    email), ``duplicate_email``, ``bad_sort``; ``body`` for an unreadable body.
    """

    default_code = "invalid_input"

    def __init__(self, message: str = "", field: str = "", reason: str = "", **details: str) -> None:
        self.field = field
        super().__init__(message, code=reason, details={"field": field, **details})

    def describe(self) -> str:
        field = self.field or "input"
        texts = {
            "required": f"{field} is required",
            "requester_required": "Name and email address are required without a client",
            "future_date": f"{field} cannot be in the future",
            "client_ref_required": "A client id or an email address is required",
            "duplicate_email": "The email address is already in use",
        }
        return texts.get(self.code, f"Invalid value for {field}")


class Unsupported(GatewayError):
    """The backend cannot do it. ``reason`` (the code) and ``grant`` (what would enable it)."""

    default_code = "unsupported"

    def __init__(self, message: str = "", *, reason: str = "", grant: str = "", **details: str) -> None:
        self.grant = grant
        super().__init__(message, code=reason, details={"grant": grant, **details})

    def describe(self) -> str:
        what = self.code.replace("_", " ") if self.code != self.default_code else "this operation"
        hint = f"; it needs {self.grant}" if self.grant else ""
        return f"The backend cannot carry out {what}{hint}; nothing was written"


class UnknownAction(GatewayError):
    default_code = "unknown_action"

    def describe(self) -> str:
        return "Unknown action"


class RateLimited(GatewayError):
    default_code = "rate_limited"

    def __init__(self, message: str = "", retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def describe(self) -> str:
        return "Too many requests, please try again later"


class PayloadTooLarge(GatewayError):
    default_code = "too_large"

    def describe(self) -> str:
        return "Request body too large"


class BackendError(GatewayError):
    default_code = "backend_error"

    def describe(self) -> str:
        return "The backend failed"


class BackendAuthError(BackendError):
    default_code = "backend_auth"

    def describe(self) -> str:
        return "The backend is unavailable: it refused the gateway's credentials"


class BackendAddressRefused(BackendError):
    """The backend refused the gateway's network address (WHMCS's API IP allow-list): the
    message says so and how to fix it, so it is never worded as a credential failure."""


class BackendTimeout(BackendError):
    default_code = "timeout"

    def describe(self) -> str:
        return "The backend did not answer in time (timed out)"


class BackendUnavailable(BackendError):
    default_code = "unavailable"

    def describe(self) -> str:
        return "The backend is unavailable, please try again later"


class WriteOutcomeUnknown(BackendError):
    default_code = "outcome_unknown"

    def describe(self) -> str:
        return "The change may have been applied: check before retrying"


class InternalError(BackendUnavailable):
    """A bug in the gateway: logged with its traceback, answered as the dialect's 'unavailable' error."""

    default_code = "internal"

    def describe(self) -> str:
        return "Internal gateway error"


# the public name of each error class, most specific first: the access log's ``error_kind``
# and the ``kind`` label of ``gateway_errors_total`` (operators alert on these, not class names)
_KINDS: tuple[tuple[type[GatewayError], str], ...] = (
    (AuthError, "auth"),
    (NotFound, "not_found"),
    (InvalidInput, "invalid_input"),
    (Unsupported, "unsupported"),
    (UnknownAction, "unknown_action"),
    (RateLimited, "rate_limited"),
    (PayloadTooLarge, "too_large"),
    (Forbidden, "forbidden"),
    (BackendAuthError, "backend_auth"),
    (BackendTimeout, "timeout"),
    (InternalError, "internal"),
    (WriteOutcomeUnknown, "outcome_unknown"),
    (BackendUnavailable, "unavailable"),
    (BackendError, "unavailable"),
)

#: every kind ``kind_of`` can answer
KINDS: tuple[str, ...] = (*dict.fromkeys(k for _, k in _KINDS), "internal")


def kind_of(exc: BaseException) -> str:
    """The public kind of an error (``internal`` for anything that is not a GatewayError)."""
    return next((kind for cls, kind in _KINDS if isinstance(exc, cls)), "internal")
