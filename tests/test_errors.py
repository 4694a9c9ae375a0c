"""gateway/errors.py: every error class has one public kind."""

from __future__ import annotations

import pytest

from gateway import errors
from gateway.errors import KINDS, kind_of

CASES = [
    (errors.AuthError("x"), "auth"),
    (errors.NotFound("ticket", "x"), "not_found"),
    (errors.InvalidInput("x", "f"), "invalid_input"),
    (errors.Unsupported("x"), "unsupported"),
    (errors.UnknownAction("x"), "unknown_action"),
    (errors.RateLimited("x", 1.0), "rate_limited"),
    (errors.PayloadTooLarge("x"), "too_large"),
    (errors.Forbidden("x"), "forbidden"),
    (errors.BackendAuthError("x"), "backend_auth"),
    (errors.BackendTimeout("x"), "timeout"),
    (errors.BackendUnavailable("x"), "unavailable"),
    (errors.BackendError("x"), "unavailable"),
    (errors.WriteOutcomeUnknown("x"), "outcome_unknown"),
    (errors.InternalError("x"), "internal"),
    (ValueError("x"), "internal"),
]


@pytest.mark.parametrize(("exc", "kind"), CASES)
def test_kind_of(exc: BaseException, kind: str) -> None:
    assert kind_of(exc) == kind
    assert kind in KINDS


def test_every_gateway_error_subclass_has_a_kind_other_than_a_class_name() -> None:
    def subclasses(cls: type[errors.GatewayError]) -> list[type[errors.GatewayError]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    for cls in subclasses(errors.GatewayError):
        if cls is errors.GatewayError:
            continue
        assert cls.__name__ not in KINDS
