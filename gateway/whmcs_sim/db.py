"""The WHMCS simulator's SQLite database: WHMCS-like tables, demo seeding and bulk seeding.

Tables keep WHMCS's own names and columns where the API shows them (``tbltickets.tid``/``c``/
``did``/``urgency``/``flag``, ``tblticketreplies``, ``tblticketnotes``, ``tblclients``,
``tblcontacts``, ``tblusers``, ``tbladmins``, ``tblticketdepartments``, ``tblticketstatuses``).
Dates are stored as WHMCS shows them: ``YYYY-MM-DD HH:MM:SS`` in server-local time, no offset.
"""

from __future__ import annotations

import random
import sqlite3
import string
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

Row = dict[str, Any]

#: WHMCS's default statuses: (title, colour, show in Active Tickets, show in Awaiting Reply).
STATUSES: tuple[tuple[str, str, bool, bool], ...] = (
    ("Open", "#779500", True, True),
    ("Answered", "#000000", True, False),
    ("Customer-Reply", "#ff6600", True, True),
    ("On Hold", "#224488", True, False),
    ("In Progress", "#cc0000", True, False),
    ("Closed", "#888888", False, False),
)
PRIORITIES: tuple[str, ...] = ("Low", "Medium", "High")

#: Demo-data vocabulary -> WHMCS names.
DEMO_STATUS = {
    "open": "Open",
    "in_progress": "In Progress",
    "answered": "Answered",
    "on_hold": "On Hold",
    "closed": "Closed",
    "customer_reply": "Customer-Reply",
}
DEMO_PRIORITY = {"low": "Low", "medium": "Medium", "high": "High"}

#: The demo admins' login password (``username`` + md5 of it is WHMCS's legacy admin login).
DEMO_ADMIN_PASSWORD = "admin-demo-password"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tbladmins (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password TEXT NOT NULL DEFAULT '',
    firstname TEXT NOT NULL DEFAULT '', lastname TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '',
    supportdepts TEXT NOT NULL DEFAULT '', disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tblticketdepartments (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL DEFAULT '', hidden INTEGER NOT NULL DEFAULT 0,
    "order" INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tblticketstatuses (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, color TEXT NOT NULL, sortorder INTEGER NOT NULL,
    showactive INTEGER NOT NULL, showawaiting INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tblusers (
    id INTEGER PRIMARY KEY, first_name TEXT NOT NULL DEFAULT '', last_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL, password TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tblclients (
    id INTEGER PRIMARY KEY, uuid TEXT NOT NULL DEFAULT '', owner_user_id INTEGER NOT NULL DEFAULT 0,
    firstname TEXT NOT NULL DEFAULT '', lastname TEXT NOT NULL DEFAULT '', companyname TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '', address1 TEXT NOT NULL DEFAULT '', address2 TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT '', postcode TEXT NOT NULL DEFAULT '',
    country TEXT NOT NULL DEFAULT '', phonenumber TEXT NOT NULL DEFAULT '', tax_id TEXT NOT NULL DEFAULT '',
    currency INTEGER NOT NULL DEFAULT 1, groupid INTEGER NOT NULL DEFAULT 0, notes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'Active', language TEXT NOT NULL DEFAULT '', credit TEXT NOT NULL DEFAULT '0.00',
    taxexempt INTEGER NOT NULL DEFAULT 0, marketing_emails_opt_in INTEGER NOT NULL DEFAULT 0,
    email_preferences TEXT NOT NULL DEFAULT '1,1,1,1,1,1',
    datecreated TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tblcontacts (
    id INTEGER PRIMARY KEY, userid INTEGER NOT NULL, firstname TEXT NOT NULL DEFAULT '',
    lastname TEXT NOT NULL DEFAULT '', companyname TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '',
    address1 TEXT NOT NULL DEFAULT '', address2 TEXT NOT NULL DEFAULT '', city TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '', postcode TEXT NOT NULL DEFAULT '', country TEXT NOT NULL DEFAULT '',
    phonenumber TEXT NOT NULL DEFAULT '', tax_id TEXT NOT NULL DEFAULT '',
    domainemails INTEGER NOT NULL DEFAULT 0, generalemails INTEGER NOT NULL DEFAULT 0,
    invoiceemails INTEGER NOT NULL DEFAULT 0, productemails INTEGER NOT NULL DEFAULT 0,
    supportemails INTEGER NOT NULL DEFAULT 0, affiliateemails INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS contacts_userid ON tblcontacts(userid);
CREATE TABLE IF NOT EXISTS tbltickets (
    id INTEGER PRIMARY KEY, tid TEXT NOT NULL UNIQUE, did INTEGER NOT NULL, userid INTEGER NOT NULL DEFAULT 0,
    contactid INTEGER NOT NULL DEFAULT 0, name TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '',
    cc TEXT NOT NULL DEFAULT '', c TEXT NOT NULL, date TEXT NOT NULL, title TEXT NOT NULL,
    message TEXT NOT NULL, status TEXT NOT NULL, urgency TEXT NOT NULL, admin TEXT NOT NULL DEFAULT '',
    attachment TEXT NOT NULL DEFAULT '', lastreply TEXT NOT NULL, flag INTEGER NOT NULL DEFAULT 0,
    service TEXT NOT NULL DEFAULT '', editor TEXT NOT NULL DEFAULT 'plain');
CREATE INDEX IF NOT EXISTS tickets_lastreply ON tbltickets(lastreply, id);
CREATE INDEX IF NOT EXISTS tickets_userid ON tbltickets(userid);
CREATE INDEX IF NOT EXISTS tickets_status ON tbltickets(status, lastreply, id);
CREATE INDEX IF NOT EXISTS tickets_flag ON tbltickets(flag);
CREATE INDEX IF NOT EXISTS tickets_did_status ON tbltickets(did, status);
CREATE TABLE IF NOT EXISTS tblticketreplies (
    id INTEGER PRIMARY KEY, tid INTEGER NOT NULL, userid INTEGER NOT NULL DEFAULT 0,
    contactid INTEGER NOT NULL DEFAULT 0, name TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '',
    date TEXT NOT NULL, message TEXT NOT NULL, admin TEXT NOT NULL DEFAULT '', attachment TEXT NOT NULL DEFAULT '',
    rating INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS replies_tid ON tblticketreplies(tid, id);
CREATE TABLE IF NOT EXISTS tblticketnotes (
    id INTEGER PRIMARY KEY, ticketid INTEGER NOT NULL, admin TEXT NOT NULL DEFAULT '', date TEXT NOT NULL,
    message TEXT NOT NULL, attachments TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS notes_ticketid ON tblticketnotes(ticketid, id);
"""

_C_ALPHABET = string.ascii_letters + string.digits


def now_str() -> str:
    """The server's local time as WHMCS shows it (no offset)."""
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def new_access_key(rng: random.Random | None = None) -> str:
    """A ticket's ``c``: 8 random letters and digits, as WHMCS makes."""
    r = rng or random.SystemRandom()
    return "".join(r.choice(_C_ALPHABET) for _ in range(8))


class SimDB:
    """One SQLite connection (thread-safe via a lock); small query helpers used by the actions."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(db_path)
        if str(db_path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # a simulator: a commit survives its process being killed (WAL), an fsync per write buys
        # nothing here and cost every write several milliseconds on a busy disk
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self._seed_statuses()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # ---------------------------------------------------------------- low level

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.lock:
            cur = self.conn.execute(sql, tuple(params))
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lock:
            row = self.conn.execute(sql, tuple(params)).fetchone()
        return None if row is None else row[0]

    def insert(self, table: str, data: Mapping[str, Any]) -> int:
        cols = ", ".join(f'"{k}"' for k in data)
        marks = ", ".join("?" for _ in data)
        with self.lock:
            cur = self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(data.values()))
            return int(cur.lastrowid or 0)

    def update(self, table: str, row_id: int, data: Mapping[str, Any]) -> None:
        if not data:
            return
        sets = ", ".join(f'"{k}" = ?' for k in data)
        with self.lock:
            self.conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*data.values(), row_id))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.lock:
            return self.conn.execute(sql, tuple(params)).rowcount

    def is_empty(self) -> bool:
        return all(int(self.scalar(f"SELECT COUNT(*) FROM {t}")) == 0 for t in ("tblclients", "tbltickets"))

    def _seed_statuses(self) -> None:
        with self.lock:
            if int(self.scalar("SELECT COUNT(*) FROM tblticketstatuses")):
                return
            for order, (title, colour, active, awaiting) in enumerate(STATUSES, start=1):
                self.insert(
                    "tblticketstatuses",
                    {
                        "title": title,
                        "color": colour,
                        "sortorder": order,
                        "showactive": int(active),
                        "showawaiting": int(awaiting),
                    },
                )

    # ---------------------------------------------------------------- lookups used by several actions

    def statuses(self) -> list[Row]:
        return self.all("SELECT * FROM tblticketstatuses ORDER BY sortorder, id")

    def department(self, dept_id: int) -> Row | None:
        return self.one("SELECT * FROM tblticketdepartments WHERE id = ?", (dept_id,))

    def client(self, client_id: int) -> Row | None:
        return self.one("SELECT * FROM tblclients WHERE id = ?", (client_id,))

    def contact(self, contact_id: int) -> Row | None:
        return self.one("SELECT * FROM tblcontacts WHERE id = ?", (contact_id,))

    def admin_by_username(self, username: str) -> Row | None:
        return self.one("SELECT * FROM tbladmins WHERE lower(username) = lower(?)", (username,))

    def admin(self, admin_id: int) -> Row | None:
        return self.one("SELECT * FROM tbladmins WHERE id = ?", (admin_id,))

    def ticket(self, ticket_id: int | None = None, tid: str | None = None) -> Row | None:
        if ticket_id is not None:
            return self.one("SELECT * FROM tbltickets WHERE id = ?", (ticket_id,))
        return self.one("SELECT * FROM tbltickets WHERE tid = ?", (tid,))

    def new_tid(self) -> str:
        """A random 6-digit ticket number not yet in use (WHMCS's default ticket-number mask)."""
        rng = random.SystemRandom()
        for _ in range(100):
            tid = str(rng.randint(100000, 999999))
            if self.scalar("SELECT 1 FROM tbltickets WHERE tid = ?", (tid,)) is None:
                return tid
        raise RuntimeError("Unable to generate ticket number")

    def count_tickets(self) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM tbltickets"))

    def count_clients(self) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM tblclients"))

    def count_contacts(self, client_id: int | None = None) -> int:
        if client_id is None:
            return int(self.scalar("SELECT COUNT(*) FROM tblcontacts"))
        return int(self.scalar("SELECT COUNT(*) FROM tblcontacts WHERE userid = ?", (client_id,)))


# --------------------------------------------------------------------------- demo seeding


def _demo_tid(ticket_id: int, used: set[str]) -> str:
    """A stable 6-digit ticket number per demo id, so every demo database shows the same numbers."""
    rng = random.Random(f"whmcs-demo-tid-{ticket_id}")
    while True:
        tid = str(rng.randint(100000, 999999))
        if tid not in used:
            used.add(tid)
            return tid


def _full(first: Any, last: Any) -> str:
    return f"{first or ''} {last or ''}".strip()


def seed_demo(db: SimDB, demo: Mapping[str, Any]) -> None:
    """Write the shared demo data (gateway/demo/data.yaml's schema) as WHMCS holds it.

    Mapping (WHMCS has no "primary contact": the client record *is* the account holder):

    * customer -> ``tblclients`` row with the same id (company -> ``companyname``; names, email and
      phone are the customer's own) and a ``tblusers`` owner user with the same id;
    * a contact with ``is_primary`` -> nothing more (it is the client itself); an inactive contact
      (``active: false``) -> nothing (WHMCS contacts have no inactive state); other contacts ->
      ``tblcontacts`` rows with their own ids (``title`` has no WHMCS column and is dropped);
      customer ``vat`` -> ``tax_id``, ``language`` -> ``language``;
    * staff -> ``tbladmins`` (``username`` is the admin login, password :data:`DEMO_ADMIN_PASSWORD`);
    * ticket: ``tid`` a stable 6-digit number, ``c`` the first 8 characters of its ``key`` (as the
      gateway shows PMP tickets), status/priority by WHMCS name, ``admin`` the opening staff member's
      name, ``flag`` the assigned staff id, ``lastreply`` the last reply time (or the opening time),
      ``cc`` as given, ``service_id`` -> ``service`` ``S<id>``;
    * replies: staff -> ``admin`` name; customer -> ``userid``/``contactid`` (a primary contact
      becomes contact 0); guest -> ``name``/``email``; notes -> ``admin`` name.
    """
    with db.lock:
        db.conn.execute("BEGIN")
        try:
            _seed_demo_rows(db, demo)
            db.conn.execute("COMMIT")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise


def _seed_demo_rows(db: SimDB, demo: Mapping[str, Any]) -> None:
    staff_names: dict[int, str] = {}
    for d in demo.get("departments") or []:
        db.insert("tblticketdepartments", {"id": d["id"], "name": d["name"], "email": d.get("email") or ""})
    for s in demo.get("staff") or []:
        staff_names[int(s["id"])] = _full(s.get("firstname"), s.get("lastname"))
        db.insert(
            "tbladmins",
            {
                "id": s["id"],
                "username": s.get("username") or f"admin{s['id']}",
                "password": DEMO_ADMIN_PASSWORD,
                "firstname": s.get("firstname") or "",
                "lastname": s.get("lastname") or "",
                "email": s.get("email") or "",
            },
        )
    primaries: set[int] = set()
    for c in demo.get("contacts") or []:
        # the primary contact is the client itself; WHMCS contacts have no "inactive" state, and an
        # inactive person is not someone a WHMCS installation would list, so neither becomes a contact
        if c.get("is_primary") or c.get("active") is False:
            primaries.add(int(c["id"]))
    for cu in demo.get("customers") or []:
        _seed_customer(db, cu)
    for c in demo.get("contacts") or []:
        if int(c["id"]) not in primaries:
            _seed_contact(db, c)
    used: set[str] = set()
    for t in demo.get("tickets") or []:
        _seed_ticket(db, t, staff_names, primaries, used)


def _seed_customer(db: SimDB, cu: Mapping[str, Any]) -> None:
    created = str(cu.get("created_at") or now_str())
    db.insert(
        "tblusers",
        {
            "id": cu["id"],
            "first_name": cu.get("firstname") or "",
            "last_name": cu.get("lastname") or "",
            "email": cu.get("email") or "",
            "created_at": created,
            "updated_at": created,
        },
    )
    db.insert(
        "tblclients",
        {
            "id": cu["id"],
            "uuid": _uuid(f"client-{cu['id']}"),
            "owner_user_id": cu["id"],
            "firstname": cu.get("firstname") or "",
            "lastname": cu.get("lastname") or "",
            "companyname": cu.get("company") or "",
            "email": cu.get("email") or "",
            "address1": cu.get("address1") or "",
            "address2": cu.get("address2") or "",
            "city": cu.get("city") or "",
            "state": cu.get("state") or "",
            "postcode": cu.get("postcode") or "",
            "country": cu.get("country") or "",
            "phonenumber": cu.get("phone") or "",
            "tax_id": cu.get("vat") or "",
            "language": cu.get("language") or "",
            "datecreated": created[:10],
            "created_at": created,
            "updated_at": created,
        },
    )


def _seed_contact(db: SimDB, c: Mapping[str, Any]) -> None:
    created = str(c.get("created_at") or now_str())
    db.insert(
        "tblcontacts",
        {
            "id": c["id"],
            "userid": c["customer_id"],
            "firstname": c.get("firstname") or "",
            "lastname": c.get("lastname") or "",
            "email": c.get("email") or "",
            "phonenumber": c.get("phone") or "",
            "generalemails": 1,
            "supportemails": 1,
            "invoiceemails": 1,
            "created_at": created,
            "updated_at": created,
        },
    )


def _seed_ticket(
    db: SimDB, t: Mapping[str, Any], staff_names: dict[int, str], primaries: set[int], used: set[str]
) -> None:
    customer = int(t.get("customer_id") or 0)
    contact = int(t.get("contact_id") or 0)
    created = str(t["created_at"])
    guest = customer == 0
    db.insert(
        "tbltickets",
        {
            "id": t["id"],
            "tid": _demo_tid(int(t["id"]), used),
            "did": t["department_id"],
            "userid": customer,
            "contactid": 0 if contact in primaries else contact,
            "name": (t.get("name") or "") if guest else "",
            "email": (t.get("email") or "") if guest else "",
            "c": str(t.get("key") or "")[:8] or new_access_key(),
            "date": created,
            "title": t.get("subject") or "",
            "message": t.get("message") or "",
            "status": DEMO_STATUS.get(str(t.get("status")), "Open"),
            "urgency": DEMO_PRIORITY.get(str(t.get("priority")), "Medium"),
            "admin": staff_names.get(int(t.get("staff_id") or 0), ""),
            "lastreply": str(t.get("last_reply_at") or created),
            "flag": int(t.get("assigned_staff_id") or 0),
            "cc": t.get("cc") or "",
            "service": f"S{t['service_id']}" if t.get("service_id") else "",
        },
    )
    for r in t.get("replies") or []:
        a = r.get("author") or {}
        kind = a.get("kind")
        reply_contact = int(a.get("contact_id") or 0)
        db.insert(
            "tblticketreplies",
            {
                "id": r["id"],
                "tid": t["id"],
                "userid": customer if kind != "guest" else 0,
                "contactid": 0 if kind != "customer" or reply_contact in primaries else reply_contact,
                "name": (a.get("name") or "") if kind == "guest" else "",
                "email": (a.get("email") or "") if kind == "guest" else "",
                "date": str(r["created_at"]),
                "message": r.get("message") or "",
                "admin": (staff_names.get(int(a.get("staff_id") or 0)) or a.get("name") or "")
                if kind == "staff"
                else "",
            },
        )
    for n in t.get("notes") or []:
        db.insert(
            "tblticketnotes",
            {
                "id": n["id"],
                "ticketid": t["id"],
                "admin": staff_names.get(int(n.get("staff_id") or 0), ""),
                "date": str(n["created_at"]),
                "message": n.get("message") or "",
            },
        )


def _uuid(seed: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"whmcs-sim:{seed}"))


# --------------------------------------------------------------------------- bulk seeding


def seed_bulk_tickets(db: SimDB, n: int, replies_per_ticket: int = 0, *, seed: int = 1) -> int:
    """Insert ``n`` realistic tickets (and ``replies_per_ticket`` replies each) in one transaction.

    Uses the departments, clients and admins already present (a demo database), so the rows
    look like any other.  Returns the number of tickets written.
    """
    if n <= 0:
        return 0
    rng = random.Random(seed)
    depts = [int(r["id"]) for r in db.all("SELECT id FROM tblticketdepartments")] or [1]
    clients = [int(r["id"]) for r in db.all("SELECT id FROM tblclients")]
    admins = [f"{r['firstname']} {r['lastname']}".strip() for r in db.all("SELECT * FROM tbladmins")] or ["Admin"]
    titles = [s[0] for s in STATUSES]
    with db.lock:
        start = int(db.scalar("SELECT COALESCE(MAX(id), 0) FROM tbltickets")) + 1
        used = {str(r[0]) for r in db.conn.execute("SELECT tid FROM tbltickets")}
        tickets: list[tuple[Any, ...]] = []
        replies: list[tuple[Any, ...]] = []
        for i in range(n):
            tid = _bulk_tid(rng, used)
            ticket_id = start + i
            day = datetime(2020, 1, 1).timestamp() + rng.randint(0, 5 * 365 * 86400)
            created = datetime.fromtimestamp(day).strftime("%Y-%m-%d %H:%M:%S")
            userid = rng.choice(clients) if clients and rng.random() < 0.9 else 0
            last = created
            for k in range(replies_per_ticket):
                last = datetime.fromtimestamp(day + (k + 1) * 3600).strftime("%Y-%m-%d %H:%M:%S")
                staff = k % 2 == 0
                replies.append(
                    (
                        ticket_id,
                        userid,
                        "" if staff or userid else "Guest Person",
                        "" if staff or userid else "guest@example.net",
                        last,
                        f"Reply {k + 1} on ticket {ticket_id}.\r\nThanks.",
                        rng.choice(admins) if staff else "",
                    )
                )
            tickets.append(
                (
                    ticket_id,
                    tid,
                    rng.choice(depts),
                    userid,
                    "" if userid else "Guest Person",
                    "" if userid else "guest@example.net",
                    new_access_key(rng),
                    created,
                    f"Bulk ticket {ticket_id}: {rng.choice(('login', 'invoice', 'dns', 'email', 'backup'))} issue",
                    f"Hello,\r\nthis is bulk ticket {ticket_id}.\r\nRegards",
                    rng.choice(titles),
                    rng.choice(PRIORITIES),
                    last,
                )
            )
        db.conn.execute("BEGIN")
        try:
            db.conn.executemany(
                "INSERT INTO tbltickets (id, tid, did, userid, name, email, c, date, title, message, status,"
                " urgency, lastreply) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                tickets,
            )
            db.conn.executemany(
                "INSERT INTO tblticketreplies (tid, userid, name, email, date, message, admin) VALUES (?,?,?,?,?,?,?)",
                replies,
            )
            db.conn.execute("COMMIT")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
    return n


def _bulk_tid(rng: random.Random, used: set[str]) -> str:
    # 6 digits while they last, then 7 and more (WHMCS's mask would run out the same way)
    digits = 6 if len(used) < 450_000 else 8
    while True:
        tid = str(rng.randint(10 ** (digits - 1), 10**digits - 1))
        if tid not in used:
            used.add(tid)
            return tid
