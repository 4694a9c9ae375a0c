"""Changing and deleting a contact: optional in a backend.

A backend that can (PMP: ``PUT api/contacts/:id``, ``DELETE api/delete/contacts/:id``) has
``update_contact(contact_id, ContactPatch) -> Contact`` and ``delete_contact(contact_id)``;
for one that cannot, the operation is the dialect's "cannot carry out" error, before any write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.errors import Unsupported

_WHAT = {"update_contact": "Changing a contact", "delete_contact": "Deleting a contact"}


def contact_writer(backend: Any, name: str) -> Callable[..., Any]:
    """The backend's method, or Unsupported naming the backend when it has none."""
    method = getattr(backend, name, None)
    if method is None:
        kind = str(getattr(backend, "name", "the backend")).upper()
        raise Unsupported(
            f"{_WHAT[name]} is not supported by the backend ({kind}): nothing was written", reason="contact_writes"
        )
    return method  # type: ignore[no-any-return]
