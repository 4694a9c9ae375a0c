"""The PMP payloads the benchmarks serve and translate.

One realistic ``GET api/tickets/:id`` row (the shape the PMP module returns: the
ticket joined with its department, status, service, client and contact, about
3 KB), and a list of 25 such rows with varied ids, statuses, priorities, dates
and requesters.  Deterministic, so every run measures the same bytes.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

TEMPLATE: dict[str, Any] = orjson.loads(
    rb"""{"ticketid":"1","adminreplying":"0","userid":"1","contactid":"1","merged_ticket_id":null,"email":"john.smith@acme.example","name":"Medium","department":"2","priority":"2","status":"1","service":"1","ticketkey":"704ae2e741b12ecfaf536e7869b9beaf","subject":"Cannot log in to the control panel","message":"Hello,\r\nsince this morning the login page says \"invalid session\".\r\n\r\nRegards,\r\nJohn","admin":null,"date":"2024-03-01 09:15:00","project_id":"0","lastreply":null,"clientread":"1","adminread":"0","assigned":"1","staff_id_replying":null,"cc":"","departmentid":"2","imap_username":"","email_from_header":"0","host":"","password":null,"encryption":"","folder":"INBOX","delete_after_import":"0","calendar_id":null,"hidefromclient":"0","ticketstatusid":"1","isdefault":"1","statuscolor":"#ff2d42","statusorder":"1","serviceid":"1","company":"Acme Widgets Ltd","vat":"GB123456789","phonenumber":null,"country":"235","city":"London","zip":"WC1 2AB","state":"Greater London","address":"1 Widget Street","website":"https://acme.example","datecreated":null,"active":null,"leadid":null,"billing_street":"1 Widget Street","billing_city":"London","billing_state":"Greater London","billing_zip":"WC1 2AB","billing_country":"235","shipping_street":"","shipping_city":"","shipping_state":"","shipping_zip":"","shipping_country":"0","longitude":null,"latitude":null,"default_language":null,"default_currency":"2","show_primary_contact":"0","stripe_id":null,"registration_confirmed":"1","addedfrom":"1","id":"1","is_primary":"1","firstname":null,"lastname":null,"title":"CTO","new_pass_key":null,"new_pass_key_requested":null,"email_verified_at":"2023-02-01 10:05:00","email_verification_key":null,"email_verification_sent_at":null,"last_ip":null,"last_login":null,"last_password_change":null,"profile_image":null,"direction":null,"invoice_emails":"1","estimate_emails":"1","credit_note_emails":"1","contract_emails":"1","task_emails":"1","project_emails":"1","ticket_emails":"1","staffid":null,"facebook":null,"linkedin":null,"skype":null,"last_activity":null,"role":null,"media_path_slug":null,"is_not_staff":null,"hourly_rate":null,"two_factor_auth_enabled":null,"two_factor_auth_code":null,"two_factor_auth_code_requested":null,"email_signature":null,"priorityid":"2","from_name":null,"ticket_email":null,"department_name":"Technical Support","priority_name":"Medium","service_name":"Web Hosting","status_name":"Open","user_firstname":"John","user_lastname":"Smith","staff_firstname":null,"staff_lastname":null}"""  # noqa: E501
)

_STATUSES = [("1", "Open"), ("2", "In progress"), ("3", "Answered"), ("4", "On Hold"), ("5", "Closed")]
_PRIORITIES = [("1", "Low"), ("2", "Medium"), ("3", "High")]
_DEPARTMENTS = [("1", "Sales"), ("2", "Technical Support"), ("3", "Billing")]
_PEOPLE = [("John", "Smith"), ("Ana", "Lima"), ("Văn An", "Nguyễn"), ("Jürgen", "Weiß"), ("Mia", "Rossi")]


def ticket_row(i: int = 1) -> dict[str, Any]:
    row = copy.deepcopy(TEMPLATE)
    status, status_name = _STATUSES[(i - 1) % len(_STATUSES)]
    prio, prio_name = _PRIORITIES[(i - 1) % len(_PRIORITIES)]
    dept, dept_name = _DEPARTMENTS[(i - 1) % len(_DEPARTMENTS)]
    first, last = _PEOPLE[(i - 1) % len(_PEOPLE)]
    row.update(
        ticketid=str(i),
        userid=str(1 + (i - 1) % 7),
        contactid=str(1 + (i - 1) % 9),
        id=str(1 + (i - 1) % 9),
        status=status,
        ticketstatusid=status,
        status_name=status_name,
        priority=prio,
        priorityid=prio,
        priority_name=prio_name,
        name=prio_name,
        department=dept,
        departmentid=dept,
        department_name=dept_name,
        user_firstname=first,
        user_lastname=last,
        email=f"{first.lower()}.{last.lower()}@example.test".replace(" ", ""),
        ticketkey=f"{i:08x}" + TEMPLATE["ticketkey"][8:],
        subject=f"Ticket {i}: " + TEMPLATE["subject"],
        date=f"2024-03-{1 + (i - 1) % 28:02d} {(9 + i) % 24:02d}:{(7 * i) % 60:02d}:00",
        lastreply=None if i % 3 else f"2024-04-{1 + (i - 1) % 28:02d} 10:00:00",
    )
    return row


def ticket_list(n: int = 25) -> list[dict[str, Any]]:
    return [ticket_row(i) for i in range(1, n + 1)]


def ticket_bytes() -> bytes:
    return orjson.dumps(ticket_row(1))


def list_bytes(n: int = 25) -> bytes:
    return orjson.dumps(ticket_list(n))
