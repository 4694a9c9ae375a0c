"""Each dialect supplies its own words for the error codes; the hub holds no vendor text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.dialects.base import Inbound
from gateway.errors import Forbidden, GatewayError, InvalidInput, NotFound, Unsupported
from gateway.mapping.loader import load_mappings
from gateway.mapping.vendor_settings import error_texts
from gateway.settings import DialectSettings

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
# the codes the hub raises for the common cases: every dialect words them itself
COMMON = (
    "auth",
    "unknown_action",
    "ticket_not_found",
    "customer_not_found",
    "contact_not_found",
    "department_not_found",
    "requester_required",
    "ip_not_allowed",
    "action_not_allowed",
)
WHMCS_TEXTS = ("Ticket ID Not Found", "Client ID Not Found", "Command Not Found", "Authentication Failed",
               "Name and email address are required if not a client", "Invalid Permissions")  # fmt: skip


def _dialect(name: str) -> object:
    from gateway.app import dialect_classes

    cls = dialect_classes()[name]
    return cls(DialectSettings(), load_mappings()[cls.vendor])


@pytest.mark.parametrize("vendor", ["whmcs", "clientexec", "readydesk"])
def test_every_vendor_words_the_common_codes(vendor: str) -> None:
    texts = error_texts(load_mappings()[vendor].config)
    assert set(COMMON) <= set(texts), set(COMMON) - set(texts)


@pytest.mark.parametrize("vendor", ["clientexec", "readydesk"])
def test_other_vendors_do_not_speak_whmcs(vendor: str) -> None:
    texts = error_texts(load_mappings()[vendor].config)
    assert not [t for t in texts.values() if any(w.casefold() in t.casefold() for w in WHMCS_TEXTS)]


def test_the_hub_holds_no_whmcs_text() -> None:
    for path in ("service.py", "auth.py", "dialects/base.py"):
        source = (GATEWAY / path).read_text(encoding="utf-8")
        found = [w for w in WHMCS_TEXTS if w in source]
        assert not found, (path, found)


@pytest.mark.parametrize(
    ("dialect", "action", "exc", "text"),
    [
        ("whmcs", "GetTicket", NotFound("ticket"), "Ticket ID Not Found"),
        ("whmcs", "AddTicketReply", NotFound("ticket"), "Ticket ID not found"),  # the action's own text
        ("whmcs", "GetClientsDetails", NotFound("customer"), "Client Not Found"),
        ("whmcs", "OpenTicket", InvalidInput(field="name", reason="requester_required"),
         "Name and email address are required if not a client"),
        ("whmcs", "GetTicket", Forbidden(reason="action_not_allowed", action="getticket"),
         'Invalid Permissions: API action "getticket" is not allowed'),
        ("whmcs", "GetTicket", Forbidden(reason="ip_not_allowed", ip="192.0.2.1"), "Invalid IP 192.0.2.1"),
        ("keliweb", "get-ticket", NotFound("ticket"), "Ticket ID Not Found"),
        ("clientexec", "OpenTicket", InvalidInput(field="name", reason="requester_required"),
         "A userid, or a name and an email, is required"),
        ("clientexec", "GetTicket", NotFound("ticket", "Ticket ID Not Found"), "Ticket not found"),
        ("readydesk", "get_tickets", Forbidden(reason="action_not_allowed", action="get_tickets"), "Access denied"),
        ("readydesk", "add_ticket", NotFound("customer"), "Customer not found"),
        # no text for the code: the error's own message (built from its fields when none was given)
        ("clientexec", "OpenTicket", Unsupported(reason="no_reply_route", grant="tblticket_replies"),
         "The backend cannot carry out no reply route; it needs tblticket_replies; nothing was written"),
        ("readydesk", "add_ticket", NotFound("widget"), "Widget not found"),
    ],
)  # fmt: skip
def test_the_dialect_words_the_code(dialect: str, action: str, exc: GatewayError, text: str) -> None:
    d = _dialect(dialect)
    assert d.error_text(Inbound(action=action), exc) == text  # type: ignore[attr-defined]


def test_a_backend_refusal_is_still_reworded_by_the_action() -> None:
    d = _dialect("whmcs")
    refusal = InvalidInput("This Email is already exists (the customer was not created)")
    text = d.error_text(Inbound(action="AddClient"), refusal)  # type: ignore[attr-defined]
    assert re.fullmatch(r"A user already exists with that email address \(the customer was not created\)", text)
