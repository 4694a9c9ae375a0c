"""GetAdminUsers: the staff list (not in the shared reference; from developers.whmcs.com's
GetAdminUsers page and the action's PHP as published in WHMCS 7.8).

Request: ``roleid`` (int filter), ``email`` (partial match), ``include_disabled`` (bool).
Response: ``count`` (int) and ``admin_users[]`` ordered by first then last name, each with the
admin's column-mapped fields; ``supportDepartmentIds`` and ``receivesTicketNotifications`` are
the comma lists exploded into arrays of strings.  No password or hash is ever part of it.
"""

from __future__ import annotations

from typing import Any

from .common import Call
from .db import Row


async def get_admin_users(call: Call) -> dict[str, Any]:
    p = call.params
    where: list[str] = []
    args: list[Any] = []
    if p.num("roleid"):
        where.append("1 = ?")  # every simulated admin has role 1 (Full Administrator)
        args.append(p.num("roleid"))
    if p.text("email").strip():
        where.append("email LIKE ?")
        args.append(f"%{p.text('email').strip()}%")
    if not p.flag("include_disabled"):
        where.append("disabled = 0")
    sql_where = f"WHERE {' AND '.join(where)}" if where else ""
    rows = call.db.all(f"SELECT * FROM tbladmins {sql_where} ORDER BY firstname, lastname, id", args)
    every = [str(r["id"]) for r in call.db.all("SELECT id FROM tblticketdepartments ORDER BY id")]
    return {"result": "success", "count": len(rows), "admin_users": [_admin(r, every) for r in rows]}


def _admin(r: Row, every_department: list[str]) -> dict[str, Any]:
    # an empty assignment means "every department" in the simulator (see api._admin_departments)
    depts = str(r["supportdepts"]) or ",".join(every_department)
    return {
        "id": int(r["id"]),
        "uuid": f"00000000-0000-4000-8000-{int(r['id']):012d}",
        "roleId": 1,
        "username": str(r["username"]),
        "twoFactorAuthModule": "",
        "firstname": str(r["firstname"]),
        "lastname": str(r["lastname"]),
        "email": str(r["email"]),
        "signature": "",
        "notes": "",
        "template": "blend",
        "language": "english",
        "isDisabled": bool(r["disabled"]),
        "loginAttempts": 0,
        "supportDepartmentIds": depts.split(","),
        "receivesTicketNotifications": depts.split(","),
        "homeWidgets": "",
        "hiddenMenus": "",
    }
