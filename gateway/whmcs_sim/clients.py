"""Client actions (reference section 3): GetClients, GetClientsDetails, AddClient, UpdateClient,
DeleteClient, GetContacts, AddContact, UpdateContact.

Types as the reference's examples: GetClients/GetContacts ids and counters are JSON ints, the
write answers carry the new id as a numeric string, GetClientsDetails mixes ints, strings and
booleans as its example does.
"""

from __future__ import annotations

import uuid
from typing import Any

from .common import ApiError, Call, full_name, page_bounds, valid_email
from .db import Row, now_str

_PREFS = ("general", "invoice", "support", "product", "domain", "affiliate")
_CONTACT_FLAGS = ("domainemails", "generalemails", "invoiceemails", "productemails", "supportemails", "affiliateemails")
_CLIENT_STATUSES = ("Active", "Inactive", "Closed")
_ORDER_COLUMNS = ("id", "firstname", "lastname", "companyname", "email", "groupid", "datecreated", "status")
_COUNTRIES = {
    "GB": "United Kingdom",
    "US": "United States",
    "DE": "Germany",
    "FR": "France",
    "IT": "Italy",
    "VN": "Vietnam",
    "CH": "Switzerland",
    "NL": "Netherlands",
    "ES": "Spain",
}


# --------------------------------------------------------------------------- GetClients


async def get_clients(call: Call) -> dict[str, Any]:
    p = call.params
    where: list[str] = []
    args: list[Any] = []
    search = p.text("search").strip()
    if search:
        like = f"{search}%"
        where.append(
            "(email LIKE ? OR firstname LIKE ? OR lastname LIKE ? OR (firstname || ' ' || lastname) LIKE ?"
            " OR companyname LIKE ?)"
        )
        args.extend([like] * 5)
    if p.text("status").strip():
        where.append("status = ?")
        args.append(p.text("status").strip())
    sql_where = f"WHERE {' AND '.join(where)}" if where else ""
    order = p.text("orderby").strip().lower()
    column = order if order in _ORDER_COLUMNS else "id"
    direction = "DESC" if p.text("sorting").strip().upper() == "DESC" else "ASC"
    start, num = page_bounds(p)
    total = int(call.db.scalar(f"SELECT COUNT(*) FROM tblclients {sql_where}", args))
    rows = call.db.all(
        f"SELECT * FROM tblclients {sql_where} ORDER BY {column} {direction}, id {direction} LIMIT ? OFFSET ?",
        [*args, num, start],
    )
    return {
        "result": "success",
        "totalresults": total,
        "startnumber": start,
        "numreturned": len(rows),
        "clients": {"client": [_list_client(r) for r in rows]},
    }


def _list_client(r: Row) -> dict[str, Any]:
    return {
        "id": int(r["id"]),
        "firstname": str(r["firstname"]),
        "lastname": str(r["lastname"]),
        "companyname": str(r["companyname"]),
        "email": str(r["email"]),
        "datecreated": str(r["datecreated"]),
        "groupid": int(r["groupid"]),
        "status": str(r["status"]),
    }


# --------------------------------------------------------------------------- GetClientsDetails


async def get_clients_details(call: Call) -> dict[str, Any]:
    p = call.params
    if p.text("clientid").strip():
        row = call.db.client(p.num("clientid"))
    elif p.text("email").strip():
        row = call.db.one("SELECT * FROM tblclients WHERE lower(email) = lower(?)", (p.text("email").strip(),))
    else:
        raise ApiError("Either clientid Or email Is Required")
    if row is None:
        raise ApiError("Client Not Found")
    client = _details(call, row)
    out: dict[str, Any] = {"result": "success", "client": client}
    out.update({k: v for k, v in client.items() if k not in out})  # the deprecated flat copy
    if p.flag("stats"):
        out["stats"] = _stats(call, int(row["id"]))
    return out


def _details(call: Call, r: Row) -> dict[str, Any]:
    cid = int(r["id"])
    prefs = dict(zip(_PREFS, (str(r["email_preferences"]) + ",1,1,1,1,1,1").split(","), strict=False))
    country = str(r["country"])
    users = call.db.all("SELECT * FROM tblusers WHERE id = ?", (r["owner_user_id"],))
    return {
        "client_id": cid,
        "owner_user_id": int(r["owner_user_id"]),
        "userid": cid,
        "id": cid,
        "uuid": str(r["uuid"]),
        "firstname": str(r["firstname"]),
        "lastname": str(r["lastname"]),
        "fullname": full_name(r["firstname"], r["lastname"]),
        "companyname": str(r["companyname"]),
        "email": str(r["email"]),
        "address1": str(r["address1"]),
        "address2": str(r["address2"]),
        "city": str(r["city"]),
        "fullstate": str(r["state"]),
        "state": str(r["state"]),
        "postcode": str(r["postcode"]),
        "countrycode": country,
        "country": country,
        "phonenumber": str(r["phonenumber"]),
        "tax_id": str(r["tax_id"]),
        "email_preferences": {k: prefs.get(k, "1") for k in _PREFS},
        "statecode": str(r["state"]),
        "countryname": _COUNTRIES.get(country, country),
        "phonecc": 0,
        "phonenumberformatted": str(r["phonenumber"]),
        "telephoneNumber": str(r["phonenumber"]),
        "billingcid": 0,
        "notes": str(r["notes"]),
        "currency": int(r["currency"]),
        "defaultgateway": "",
        "groupid": int(r["groupid"]),
        "status": str(r["status"]),
        "credit": str(r["credit"]),
        "taxexempt": bool(r["taxexempt"]),
        "latefeeoveride": False,
        "overideduenotices": False,
        "separateinvoices": False,
        "disableautocc": False,
        "emailoptout": False,
        "marketing_emails_opt_in": bool(r["marketing_emails_opt_in"]),
        "overrideautoclose": False,
        "allowSingleSignOn": 1,
        "email_verified": False,
        "language": str(r["language"]),
        "isOptedInToMarketingEmails": bool(r["marketing_emails_opt_in"]),
        "lastlogin": "No Login Logged",
        "currency_code": "USD",
        "customfields": [],
        "users": {
            "user": [
                {
                    "id": int(u["id"]),
                    "name": full_name(u["first_name"], u["last_name"]),
                    "email": u["email"],
                    "is_owner": True,
                }
                for u in users
            ]
        },
    }


def _stats(call: Call, client_id: int) -> dict[str, Any]:
    """Invoice, product, domain and quote counts are 0 (the simulator holds none); ticket counts are real."""
    active = [str(s["title"]) for s in call.db.statuses() if s["showactive"]]
    total = int(call.db.scalar("SELECT COUNT(*) FROM tbltickets WHERE userid = ?", (client_id,)))
    marks = ",".join("?" * len(active)) or "''"
    open_n = int(
        call.db.scalar(
            f"SELECT COUNT(*) FROM tbltickets WHERE userid = ? AND status IN ({marks})", [client_id, *active]
        )
    )
    money = "$0.00 USD"
    return {
        "numdueinvoices": 0,
        "dueinvoicesbalance": money,
        "incredit": False,
        "creditbalance": money,
        "numoverdueinvoices": 0,
        "overdueinvoicesbalance": money,
        "numpaidinvoices": 0,
        "paidinvoicesamount": money,
        "numunpaidinvoices": 0,
        "unpaidinvoicesamount": money,
        "productsnumactive": 0,
        "productsnumtotal": 0,
        "numactivedomains": 0,
        "numdomains": 0,
        "numacceptedquotes": 0,
        "numquotes": 0,
        "numtickets": total,
        "numactivetickets": open_n,
        "numaffiliatesignups": 0,
        "isAffiliate": False,
    }


# --------------------------------------------------------------------------- AddClient

_REQUIRED = (
    ("firstname", "first name"),
    ("lastname", "last name"),
    ("email", "email address"),
    ("address1", " address line 1"),  # the docs show a double space before it
    ("city", "city"),
    ("state", "state"),
    ("postcode", "postcode"),
    ("phonenumber", "phone number"),
)


async def add_client(call: Call) -> dict[str, Any]:
    p = call.params
    skip = p.flag("skipvalidation")
    owner = p.num("owner_user_id") if p.text("owner_user_id").strip() else 0
    if owner and call.db.one("SELECT id FROM tblusers WHERE id = ?", (owner,)) is None:
        raise ApiError("Invalid Owner User ID")
    for key, label in _REQUIRED:
        if not skip and not p.text(key).strip():
            raise ApiError(f"You did not enter your {label}")
    email = p.text("email").strip()
    if not email and skip and owner:
        email = ""
    elif not valid_email(email):
        raise ApiError("The email address you entered was not valid")
    country = p.text("country").strip().upper()
    if not skip and (len(country) != 2 or not country.isalpha()):
        raise ApiError("Valid country required")
    if not owner and _user_email_taken(call, email):
        raise ApiError("A user already exists with that email address")
    if call.db.one("SELECT id FROM tblclients WHERE lower(email) = lower(?)", (email,)) is not None:
        raise ApiError("The email address entered is not available for use.")
    now = now_str()
    with call.db.lock:
        if not owner:
            owner = call.db.insert(
                "tblusers",
                {
                    "first_name": p.text("firstname"),
                    "last_name": p.text("lastname"),
                    "email": email,
                    "password": p.text("password2"),
                    "created_at": now,
                    "updated_at": now,
                },
            )
        client_id = call.db.insert(
            "tblclients",
            {
                **_client_fields(call),
                "email": email,
                "country": country,
                "uuid": str(uuid.uuid4()),
                "owner_user_id": owner,
                "datecreated": now[:10],
                "created_at": now,
                "updated_at": now,
            },
        )
    call.email("client welcome")
    return {"result": "success", "clientid": str(client_id), "owner_user_id": owner}


def _user_email_taken(call: Call, email: str, exclude_user: int = 0) -> bool:
    row = call.db.one("SELECT id FROM tblusers WHERE lower(email) = lower(?) AND id != ?", (email, exclude_user))
    return row is not None


_CLIENT_COLUMNS = (
    "firstname",
    "lastname",
    "companyname",
    "address1",
    "address2",
    "city",
    "state",
    "postcode",
    "phonenumber",
    "tax_id",
    "notes",
    "language",
)


def _client_fields(call: Call) -> dict[str, Any]:
    p = call.params
    out: dict[str, Any] = {k: p.text(k) for k in _CLIENT_COLUMNS if p.has(k)}
    for key in ("currency", "groupid"):
        if p.text(key).strip():
            out[key] = p.num(key)
    if p.has("marketingoptin"):
        out["marketing_emails_opt_in"] = int(p.flag("marketingoptin"))
    if p.has("taxexempt"):
        out["taxexempt"] = int(p.flag("taxexempt"))
    return out


# --------------------------------------------------------------------------- UpdateClient


async def update_client(call: Call) -> dict[str, Any]:
    p = call.params
    if p.text("clientid").strip():
        row = call.db.client(p.num("clientid"))
    elif p.text("clientemail").strip():
        row = call.db.one("SELECT * FROM tblclients WHERE lower(email) = lower(?)", (p.text("clientemail").strip(),))
    else:
        row = None
    if row is None:
        raise ApiError("Client ID Not Found")
    changes = _client_fields(call)
    if p.has("email"):
        email = p.text("email").strip()
        if not valid_email(email):
            raise ApiError("The email address entered is not valid")
        other = call.db.one("SELECT id FROM tblclients WHERE lower(email) = lower(?) AND id != ?", (email, row["id"]))
        if other is not None or _user_email_taken(call, email, int(row["owner_user_id"])):
            raise ApiError("Duplicate Email Address")
        changes["email"] = email
    if p.text("country").strip():
        changes["country"] = p.text("country").strip().upper()
    if p.text("status").strip():
        status = p.text("status").strip().capitalize()
        if status in _CLIENT_STATUSES:
            changes["status"] = status
    prefs = p.bracketed("email_preferences")
    if prefs:
        current = dict(zip(_PREFS, str(row["email_preferences"]).split(","), strict=False))
        for key, value in prefs.items():
            if key in _PREFS:
                current[key] = "1" if value.strip().lower() in ("1", "true", "on", "yes") else "0"
        changes["email_preferences"] = ",".join(current.get(k, "1") for k in _PREFS)
    if changes:
        changes["updated_at"] = now_str()
        call.db.update("tblclients", int(row["id"]), changes)
    return {"result": "success", "clientid": str(row["id"])}


# --------------------------------------------------------------------------- DeleteClient


async def delete_client(call: Call) -> dict[str, Any]:
    p = call.params
    row = call.db.client(p.num("clientid")) if p.text("clientid").strip() else None
    if row is None:
        raise ApiError("Client ID Not Found")
    cid = int(row["id"])
    with call.db.lock:
        # "with all its data": its contacts and its tickets with their replies and notes go too
        ticket_ids = [int(r["id"]) for r in call.db.all("SELECT id FROM tbltickets WHERE userid = ?", (cid,))]
        for tid in ticket_ids:
            call.db.execute("DELETE FROM tblticketreplies WHERE tid = ?", (tid,))
            call.db.execute("DELETE FROM tblticketnotes WHERE ticketid = ?", (tid,))
        call.db.execute("DELETE FROM tbltickets WHERE userid = ?", (cid,))
        call.db.execute("DELETE FROM tblcontacts WHERE userid = ?", (cid,))
        call.db.execute("DELETE FROM tblclients WHERE id = ?", (cid,))
        if p.flag("deleteusers"):
            owner = int(row["owner_user_id"])
            if call.db.one("SELECT id FROM tblclients WHERE owner_user_id = ?", (owner,)) is None:
                call.db.execute("DELETE FROM tblusers WHERE id = ?", (owner,))
    return {"result": "success", "clientid": str(cid)}


# --------------------------------------------------------------------------- contacts

_CONTACT_FILTERS = (
    "firstname",
    "lastname",
    "companyname",
    "email",
    "address1",
    "address2",
    "city",
    "state",
    "postcode",
    "country",
    "phonenumber",
)


async def get_contacts(call: Call) -> dict[str, Any]:
    p = call.params
    where: list[str] = []
    args: list[Any] = []
    if p.text("userid").strip():
        where.append("userid = ?")
        args.append(p.num("userid"))
    for key in _CONTACT_FILTERS:
        if p.text(key).strip():
            # exact match (the reference leaves exact vs partial open), ignoring case like MySQL does
            where.append(f"lower({key}) = lower(?)")
            args.append(p.text(key).strip())
    sql_where = f"WHERE {' AND '.join(where)}" if where else ""
    start, num = page_bounds(p)
    total = int(call.db.scalar(f"SELECT COUNT(*) FROM tblcontacts {sql_where}", args))
    rows = call.db.all(f"SELECT * FROM tblcontacts {sql_where} ORDER BY id LIMIT ? OFFSET ?", [*args, num, start])
    return {
        "result": "success",
        "totalresults": total,
        "startnumber": start,
        "numreturned": len(rows),
        "contacts": {"contact": [_contact(r) for r in rows]},
    }


def _contact(r: Row) -> dict[str, Any]:
    out: dict[str, Any] = {"id": int(r["id"]), "userid": int(r["userid"])}
    for key in ("firstname", "lastname", "companyname", "email", "address1", "address2", "city", "state"):
        out[key] = str(r[key])
    out.update(postcode=str(r["postcode"]), country=str(r["country"]), phonenumber=str(r["phonenumber"]))
    for flag in _CONTACT_FLAGS:
        out[flag] = bool(r[flag])
    out.update(created_at=str(r["created_at"]), updated_at=str(r["updated_at"]))
    return out


async def add_contact(call: Call) -> dict[str, Any]:
    p = call.params
    client = call.db.client(p.num("clientid")) if p.text("clientid").strip() else None
    if client is None:
        raise ApiError("Client ID Not Found")
    email = p.text("email").strip()
    if email and not valid_email(email):
        raise ApiError("Email Address Invalid")
    if email and (
        call.db.one("SELECT id FROM tblcontacts WHERE lower(email) = lower(?)", (email,)) is not None
        or call.db.one("SELECT id FROM tblclients WHERE lower(email) = lower(?)", (email,)) is not None
    ):
        raise ApiError("Duplicate Email Address")
    now = now_str()
    row: dict[str, Any] = {k: p.text(k) for k in (*_CONTACT_FILTERS, "tax_id") if p.has(k)}
    row.update(email=email, userid=int(client["id"]), created_at=now, updated_at=now)
    if "country" in row:
        row["country"] = row["country"].strip().upper()
    prefs = p.bracketed("email_preferences")
    for pref in _PREFS:
        if pref in prefs:
            row[f"{pref}emails"] = int(prefs[pref].strip().lower() in ("1", "true", "on", "yes"))
    contact_id = call.db.insert("tblcontacts", row)
    return {"result": "success", "contactid": str(contact_id)}


# --------------------------------------------------------------------------- UpdateContact


async def update_contact(call: Call) -> dict[str, Any]:
    """WHMCS's UpdateContact (developers.whmcs.com/api-reference/updatecontact): ``contactid`` and
    the fields to change; the answer names the contact."""
    p = call.params
    row = call.db.one("SELECT * FROM tblcontacts WHERE id = ?", (p.num("contactid"),)) if p.has("contactid") else None
    if row is None:
        raise ApiError("Contact ID Not Found")
    changes: dict[str, Any] = {k: p.text(k) for k in (*_CONTACT_FILTERS, "companyname", "tax_id") if p.has(k)}
    changes.pop("email", None)
    if p.has("email"):
        email = p.text("email").strip()
        if not valid_email(email):
            raise ApiError("Email Address Invalid")
        taken = call.db.one(
            "SELECT id FROM tblcontacts WHERE lower(email) = lower(?) AND id != ?", (email, row["id"])
        ) or call.db.one("SELECT id FROM tblclients WHERE lower(email) = lower(?)", (email,))
        if taken is not None:
            raise ApiError("Duplicate Email Address")
        changes["email"] = email
    if "country" in changes:
        changes["country"] = changes["country"].strip().upper()
    prefs = p.bracketed("email_preferences")
    for pref in _PREFS:
        if pref in prefs:
            changes[f"{pref}emails"] = int(prefs[pref].strip().lower() in ("1", "true", "on", "yes"))
    if changes:
        changes["updated_at"] = now_str()
        call.db.update("tblcontacts", int(row["id"]), changes)
    return {"result": "success", "contactid": int(row["id"])}
