"""HTTP handlers of the PMP simulator: the Perfex CRM REST API module's routes.

Faithful behaviour (do not make it friendlier):

* every route reads the ``authtoken`` header; missing/wrong -> 404 ``Token is not defined.``;
* ``404`` also means: not found, validation failure, empty list, update that changed nothing;
* ``POST`` reads form data only (``$_POST``): a JSON body is seen as empty;
* ``PUT`` reads a JSON body; unknown keys are database errors (HTTP 500 HTML page);
* ``PUT api/tickets/:id`` resets ``priority``/``assigned`` to 0 when missing or empty and
  clears the ticket's tags when ``tags`` is missing;
* ``PUT api/customers/:id`` resets ``country``, ``billing_country``, ``shipping_country``,
  ``default_currency`` and ``show_primary_contact`` to 0 when missing (``check_zero_columns``);
* ``PUT api/contacts/:id`` resets ``is_primary`` and the seven ``*_emails`` flags to 0 when missing;
* success answers carry no id unless the app was created with ``record_id=True``;
* every value in a record is a string or null.

``STRIP_TICKET_HTML``: Perfex's ``Tickets_model::add()`` (called with no staff id, as the
API module does) strips HTML tags from a new ticket's subject and message and turns
newlines into ``<br />`` (PHP's ``nl2br``).  The simulator stores the message as given
unless this module constant is True or ``create_app(..., strip_ticket_html=True)``.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from .db import (
    CLIENT_COLUMNS,
    CONTACT_COLUMNS,
    CUSTOMERS_SOURCE,
    TICKET_COLUMNS,
    TICKETS_SOURCE,
    Row,
    SimDatabaseError,
    SimDB,
    app_generate_hash,
    app_hash_password,
    contacts_source,
    now_str,
    php_truthy,
)
from .listing import ListParamError, ListSource, parse_list_query, project
from .listing import envelope as list_envelope
from .v3 import (
    CURRENT_TOKEN,
    IDEM_KEY,
    MODULE_KEY,
    RATE_KEY,
    TOKENS_KEY,
    SimToken,
    forbidden,
    validation_failed,
)

#: Default for stripping HTML from new tickets' message/subject (see the module docstring).
STRIP_TICKET_HTML = False

DB_KEY: web.AppKey[SimDB] = web.AppKey("pmp_sim_db", SimDB)
TOKEN_KEY: web.AppKey[str] = web.AppKey("pmp_sim_token", str)
RECORD_ID_KEY: web.AppKey[bool] = web.AppKey("pmp_sim_record_id", bool)
STRIP_HTML_KEY: web.AppKey[bool] = web.AppKey("pmp_sim_strip_html", bool)


@dataclass
class SimStats:
    """What reached the simulator: tests assert that a refused client request made no call."""

    requests: int = 0
    writes: int = 0
    recent: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=1000))


STATS_KEY: web.AppKey[SimStats] = web.AppKey("pmp_sim_stats", SimStats)

EMAIL_FLAGS: tuple[str, ...] = (
    "invoice_emails",
    "estimate_emails",
    "credit_note_emails",
    "contract_emails",
    "task_emails",
    "project_emails",
    "ticket_emails",
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# --------------------------------------------------------------------------- responses


def respond(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", charset="utf-8")


def fail(message: str, status: int = 404) -> web.Response:
    return respond({"status": False, "message": message}, status)


def ok(message: str, request: web.Request | None = None, record_id: int | None = None) -> web.Response:
    body: dict[str, Any] = {"status": True, "message": message}
    if request is not None and record_id is not None and request.app[RECORD_ID_KEY]:
        body["record_id"] = record_id
    return respond(body)


NO_DATA = "No data were found"


def db_error_page(err: SimDatabaseError) -> web.Response:
    """CodeIgniter's ``db_debug`` page for a failed query."""
    body = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<title>Database Error</title>\n</head>\n<body>\n\t<div id="container">\n'
        "\t\t<h1>A Database Error Occurred</h1>\n"
        f"\t\t<p>Error Number: {err.number}</p><p>{html.escape(err.message)}</p>"
        f"<p>{html.escape(err.query)}</p><p>Filename: models/Api_model.php</p>"
        "<p>Line Number: 0</p>\t</div>\n</body>\n</html>"
    )
    return web.Response(text=body, status=500, content_type="text/html", charset="UTF-8")


def unknown_column(table: str, column: str, key: str, key_value: int) -> SimDatabaseError:
    return SimDatabaseError(
        1054,
        f"Unknown column '{column}' in 'field list'",
        f"UPDATE `{table}` SET ... WHERE `{key}` = {key_value}",
    )


def page_not_found() -> web.Response:
    body = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<title>404 Page Not Found</title>\n</head>\n<body>\n\t<div id="container">\n'
        "\t\t<h1>404 Page Not Found</h1>\n\t\t<p>The page you requested was not found.</p>\t</div>\n"
        "</body>\n</html>"
    )
    return web.Response(text=body, status=404, content_type="text/html", charset="UTF-8")


# --------------------------------------------------------------------------- request parsing


async def read_form(request: web.Request) -> dict[str, Any]:
    """PHP's ``$_POST``: url-encoded or multipart form fields only (``name[]`` gives a list)."""
    ctype = request.content_type
    if ctype == "application/json" and request.app.get(MODULE_KEY, 2) >= 3:
        return await read_json(request) or {}
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {}
    try:
        post = await request.post()
    except Exception:
        return {}
    out: dict[str, Any] = {}
    for key in post:
        if key in out:
            continue
        values = [v for v in post.getall(key) if isinstance(v, str)]
        if not values:
            continue  # files go to $_FILES
        if key.endswith("[]"):
            out[key[:-2]] = values
        else:
            out[key] = values[-1]  # PHP keeps the last of repeated fields
    return out


async def read_json(request: web.Request) -> dict[str, Any] | None:
    """``json_decode(file_get_contents('php://input'), true)``; None when empty or not an object."""
    raw = await request.read()
    try:
        data = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list) and data:
        return {str(i): v for i, v in enumerate(data)}
    if not isinstance(data, dict) or not data:
        return None
    return data


def numeric_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


def posted(form: Mapping[str, Any], key: str) -> Any:
    """``$this->input->post(key)``: None when absent."""
    return form.get(key)


def value(v: Any) -> Any:
    """The module's ``value()`` helper: a falsy value becomes ''."""
    return v if php_truthy(v) else ""


# --------------------------------------------------------------------------- validation


class Rules:
    """A tiny CodeIgniter ``form_validation``: ``trim`` + ``required`` (+ a few more)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, str] = {}

    def check(
        self,
        field: str,
        label: str,
        *,
        required: bool = True,
        max_length: int | None = None,
        valid_email: bool = False,
    ) -> None:
        raw = self.data.get(field)
        if isinstance(raw, str):
            raw = raw.strip()
            self.data[field] = raw  # CI writes the prepped value back into $_POST
        empty = raw is None or raw == "" or raw == []
        if field in self.errors:
            return
        if required and empty:
            self.errors[field] = f"The {label} field is required."
        elif not empty and max_length is not None and len(str(raw)) > max_length:
            self.errors[field] = f"The {label} field cannot exceed {max_length} characters in length."
        elif not empty and valid_email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(raw)):
            self.errors[field] = f"The {label} field must contain a valid email address."

    def failure(self, module: int = 2) -> web.Response | None:
        if not self.errors:
            return None
        if module >= 3:
            return validation_failed(self.errors)
        message = "".join(f"<p>{e}</p>\n" for e in self.errors.values())
        return respond({"status": False, "error": self.errors, "message": message}, 404)


# --------------------------------------------------------------------------- html helpers (Perfex)

_TAG = re.compile(r"<[^>]*>")


def strip_tags(text: str) -> str:
    return _TAG.sub("", text)


def nl2br(text: str) -> str:
    return re.sub(r"(\r\n|\n\r|\n|\r)", r"<br />\1", text)


def nl2br_save_html(text: str) -> str:
    if not re.search(r"</.*>", text):
        return nl2br(text)
    return text


# --------------------------------------------------------------------------- middleware

API_CONTROLLERS = ("tickets", "customers", "contacts", "delete")
#: Controllers module 3.x adds; a 2.x installation answers them as unknown routes.
V3_CONTROLLERS = ("staffs", "notes", "thirdparty")


def module_of(request: web.Request) -> int:
    return request.app.get(MODULE_KEY, 2)


def _find_token(request: web.Request) -> SimToken | None:
    given = request.headers.get("authtoken", "")
    if not given and module_of(request) >= 3:
        given = request.query.get("authtoken", "")
    if not given:
        return None
    for known in request.app[TOKENS_KEY].values():
        if hmac.compare_digest(given.encode(), known.token.encode()):
            return known
    return None


def _resource(segments: list[str]) -> str:
    """The permission a route needs: ``tickets`` for ``api/tickets/..`` and ``api/delete/tickets/..``."""
    if len(segments) >= 3 and segments[1] == "delete":
        return segments[2]
    return segments[1] if len(segments) >= 2 else ""


@web.middleware
async def pmp_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    stats = request.app.get(STATS_KEY)
    if stats is not None:
        stats.requests += 1
        stats.writes += request.method != "GET"
        stats.recent.append((request.method, request.path_qs))
    v3 = module_of(request) >= 3
    controllers = API_CONTROLLERS + V3_CONTROLLERS if v3 else API_CONTROLLERS
    segments = [s for s in path.split("/") if s]
    known = len(segments) >= 2 and segments[0] == "api" and segments[1] in controllers
    http_exc = request.match_info.http_exception
    unknown_route = http_exc is not None and (not known or isinstance(http_exc, web.HTTPNotFound))
    if not v3:
        if unknown_route:
            return page_not_found()
        if _find_token(request) is None:
            return fail("Token is not defined.")  # 2.x answered 404 for a bad token
        if http_exc is not None:
            return fail("Unknown method", 405)
        return await _run(request, handler)
    return await _v3_dispatch(request, handler, segments, unknown_route)


async def _v3_dispatch(
    request: web.Request, handler: Handler, segments: list[str], unknown_route: bool
) -> web.StreamResponse:
    """3.x: every answer, refusals included, carries the X-RateLimit-* headers."""
    token = _find_token(request)
    # Requests without a valid token are counted per client address.
    allowed, headers = request.app[RATE_KEY].hit(token.token if token else f"anon:{request.remote}")
    response: web.StreamResponse
    if unknown_route:
        response = page_not_found()
    elif token is None:
        response = fail("Token is not defined.", 401)
    elif not allowed:
        response = fail("Too Many Requests", 429)
    elif request.match_info.http_exception is not None:
        response = fail("Unknown method", 405)
    elif _resource(segments) in token.denied:
        response = forbidden()
    else:
        request[CURRENT_TOKEN] = token
        key = request.headers.get("Idempotency-Key", "").strip()
        if request.method == "POST" and key:
            response = await _idempotent(request, handler, token, key)
        else:
            response = await _run(request, handler)
    response.headers.update(headers)
    return response


async def _run(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SimDatabaseError as err:
        return db_error_page(err)


async def _idempotent(request: web.Request, handler: Handler, token: SimToken, key: str) -> web.StreamResponse:
    """A POST with ``Idempotency-Key``: the first answer is stored; a retry gets it again."""
    db = request.app[DB_KEY]
    async with request.app[IDEM_KEY].get(token.token, key):
        stored = db.idempotent_answer(token.token, key)
        if stored is not None:
            method, path, status, body, ctype = stored
            if (method, path) != (request.method, request.path):
                return fail("The Idempotency-Key was already used for another request.", 409)
            replay = web.Response(body=body, status=status, content_type=ctype, charset="utf-8")
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        response = await _run(request, handler)
        # Failures the client may fix (4xx) and successes are final; a 5xx may be retried afresh.
        if isinstance(response, web.Response) and response.status < 500 and isinstance(response.body, bytes):
            db.store_idempotent_answer(
                token.token, key, request.method, request.path, response.status, response.body, response.content_type
            )
        return response


# --------------------------------------------------------------------------- lists (3.x parameters)

LIST_PARAMS = frozenset({"page", "per_page", "fields", "sort", "created_after", "created_before"})


async def list_answer(
    request: web.Request,
    source: ListSource,
    id_column: str,
    legacy: Callable[[], list[Row]],
    convert: Callable[[Row], Row] | None = None,
) -> web.Response:
    """A list route: 2.x (or no 3.x parameter) -> the legacy array; else paged in SQL."""
    if module_of(request) < 3 or not LIST_PARAMS.intersection(request.query):
        rows = legacy()
        return respond(rows) if rows else fail(NO_DATA)
    db = request.app[DB_KEY]
    try:
        q = parse_list_query(request.query, list(source.sortable), db.columns_of(source.select))
    except ListParamError as err:
        return validation_failed(err.errors)
    # a projection converts only its columns (unless a conversion needs the whole row)
    keep = (id_column, *q.fields) if q.fields and convert is None else ()
    rows, total = db.list_page(source, q, keep)
    if convert is not None:
        rows = [convert(r) for r in rows]
    rows = project(rows, q, id_column)
    if not rows:
        return fail(NO_DATA)  # an empty list and a page past the end: 404, as the module does
    return respond(list_envelope(rows, q, total) if q.paged else rows)


# --------------------------------------------------------------------------- tickets


async def tickets_list(request: web.Request) -> web.StreamResponse:
    db = request.app[DB_KEY]
    if module_of(request) < 3:
        return await stream_rows(request, db.ticket_batches())
    return await list_answer(request, TICKETS_SOURCE, "ticketid", db.ticket_rows_joined)


async def stream_rows(request: web.Request, batches: Iterator[list[Row]]) -> web.StreamResponse:
    """2.x's whole-table array, built and sent a batch at a time: the same bytes as one
    ``respond(rows)``, without holding every row, or the loop, for the whole table."""
    first = next(batches, None)
    if not first:
        return fail(NO_DATA)
    resp = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await resp.prepare(request)
    await resp.write(orjson.dumps(first)[:-1])
    for batch in batches:
        await resp.write(b"," + orjson.dumps(batch)[1:-1])
        await asyncio.sleep(0)  # a write to a fast reader does not yield: other requests run in between
    await resp.write(b"]")
    await resp.write_eof()
    return resp


async def tickets_get(request: web.Request) -> web.Response:
    tid = numeric_id(request.match_info["id"])
    rows = request.app[DB_KEY].ticket_rows_joined(tid) if tid is not None else []
    return respond(rows[0]) if rows else fail(NO_DATA)


async def tickets_search(request: web.Request) -> web.Response:
    rows = request.app[DB_KEY].search_ticket_rows(request.match_info["key"])
    return respond(rows) if rows else fail(NO_DATA)


async def tickets_post(request: web.Request) -> web.Response:
    form = await read_form(request)
    rules = Rules(form)
    rules.check("subject", "Ticket Name")
    rules.check("department", "Department")
    rules.check("contactid", "Contact")
    rules.check("userid", "User")
    if (failure := rules.failure(module_of(request))) is not None:
        return failure
    data: dict[str, Any] = {
        "subject": form["subject"],
        "department": form["department"],
        "contactid": form["contactid"],
        "userid": form["userid"],
        "cc": value(posted(form, "cc")),
        "assigned": value(posted(form, "assigned")),
        "priority": value(posted(form, "priority")),
        "service": value(posted(form, "service")),
        "project_id": value(posted(form, "project_id")),
        "message": value(posted(form, "message")),
    }
    tags = value(posted(form, "tags"))
    # Tickets_model::add()
    data["message"] = str(data["message"]).strip()
    data["subject"] = str(data["subject"]).strip()
    if request.app[STRIP_HTML_KEY]:
        data["message"] = nl2br_save_html(strip_tags(data["message"]))
        data["subject"] = strip_tags(data["subject"])
    if data["priority"] == "":
        data["priority"] = 0
    if data["service"] == "":
        del data["service"]
    if data["project_id"] == "":
        data["project_id"] = 0
    if data["assigned"] == "":
        data["assigned"] = 0
    if php_truthy(data["contactid"]):
        data["name"] = None
        data["email"] = None
    data.update(
        {
            "date": now_str(),
            "ticketkey": app_generate_hash(),
            "status": 1,
            "adminreplying": 0,
            "clientread": 0,
            "adminread": 0,
            "admin": None,
            "lastreply": None,
        }
    )
    db = request.app[DB_KEY]
    new_id = db.insert_ticket(data)
    if new_id <= 0:
        return fail("Ticket add fail.")
    db.save_ticket_tags(new_id, tags)
    return ok("Ticket add successful.", request, new_id)


async def tickets_put(request: web.Request) -> web.Response:
    data = await read_json(request)
    if data is None:
        return fail("Data Not Acceptable OR Not Provided", 406)
    if module_of(request) >= 3:
        return await tickets_put_partial(request, data)
    tid = numeric_id(request.match_info["id"])
    if tid is None:
        return fail("Ticket Update Fail.")
    db = request.app[DB_KEY]
    # Tickets_model::update_single_ticket_settings()
    data["ticketid"] = tid
    data.pop("merge_ticket_ids", None)
    data.pop("custom_fields", None)
    tags = data.pop("tags", "")
    if data.get("priority") in (None, "", False):
        data["priority"] = 0
    if data.get("assigned") in (None, "", False):
        data["assigned"] = 0
    if "project_id" in data and data["project_id"] in ("", False):
        data["project_id"] = 0
    if data.get("contactid") not in (None, ""):
        data["name"] = None
        data["email"] = None
    unknown = [k for k in data if k not in TICKET_COLUMNS]
    if unknown:
        raise unknown_column("tbltickets", unknown[0], "ticketid", tid)
    if db.get_ticket(tid) is None:
        return fail("Ticket Update Fail.")
    tags_changed = db.save_ticket_tags(tid, tags)
    changed = db.update_ticket(tid, data)
    if changed or tags_changed:
        return ok("Ticket Update Successful.")
    return fail("Ticket Update Fail.")


async def tickets_put_partial(request: web.Request, data: dict[str, Any]) -> web.Response:
    """3.x: only the given known columns change; unknown keys are ignored, nothing is reset."""
    tid = numeric_id(request.match_info["id"])
    db = request.app[DB_KEY]
    if tid is None or db.get_ticket(tid) is None:
        return fail(NO_DATA)
    tags = data.pop("tags", None)
    changes = {k: v for k, v in data.items() if k in TICKET_COLUMNS and k != "ticketid"}
    if changes.get("contactid") not in (None, "", 0, "0"):
        changes["name"] = None
        changes["email"] = None
    if tags is not None:
        db.save_ticket_tags(tid, tags)
    db.update_ticket(tid, changes)
    return ok("Ticket Update Successful.")


async def tickets_delete(request: web.Request) -> web.Response:
    tid = numeric_id(request.match_info["id"])
    if tid is not None and request.app[DB_KEY].delete_ticket(tid):
        return ok("Ticket Delete Successful.")
    return fail("Ticket Delete Fail.")


# --------------------------------------------------------------------------- customers

CUSTOMER_FIELDS: tuple[str, ...] = (
    "vat",
    "phonenumber",
    "website",
    "default_language",
    "default_currency",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "billing_street",
    "billing_city",
    "billing_state",
    "billing_zip",
    "billing_country",
    "shipping_street",
    "shipping_city",
    "shipping_state",
    "shipping_zip",
    "shipping_country",
)


def check_zero_columns(data: dict[str, Any]) -> dict[str, Any]:
    """``Clients_model::check_zero_columns()`` (run on add AND update)."""
    if data.get("show_primary_contact") is None:
        data["show_primary_contact"] = 0
    for key in ("default_currency", "country", "billing_country", "shipping_country"):
        if data.get(key) in (None, ""):
            data[key] = 0
    return data


async def customers_list(request: web.Request) -> web.Response:
    db = request.app[DB_KEY]
    return await list_answer(request, CUSTOMERS_SOURCE, "userid", db.list_clients, db.client_out)


async def customers_get(request: web.Request) -> web.Response:
    cid = numeric_id(request.match_info["id"])
    row = request.app[DB_KEY].get_client(cid) if cid is not None else None
    return respond(row) if row else fail(NO_DATA)


async def customers_search(request: web.Request) -> web.Response:
    rows = request.app[DB_KEY].search_clients(request.match_info["key"])
    return respond(rows) if rows else fail(NO_DATA)


async def customers_post(request: web.Request) -> web.Response:
    form = await read_form(request)
    rules = Rules(form)
    rules.check("company", "Company", max_length=600)
    if (failure := rules.failure(module_of(request))) is not None:
        return failure
    data: dict[str, Any] = {"company": form["company"]}
    for key in CUSTOMER_FIELDS:
        data[key] = value(posted(form, key))
    groups = posted(form, "groups_in")
    # Clients_model::add()
    data = check_zero_columns(data)
    for key in ("address", "billing_street", "shipping_street"):
        data[key] = nl2br(str(data[key]).strip())
    data.update({"datecreated": now_str(), "addedfrom": 0, "active": 1, "registration_confirmed": 1})
    db = request.app[DB_KEY]
    new_id = db.insert_client(data)
    if new_id <= 0:
        return fail("Client add fail.")
    if isinstance(groups, list):
        db.set_client_groups(new_id, groups)
    return ok("Client add successful.", request, new_id)


async def customers_put(request: web.Request) -> web.Response:
    data = await read_json(request)
    if data is None:
        return fail("Data Not Acceptable OR Not Provided", 406)
    cid = numeric_id(request.match_info["id"])
    if cid is None:
        return fail("Client Update Fail.")
    db = request.app[DB_KEY]
    for key in ("custom_fields", "update_all_other_transactions", "update_credit_notes"):
        data.pop(key, None)
    groups = data.pop("groups_in", None)
    data = check_zero_columns(data)
    unknown = [k for k in data if k not in CLIENT_COLUMNS]
    if unknown:
        raise unknown_column("tblclients", unknown[0], "userid", cid)
    if db.get_client(cid) is None:
        return fail("Client Update Fail.")
    groups_changed = db.set_client_groups(cid, groups if isinstance(groups, list) else [])
    if db.update_client(cid, data) or groups_changed:
        return ok("Client Update Successful.")
    return fail("Client Update Fail.")


async def customers_delete(request: web.Request) -> web.Response:
    cid = numeric_id(request.match_info["id"])
    if cid is not None and request.app[DB_KEY].delete_client(cid):
        return ok("Client Delete Successful.")
    return fail("Client Delete Fail.")


# --------------------------------------------------------------------------- contacts


async def contacts_no_customer(request: web.Request) -> web.Response:
    return fail(NO_DATA)


async def contacts_list(request: web.Request) -> web.Response:
    cid = numeric_id(request.match_info["customer_id"])
    if cid is None:
        return fail(NO_DATA)
    db = request.app[DB_KEY]
    return await list_answer(request, contacts_source(cid), "id", lambda: db.list_contacts(cid))


async def contacts_get(request: web.Request) -> web.Response:
    # The customer id in the path is not checked (like the module).
    contact_id = numeric_id(request.match_info["contact_id"])
    row = request.app[DB_KEY].get_contact(contact_id) if contact_id is not None else None
    return respond(row) if row else fail(NO_DATA)


async def contacts_search(request: web.Request) -> web.Response:
    rows = request.app[DB_KEY].search_contacts(request.match_info["key"])
    return respond(rows) if rows else fail(NO_DATA)


async def contacts_post(request: web.Request) -> web.Response:
    form = await read_form(request)
    send_set_password = php_truthy(posted(form, "send_set_password_email"))
    rules = Rules(form)
    rules.check("customer_id", "Customer Id")
    rules.check("firstname", "First Name")
    rules.check("lastname", "Last Name")
    rules.check("email", "Email", max_length=100, valid_email=True)
    if not send_set_password:
        rules.check("password", "Password")
    if (failure := rules.failure(module_of(request))) is not None:
        return failure
    db = request.app[DB_KEY]
    email = str(form["email"])
    if db.contact_email_exists(email):
        return respond(
            {
                "status": False,
                "message": "This Email is already exists",
                "error": {"email": "This Email is already exists"},
            },
            409,
        )
    userid = int(numeric_id(str(form["customer_id"])) or 0)
    now = now_str()
    data: dict[str, Any] = {
        "userid": form["customer_id"],
        "firstname": form["firstname"],
        "lastname": form["lastname"],
        "email": email,
        "title": value(posted(form, "title")),
        "phonenumber": value(posted(form, "phonenumber")),
        "direction": value(posted(form, "direction")),
        "datecreated": now,
        "email_verified_at": now,
        "active": 1,
        "password": (app_hash_password(str(form["password"])) if php_truthy(posted(form, "password")) else None),
    }
    if send_set_password:
        data["new_pass_key"] = app_generate_hash()
        data["new_pass_key_requested"] = now
    for flag in EMAIL_FLAGS:
        data[flag] = 1 if php_truthy(posted(form, flag)) else 0
    primary = php_truthy(posted(form, "is_primary")) or db.count_contacts(userid) == 0
    data["is_primary"] = 1 if primary else 0
    new_id = db.insert_contact(data)
    if new_id <= 0:
        return fail("Contact add fail.")
    return ok("Contact added successfully.", request, new_id)


async def contacts_put(request: web.Request) -> web.Response:
    data = await read_json(request)
    if data is None:
        return fail("Data Not Acceptable OR Not Provided", 406)
    contact_id = numeric_id(request.match_info["id"])
    if contact_id is None:
        return fail("Contact Update Fail.")
    db = request.app[DB_KEY]
    # Clients_model::update_contact($data, $id, $client_request = false)
    for key in ("custom_fields", "permissions"):
        data.pop(key, None)
    send_set_password = php_truthy(data.pop("send_set_password_email", None))
    if php_truthy(data.get("password")):
        data["password"] = app_hash_password(str(data["password"]))
        data["last_password_change"] = now_str()
    else:
        data.pop("password", None)
    data["is_primary"] = 1 if php_truthy(data.get("is_primary")) else 0
    for flag in EMAIL_FLAGS:
        data[flag] = 1 if php_truthy(data.get(flag)) else 0
    if send_set_password:
        data["new_pass_key"] = app_generate_hash()
        data["new_pass_key_requested"] = now_str()
    unknown = [k for k in data if k not in CONTACT_COLUMNS]
    if unknown:
        raise unknown_column("tblcontacts", unknown[0], "id", contact_id)
    if db.get_contact(contact_id) is None:
        return fail("Contact Update Fail.")
    if db.update_contact(contact_id, data):
        return ok("Contact Update Successful.")
    return fail("Contact Update Fail.")


async def contacts_delete(request: web.Request) -> web.Response:
    contact_id = numeric_id(request.match_info["id"])
    if contact_id is not None and request.app[DB_KEY].delete_contact(contact_id):
        return ok("Contact Delete Successful.")
    return fail("Contact Delete Fail.")


# --------------------------------------------------------------------------- routing


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/tickets", tickets_list)
    r.add_post("/api/tickets", tickets_post)
    r.add_get("/api/tickets/search/{key}", tickets_search)
    r.add_get("/api/tickets/{id}", tickets_get)
    r.add_put("/api/tickets/{id}", tickets_put)
    r.add_delete("/api/delete/tickets/{id}", tickets_delete)

    r.add_get("/api/customers", customers_list)
    r.add_post("/api/customers", customers_post)
    r.add_get("/api/customers/search/{key}", customers_search)
    r.add_get("/api/customers/{id}", customers_get)
    r.add_put("/api/customers/{id}", customers_put)
    r.add_delete("/api/delete/customers/{id}", customers_delete)

    r.add_get("/api/contacts", contacts_no_customer)
    r.add_post("/api/contacts", contacts_post)
    r.add_get("/api/contacts/search/{key}", contacts_search)
    r.add_get("/api/contacts/{customer_id}", contacts_list)
    r.add_get("/api/contacts/{customer_id}/{contact_id}", contacts_get)
    r.add_put("/api/contacts/{id}", contacts_put)
    r.add_delete("/api/delete/contacts/{id}", contacts_delete)
    if app.get(MODULE_KEY, 2) >= 3:
        # 3.x also deletes on the resource's own path.
        r.add_delete("/api/tickets/{id}", tickets_delete)
        r.add_delete("/api/customers/{id}", customers_delete)
        r.add_delete("/api/contacts/{id}", contacts_delete)
