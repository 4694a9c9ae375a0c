"""Unit checks of the WHMCS dialect's own pieces (the wire is covered in tests/e2e/test_whmcs_*)."""

from __future__ import annotations

import pytest

from gateway import formats
from gateway.dialects.base import reword_refusal
from gateway.errors import InvalidInput, NotFound
from gateway.mapping.loader import load_mappings


@pytest.fixture(scope="module")
def whmcs():  # type: ignore[no-untyped-def]
    return load_mappings()["whmcs"]


@pytest.mark.parametrize(
    ("action", "backend", "expected"),
    [
        ("AddContact", "This Email is already exists", "Duplicate Email Address"),
        ("UpdateClient", "This Email is already exists", "Duplicate Email Address"),
        (
            "AddClient",
            "This Email is already exists (the customer was not created)",
            "A user already exists with that email address (the customer was not created)",
        ),
        (
            "AddClient",
            "This Email is already exists; the customer record 9 was created but could not be removed again (x)",
            "A user already exists with that email address; the customer record 9 was created but could not "
            "be removed again (x)",
        ),
        ("AddContact", "The Email field is required.", "The Email field is required."),
    ],
)
def test_backend_refusal_reworded(whmcs, action: str, backend: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert reword_refusal(whmcs.actions[action], InvalidInput(backend)) == expected


def test_own_messages_untouched(whmcs) -> None:  # type: ignore[no-untyped-def]
    spec = whmcs.actions["AddClient"]
    own = InvalidInput("A user already exists with that email address", "email")
    assert reword_refusal(spec, own) == own.message
    assert reword_refusal(spec, NotFound("customer", "already exists")) == "already exists"
    assert reword_refusal(None, InvalidInput("already exists")) == "already exists"


def test_update_ticket_without_client_leaves_client_alone(whmcs) -> None:  # type: ignore[no-untyped-def]
    params = whmcs.actions["UpdateTicket"].params({"ticketid": "1", "status": "Closed"})
    assert params.get("customer_id") is None
    assert whmcs.actions["UpdateTicket"].params({"ticketid": "1", "clientid": "2"})["customer_id"] == 2
    assert whmcs.actions["UpdateTicket"].params({"ticketid": "1", "userid": "3", "clientid": "2"})["customer_id"] == 3


def test_tuples_render_as_repeated_xml_elements() -> None:
    out: list[str] = []
    formats.xml_elements({"a": (1, 2), "b": {"c": ({"d": (3,)},)}}, out)
    assert out == ["<a>1</a>", "<a>2</a>", "<b>", "<c>", "<d>3</d>", "</c>", "</b>"]
    assert not formats.is_flat({"a": (1,)})
