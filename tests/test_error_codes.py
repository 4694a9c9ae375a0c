"""Errors carry codes and structured fields; their generic text is built from them."""

from __future__ import annotations

import pytest

from gateway import errors as e


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (e.NotFound("ticket"), "ticket_not_found", "Ticket not found"),
        (e.NotFound("customer", "Client ID Not Found"), "customer_not_found", "Client ID Not Found"),
        (e.InvalidInput(field="name", reason="requester_required"), "requester_required",
         "Name and email address are required without a client"),
        (e.InvalidInput("subject is required", "subject"), "invalid_input", "subject is required"),
        (e.InvalidInput(field="created", reason="future_date"), "future_date", "created cannot be in the future"),
        (e.Unsupported(reason="no_reply_route", grant="tblticket_replies"), "no_reply_route",
         "The backend cannot carry out no reply route; it needs tblticket_replies; nothing was written"),
        (e.Forbidden(reason="ip_not_allowed", ip="10.0.0.1"), "ip_not_allowed", "Access from 10.0.0.1 is not allowed"),
        (e.Forbidden(reason="action_not_allowed", action="getticket"), "action_not_allowed",
         "The action getticket is not allowed for this credential"),
        (e.AuthError(), "auth", "Authentication failed"),
        (e.UnknownAction(), "unknown_action", "Unknown action"),
        (e.RateLimited(retry_after=3), "rate_limited", "Too many requests, please try again later"),
        (e.BackendTimeout(), "timeout", "The backend did not answer in time (timed out)"),
        (e.BackendUnavailable("The backend is unavailable (HTTP 503)"), "unavailable",
         "The backend is unavailable (HTTP 503)"),
        (e.WriteOutcomeUnknown(), "outcome_unknown", "The change may have been applied: check before retrying"),
        (e.InternalError(), "internal", "Internal gateway error"),
    ],
)  # fmt: skip
def test_code_and_generic_message(exc: e.GatewayError, code: str, message: str) -> None:
    assert (exc.code, exc.message, str(exc)) == (code, message, message)


def test_details_hold_the_structured_fields() -> None:
    exc = e.Unsupported("no route", reason="no_reply_route", grant="tblticket_replies")
    assert exc.details == {"grant": "tblticket_replies"} and exc.grant == "tblticket_replies"
    assert e.InvalidInput("x", "email").details == {"field": "email"}
    assert e.NotFound("contact").kind == "contact"


def test_old_signatures_still_work() -> None:
    assert e.NotFound("ticket", "Ticket ID Not Found").message == "Ticket ID Not Found"
    assert e.InvalidInput("bad", "field").field == "field"
    assert e.RateLimited("slow down", retry_after=2.0).retry_after == 2.0
    assert e.Unsupported("plain").code == "unsupported"
