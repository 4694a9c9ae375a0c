"""The one vocabulary of named losses: what a backend or a migration target cannot hold.

``gateway check --backend``, ``gateway migrate``'s plan and report, and the README
all use these ids.  A status or priority without a mapping is named
``status:NAME`` / ``priority:NAME`` (see :func:`status_loss`), and a source department a
migration target can neither match nor create ``department:NAME``.
"""

from __future__ import annotations

LOSSES: dict[str, str] = {
    "notifications": "no notification e-mail is sent for the change (the vendor's own notification logic is bypassed)",
    "reply-dates": "replies get the date they are written, not their original date",
    "ticket-dates": "tickets get the date they are written, not their original date",
    "note-dates": "notes get the date they are written, not their original date",
    "attachments": "attachments are not carried",
    "custom-fields": "custom field values are not carried",
    "cc": "the CC list is not carried",
    "flag": "the ticket flag (staff member flagged to) is not carried",
    "staff-authors": "replies and notes by a staff member unknown to the target lose their author",
    "passwords": "passwords cannot be carried; people get a random one they can reset",
    "billing-fields": "billing figures and fields the target does not have are not carried",
    "customer-reply-status": "the status Customer-Reply is shown as Open",
    "tags": "ticket tags are not carried",
    "replies": "a ticket's replies are not shown, only its opening message (the backend offers no replies)",
    "notes": "a ticket's notes are not shown (the backend offers no notes)",
    "requester-details": "a guest requester's name and e-mail cannot be changed after the ticket is opened",
}


def status_loss(name: str) -> str:
    """The loss id of a status value the target has no mapping for."""
    return f"status:{name}"


def priority_loss(name: str) -> str:
    return f"priority:{name}"


def department_loss(name: str) -> str:
    """A source department the target has no match for and cannot create (WHMCS has no action for it)."""
    return f"department:{name}"


def is_known(loss_id: str) -> bool:
    return loss_id in LOSSES or loss_id.startswith(("status:", "priority:", "department:"))
