"""Routes module 3.x adds: ``/api/staffs``, ``/api/notes``, ``/api/thirdparty/customtable``.

Deliberately realistic, so that the gateway must cope:

* staff rows carry ``password`` (a bcrypt-looking hash) and other secrets, as the module's
  rows do: the gateway must strip them before anything reaches a client;
* a note's ``addedfrom`` is the staff member the token belongs to, its ``dateadded`` the
  server's local time (UTC here);
* custom tables answer only for allowlisted tables and the token's grants; core tables are
  denied even when allowlisted; ``PUT`` on row 0 answers 403 without a write grant and 404
  with one; writing a ``tblticket_replies`` row touches nothing else (no ``lastreply``,
  status or read flag change, no e-mail), exactly like a direct table write.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .db import STAFF_SOURCE, TABLES, Row, app_hash_password, now_str
from .routes import (
    DB_KEY,
    NO_DATA,
    Rules,
    fail,
    list_answer,
    module_of,
    numeric_id,
    ok,
    read_form,
    read_json,
    respond,
)
from .v3 import Grant, current_token, forbidden, json_response, validation_failed

#: Tables the module always refuses, whatever the allowlist says (its own and Perfex's core ones).
CORE_TABLES = frozenset(
    {
        "tbloptions",
        "tblstaff",
        "tblroles",
        "tblmigrations",
        "tblsessions",
        "tblstaff_permissions",
        "tbluser_api",
        "tblapi_tokens",
        "tblapi_idempotency",
        "tblapi_logs",
    }
)
#: The demo allowlist: what ``gateway serve``'s embedded simulator and ``gateway pmp-sim`` grant.
DEMO_ALLOWLIST: dict[str, Grant] = {"tblticket_replies": "write", "tbldepartments": "write"}

STAFF_WRITABLE = frozenset(c.name for c in TABLES["tblstaff"]) - {"staffid", "password"}

# --------------------------------------------------------------------------- staffs


async def staffs_list(request: web.Request) -> web.Response:
    db = request.app[DB_KEY]
    return await list_answer(request, STAFF_SOURCE, "staffid", db.list_staff)


async def staffs_get(request: web.Request) -> web.Response:
    sid = numeric_id(request.match_info["id"])
    row = request.app[DB_KEY].get_staff(sid) if sid is not None else None
    return respond(row) if row else fail(NO_DATA)


async def staffs_search(request: web.Request) -> web.Response:
    rows = request.app[DB_KEY].search_staff(request.match_info["key"])
    return respond(rows) if rows else fail(NO_DATA)


async def staffs_post(request: web.Request) -> web.Response:
    form = await read_form(request)
    rules = Rules(form)
    rules.check("firstname", "First Name")
    rules.check("lastname", "Last Name")
    rules.check("email", "Email", max_length=100, valid_email=True)
    if (failure := rules.failure(module_of(request))) is not None:
        return failure
    db = request.app[DB_KEY]
    if db.staff_email_exists(str(form["email"])):
        return respond({"status": False, "message": "Email already exists"}, 409)
    data: dict[str, Any] = {k: v for k, v in form.items() if k in STAFF_WRITABLE}
    password = form.get("password")
    data["password"] = app_hash_password(str(password) if password else now_str())
    data["datecreated"] = now_str()
    new_id = db.insert("tblstaff", data)
    return ok("Staff added successfully.", request, new_id)


async def staffs_put(request: web.Request) -> web.Response:
    data = await read_json(request)
    if data is None:
        return fail("Data Not Acceptable OR Not Provided", 406)
    sid = numeric_id(request.match_info["id"])
    db = request.app[DB_KEY]
    if sid is None or db.get_staff(sid) is None:
        return fail(NO_DATA)
    changes = {k: v for k, v in data.items() if k in STAFF_WRITABLE}
    if data.get("password"):
        changes["password"] = app_hash_password(str(data["password"]))
        changes["last_password_change"] = now_str()
    db.update_changed("tblstaff", "staffid", sid, changes)
    return ok("Staff updated successfully.")


async def staffs_delete(request: web.Request) -> web.Response:
    sid = numeric_id(request.match_info["id"])
    if sid is not None and request.app[DB_KEY].delete_row("tblstaff", "staffid", sid):
        return ok("Staff deleted successfully.")
    return fail(NO_DATA)


# --------------------------------------------------------------------------- notes

NOTE_REL_TYPES = frozenset({"ticket", "customer", "contact", "lead", "staff", "invoice", "estimate", "proposal"})


async def notes_post(request: web.Request) -> web.Response:
    form = await read_form(request)
    rules = Rules(form)
    rules.check("rel_type", "Relation Type")
    rules.check("rel_id", "Relation Id")
    rules.check("description", "Description")
    if "rel_type" not in rules.errors and str(form.get("rel_type")) not in NOTE_REL_TYPES:
        rules.errors["rel_type"] = "The Relation Type field is invalid."
    if "rel_id" not in rules.errors and not str(form.get("rel_id")).isdigit():
        rules.errors["rel_id"] = "The Relation Id field must contain an integer."
    if (failure := rules.failure(module_of(request))) is not None:
        return failure
    data = {
        "rel_type": form["rel_type"],
        "rel_id": form["rel_id"],
        "description": form["description"],
        "date_contacted": form.get("date_contacted") or None,
        "addedfrom": current_token(request).staff_id,
        "dateadded": now_str(),
    }
    new_id = request.app[DB_KEY].insert("tblnotes", data)
    return ok("Note added successfully.", request, new_id)


async def notes_of(request: web.Request) -> web.Response:
    rel_id = numeric_id(request.match_info["rel_id"])
    rows = request.app[DB_KEY].list_notes(request.match_info["rel_type"], rel_id) if rel_id is not None else []
    return respond(rows) if rows else fail(NO_DATA)


async def notes_get(request: web.Request) -> web.Response:
    nid = numeric_id(request.match_info["id"])
    row = request.app[DB_KEY].get_row("tblnotes", "id", nid) if nid is not None else None
    return respond(row) if row else fail(NO_DATA)


async def notes_put(request: web.Request) -> web.Response:
    data = await read_json(request)
    if data is None:
        return fail("Data Not Acceptable OR Not Provided", 406)
    nid = numeric_id(request.match_info["id"])
    db = request.app[DB_KEY]
    if nid is None or db.get_row("tblnotes", "id", nid) is None:
        return fail(NO_DATA)
    changes = {k: v for k, v in data.items() if k in ("description", "date_contacted")}
    db.update_changed("tblnotes", "id", nid, changes)
    return ok("Note updated successfully.")


async def notes_delete(request: web.Request) -> web.Response:
    nid = numeric_id(request.match_info["id"])
    if nid is not None and request.app[DB_KEY].delete_row("tblnotes", "id", nid):
        return ok("Note deleted successfully.")
    return fail(NO_DATA)


# --------------------------------------------------------------------------- custom tables


def _table_access(request: web.Request, *, write: bool) -> tuple[str, str] | web.Response:
    """(table, primary key column), or the refusal: core table / not allowlisted / read-only."""
    table = request.match_info["table"]
    if table in CORE_TABLES:
        return forbidden(f"Access to table '{table}' is not allowed.")
    grant = current_token(request).tables.get(table)
    if grant is None:
        return forbidden(f"Table '{table}' is not in the allowlist for this token.")
    if write and grant != "write":
        return forbidden(f"This token has read-only access to table '{table}'.")
    columns = TABLES.get(table)
    if columns is None:
        return fail(f"Table '{table}' does not exist.")
    return table, next(c.name for c in columns if c.primary)


def _column_errors(table: str, data: dict[str, Any], key: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    names = {c.name for c in TABLES[table]}
    for column, raw in data.items():
        if column not in names:
            errors[column] = f"Unknown column '{column}'."
        elif column == key:
            errors[column] = "The primary key cannot be set."
        elif isinstance(raw, list | dict):
            errors[column] = "The value must be a scalar."
    return errors


async def _table_body(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await read_json(request) or {}
    return await read_form(request)


async def custom_list(request: web.Request) -> web.Response:
    access = _table_access(request, write=False)
    if isinstance(access, web.Response):
        return access
    table, key = access
    rows = request.app[DB_KEY].table_rows(table, key)
    return respond(rows) if rows else fail(NO_DATA)


async def custom_get(request: web.Request) -> web.Response:
    access = _table_access(request, write=False)
    if isinstance(access, web.Response):
        return access
    table, key = access
    rid = numeric_id(request.match_info["id"])
    row = request.app[DB_KEY].get_row(table, key, rid) if rid is not None else None
    return respond(row) if row else fail(NO_DATA)


async def custom_post(request: web.Request) -> web.Response:
    access = _table_access(request, write=True)
    if isinstance(access, web.Response):
        return access
    table, key = access
    data = await _table_body(request)
    errors = _column_errors(table, data, key) if data else {"data": "No column values were given."}
    if errors:
        return validation_failed(errors)
    new_id = request.app[DB_KEY].insert(table, data)
    return json_response({"status": True, "message": "Record created successfully.", "id": new_id})


async def custom_put(request: web.Request) -> web.Response:
    access = _table_access(request, write=True)
    if isinstance(access, web.Response):
        return access
    table, key = access
    rid = numeric_id(request.match_info["id"])
    db = request.app[DB_KEY]
    if rid is None or db.get_row(table, key, rid) is None:
        return fail(NO_DATA)
    data = await _table_body(request)
    errors = _column_errors(table, data, key) if data else {"data": "No column values were given."}
    if errors:
        return validation_failed(errors)
    db.update_changed(table, key, rid, data)
    return json_response({"status": True, "message": "Record updated successfully.", "id": rid})


async def custom_delete(request: web.Request) -> web.Response:
    access = _table_access(request, write=True)
    if isinstance(access, web.Response):
        return access
    table, key = access
    rid = numeric_id(request.match_info["id"])
    if rid is not None and request.app[DB_KEY].delete_row(table, key, rid):
        return json_response({"status": True, "message": "Record deleted successfully.", "id": rid})
    return fail(NO_DATA)


def add_v3_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/staffs", staffs_list)
    r.add_post("/api/staffs", staffs_post)
    r.add_get("/api/staffs/search/{key}", staffs_search)
    r.add_get("/api/staffs/{id}", staffs_get)
    r.add_put("/api/staffs/{id}", staffs_put)
    r.add_delete("/api/staffs/{id}", staffs_delete)
    r.add_delete("/api/delete/staffs/{id}", staffs_delete)

    r.add_post("/api/notes", notes_post)
    r.add_get("/api/notes/{rel_type}/{rel_id}", notes_of)
    r.add_get("/api/notes/{id}", notes_get)
    r.add_put("/api/notes/{id}", notes_put)
    r.add_delete("/api/notes/{id}", notes_delete)

    base = "/api/thirdparty/customtable/{table}"
    r.add_get(base, custom_list)
    r.add_post(base, custom_post)
    r.add_get(base + "/{id}", custom_get)
    r.add_put(base + "/{id}", custom_put)
    r.add_delete(base + "/{id}", custom_delete)


__all__ = ["CORE_TABLES", "DEMO_ALLOWLIST", "Row", "add_v3_routes"]
