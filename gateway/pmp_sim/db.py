"""SQLite storage of the PMP (Perfex CRM REST API module) simulator.

The tables copy the columns (names and order) of the Perfex tables the API
module reads, and the writes follow MySQL's *non-strict* conversions, which is
what CodeIgniter's ``stricton = FALSE`` gives a Perfex installation: a text in
an integer column becomes its leading number or ``0``, a bad date becomes
``0000-00-00 00:00:00``, ``NULL`` in a ``NOT NULL`` column becomes the column's
implicit default.  An unknown column is a database error (``SimDatabaseError``),
which the HTTP layer renders as CodeIgniter's HTTP 500 error page.

Every value read back is a ``str`` or ``None`` (like PHP's mysqli driver).

Besides the queries the HTTP handlers use, :class:`SimDB` offers a few
inspection helpers (``count_tickets``, ``list_ticket_rows`` ...) for tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from gateway.demo import DemoContact, DemoCustomer, DemoNote, DemoReply, DemoStaff, DemoTicket, load_demo

from .listing import ListQuery, ListSource, build_sql

Kind = Literal["int", "text", "datetime"]
Row = dict[str, str | None]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True
    default: int | str | None = None
    primary: bool = False


def _c(name: str, kind: Kind = "text", nullable: bool = True, default: int | str | None = None) -> Column:
    return Column(name, kind, nullable, default)


def _pk(name: str) -> Column:
    return Column(name, "int", False, None, True)


TABLES: dict[str, tuple[Column, ...]] = {
    "tblclients": (
        _pk("userid"),
        _c("company"),
        _c("vat"),
        _c("phonenumber"),
        _c("country", "int", False, 0),
        _c("city"),
        _c("zip"),
        _c("state"),
        _c("address"),
        _c("website"),
        _c("datecreated", "datetime", False, "0000-00-00 00:00:00"),
        _c("active", "int", False, 1),
        _c("leadid", "int"),
        _c("billing_street"),
        _c("billing_city"),
        _c("billing_state"),
        _c("billing_zip"),
        _c("billing_country", "int", True, 0),
        _c("shipping_street"),
        _c("shipping_city"),
        _c("shipping_state"),
        _c("shipping_zip"),
        _c("shipping_country", "int", True, 0),
        _c("longitude"),
        _c("latitude"),
        _c("default_language"),
        _c("default_currency", "int", False, 0),
        _c("show_primary_contact", "int", False, 0),
        _c("stripe_id"),
        _c("registration_confirmed", "int", False, 1),
        _c("addedfrom", "int", False, 0),
    ),
    "tblcontacts": (
        _pk("id"),
        _c("userid", "int", False, 0),
        _c("is_primary", "int", False, 1),
        _c("firstname", "text", False, ""),
        _c("lastname", "text", False, ""),
        _c("email", "text", False, ""),
        _c("phonenumber", "text", False, ""),
        _c("title"),
        _c("datecreated", "datetime", False, "0000-00-00 00:00:00"),
        _c("password"),
        _c("new_pass_key"),
        _c("new_pass_key_requested", "datetime"),
        _c("email_verified_at", "datetime"),
        _c("email_verification_key"),
        _c("email_verification_sent_at", "datetime"),
        _c("last_ip"),
        _c("last_login", "datetime"),
        _c("last_password_change", "datetime"),
        _c("active", "int", False, 1),
        _c("profile_image"),
        _c("direction"),
        _c("invoice_emails", "int", False, 1),
        _c("estimate_emails", "int", False, 1),
        _c("credit_note_emails", "int", False, 1),
        _c("contract_emails", "int", False, 1),
        _c("task_emails", "int", False, 1),
        _c("project_emails", "int", False, 1),
        _c("ticket_emails", "int", False, 1),
    ),
    "tbltickets": (
        _pk("ticketid"),
        _c("adminreplying", "int", False, 0),
        _c("userid", "int", False, 0),
        _c("contactid", "int", False, 0),
        _c("merged_ticket_id", "int"),
        _c("email"),
        _c("name"),
        _c("department", "int", False, 0),
        _c("priority", "int", False, 0),
        _c("status", "int", False, 0),
        _c("service", "int"),
        _c("ticketkey", "text", False, ""),
        _c("subject", "text", False, ""),
        _c("message"),
        _c("admin", "int"),
        _c("date", "datetime", False, "0000-00-00 00:00:00"),
        _c("project_id", "int", False, 0),
        _c("lastreply", "datetime"),
        _c("clientread", "int", False, 0),
        _c("adminread", "int", False, 0),
        _c("assigned", "int", False, 0),
        _c("staff_id_replying", "int"),
        _c("cc"),
    ),
    "tbldepartments": (
        _pk("departmentid"),
        _c("name", "text", False, ""),
        _c("imap_username"),
        _c("email"),
        _c("email_from_header", "int", False, 0),
        _c("host"),
        _c("password"),
        _c("encryption"),
        _c("folder"),
        _c("delete_after_import", "int", False, 0),
        _c("calendar_id"),
        _c("hidefromclient", "int", False, 0),
    ),
    "tbltickets_status": (
        _pk("ticketstatusid"),
        _c("name", "text", False, ""),
        _c("isdefault", "int", False, 0),
        _c("statuscolor"),
        _c("statusorder", "int"),
    ),
    "tbltickets_priorities": (_pk("priorityid"), _c("name", "text", False, "")),
    "tblservices": (_pk("serviceid"), _c("name", "text", False, "")),
    "tblstaff": (
        _pk("staffid"),
        _c("email", "text", False, ""),
        _c("firstname", "text", False, ""),
        _c("lastname", "text", False, ""),
        _c("facebook"),
        _c("linkedin"),
        _c("phonenumber"),
        _c("skype"),
        _c("password", "text", False, ""),
        _c("datecreated", "datetime", False, "0000-00-00 00:00:00"),
        _c("profile_image"),
        _c("last_ip"),
        _c("last_login", "datetime"),
        _c("last_activity", "datetime"),
        _c("last_password_change", "datetime"),
        _c("new_pass_key"),
        _c("new_pass_key_requested", "datetime"),
        _c("admin", "int", False, 0),
        _c("role", "int"),
        _c("active", "int", False, 1),
        _c("default_language"),
        _c("direction"),
        _c("media_path_slug"),
        _c("is_not_staff", "int", False, 0),
        _c("hourly_rate", "text", False, "0.00"),
        _c("two_factor_auth_enabled", "int", True, 0),
        _c("two_factor_auth_code"),
        _c("two_factor_auth_code_requested", "datetime"),
        _c("email_signature"),
    ),
    "tbltags": (_pk("id"), _c("name", "text", False, "")),
    "tbltaggables": (
        _c("rel_id", "int", False, 0),
        _c("rel_type", "text", False, ""),
        _c("tag_id", "int", False, 0),
        _c("tag_order", "int", True, 0),
    ),
    "tblticket_replies": (
        _pk("id"),
        _c("ticketid", "int", False, 0),
        _c("userid", "int"),
        _c("contactid", "int", False, 0),
        _c("name"),
        _c("email"),
        _c("date", "datetime", False, "0000-00-00 00:00:00"),
        _c("message"),
        _c("attachment", "int"),
        _c("admin", "int"),
    ),
    "tblnotes": (
        _pk("id"),
        _c("rel_id", "int", False, 0),
        _c("rel_type", "text", False, ""),
        _c("description"),
        _c("date_contacted", "datetime"),
        _c("addedfrom", "int", False, 0),
        _c("dateadded", "datetime", False, "0000-00-00 00:00:00"),
    ),
    "tblcustomer_groups": (
        _pk("id"),
        _c("groupid", "int", False, 0),
        _c("customer_id", "int", False, 0),
    ),
}

TICKET_COLUMNS: tuple[str, ...] = tuple(c.name for c in TABLES["tbltickets"])
CLIENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in TABLES["tblclients"])
CONTACT_COLUMNS: tuple[str, ...] = tuple(c.name for c in TABLES["tblcontacts"])

#: Perfex's ticket statuses: id -> (name, colour).
TICKET_STATUSES: dict[int, tuple[str, str]] = {
    1: ("Open", "#ff2d42"),
    2: ("In progress", "#84c529"),
    3: ("Answered", "#0000ff"),
    4: ("On Hold", "#c0c0c0"),
    5: ("Closed", "#03a9f4"),
}
TICKET_PRIORITIES: dict[int, str] = {1: "Low", 2: "Medium", 3: "High"}
SERVICES: dict[int, str] = {1: "Web Hosting", 2: "Domain Registration"}

ZERO_DATETIME = "0000-00-00 00:00:00"


class SimDatabaseError(Exception):
    """A MySQL error as CodeIgniter reports it (rendered as an HTTP 500 page)."""

    def __init__(self, number: int, message: str, query: str = "") -> None:
        super().__init__(f"Error Number: {number} {message}")
        self.number = number
        self.message = message
        self.query = query


# --------------------------------------------------------------------------- helpers


def now_str() -> str:
    """PHP's ``date('Y-m-d H:i:s')`` on a server whose local zone is UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def app_generate_hash() -> str:
    """Perfex's ``app_generate_hash()``: md5 of random data, 32 hex digits."""
    return hashlib.md5(secrets.token_bytes(32)).hexdigest()


_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_B64_TO_BCRYPT = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", _BCRYPT_ALPHABET)


def app_hash_password(password: str) -> str:
    """A bcrypt-looking hash (``$2y$10$`` + 53 chars).  Not real bcrypt: it only has to look secret."""
    salt = base64.b64encode(secrets.token_bytes(16)).decode().rstrip("=").translate(_B64_TO_BCRYPT)[:22]
    digest = hashlib.sha256((salt + password).encode()).digest()
    body = base64.b64encode(digest).decode().rstrip("=").translate(_B64_TO_BCRYPT)[:31]
    return f"$2y$10${salt}{body}"


_LEADING_NUMBER = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")
_DATETIME = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?\s*$")


def _mysql_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value)
    m = _LEADING_NUMBER.match(str(value))
    if not m:
        return 0
    try:
        return round(float(m.group(1)))
    except (OverflowError, ValueError):
        return 0


def _mysql_datetime(value: Any) -> str:
    m = _DATETIME.match(str(value))
    if not m:
        return ZERO_DATETIME
    y, mo, d, h, mi, s = (int(g) if g is not None else 0 for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ZERO_DATETIME


def _php_str(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def coerce(table: str, column: str, value: Any) -> int | str | None:
    """Convert a PHP value for ``table.column`` as non-strict MySQL would store it."""
    col = _column(table, column)
    if isinstance(value, list | dict):
        raise SimDatabaseError(1241, "Operand should contain 1 column(s)")
    if value is None:
        if col.nullable:
            return None
        if col.kind == "int":
            return 0
        if col.kind == "datetime":
            return ZERO_DATETIME
        return ""
    if col.kind == "int":
        return _mysql_int(value)
    if col.kind == "datetime":
        return _mysql_datetime(value)
    return _php_str(value)


def _column(table: str, column: str) -> Column:
    for col in TABLES[table]:
        if col.name == column:
            return col
    raise SimDatabaseError(1054, f"Unknown column '{column}' in 'field list'")


def _out(value: Any) -> str | None:
    return None if value is None else _php_str(value)


def _row(cursor: sqlite3.Cursor, values: Iterable[Any]) -> Row:
    """Build a PHP-like associative row: a repeated column name keeps its first
    position and takes the last value (what mysqli's fetch_assoc does)."""
    return _rows(cursor, [values])[0]


def _rows(cursor: sqlite3.Cursor, batch: Iterable[Iterable[Any]]) -> list[Row]:
    """:func:`_row` of many rows; the names are read once (a whole-table listing builds millions of values)."""
    names = [d[0] for d in cursor.description]
    # dict(zip()) keeps a repeated name's first position and its last value, as fetch_assoc does
    return [
        dict(zip(names, [v if v is None or v.__class__ is str else _php_str(v) for v in values], strict=True))
        for values in batch
    ]


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _token_hash(token: str) -> str:
    # The module stores token digests, not tokens.
    return hashlib.sha256(token.encode()).hexdigest()


def _fold(text: str | None) -> str:
    """Case- and accent-insensitive form (like MySQL's ``utf8mb4_unicode_ci`` in ``LIKE``)."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def php_truthy(value: Any) -> bool:
    """PHP's boolean conversion of a request value."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, list | dict):
        return len(value) > 0
    return str(value) not in ("", "0")


# --------------------------------------------------------------------------- schema


def _schema_sql() -> str:
    parts: list[str] = []
    for table, columns in TABLES.items():
        defs: list[str] = []
        for col in columns:
            if col.primary:
                defs.append(f"{col.name} INTEGER PRIMARY KEY AUTOINCREMENT")
                continue
            sql_type = "INTEGER" if col.kind == "int" else "TEXT"
            d = f"{col.name} {sql_type}"
            if not col.nullable:
                d += " NOT NULL"
            if col.default is not None:
                d += f" DEFAULT {_sql_literal(col.default)}"
            defs.append(d)
        parts.append(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(defs)});")
    return "\n".join(parts)


#: The API module's own table for Idempotency-Key replays (3.x); never reachable as a custom table.
_API_SCHEMA = """
CREATE INDEX IF NOT EXISTS tbltickets_date ON tbltickets (date);
CREATE INDEX IF NOT EXISTS tbltickets_lastreply ON tbltickets (lastreply);
CREATE TABLE IF NOT EXISTS tblapi_idempotency (
    token_hash TEXT NOT NULL, idem_key TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER NOT NULL, body BLOB NOT NULL, content_type TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (token_hash, idem_key)
);
"""

_TICKET_SELECT = """
SELECT t.*, d.*, s.*, sv.*, c.*, ct.*, st.*, p.*,
    t.userid AS userid, t.name AS from_name, t.email AS ticket_email,
    d.name AS department_name, p.name AS priority_name, s.statuscolor AS statuscolor,
    t.admin AS admin, sv.name AS service_name, t.service AS service, s.name AS status_name,
    t.ticketid AS ticketid, ct.firstname AS user_firstname, ct.lastname AS user_lastname,
    st.firstname AS staff_firstname, st.lastname AS staff_lastname, t.lastreply AS lastreply,
    t.message AS message, t.status AS status, t.subject AS subject, t.department AS department,
    t.priority AS priority, ct.email AS email, t.adminread AS adminread,
    t.clientread AS clientread, t.date AS date
FROM tbltickets t
LEFT JOIN tbldepartments d ON d.departmentid = t.department
LEFT JOIN tbltickets_status s ON s.ticketstatusid = t.status
LEFT JOIN tblservices sv ON sv.serviceid = t.service
LEFT JOIN tblclients c ON c.userid = t.userid
LEFT JOIN tblcontacts ct ON ct.id = t.contactid
LEFT JOIN tblstaff st ON st.staffid = t.admin
LEFT JOIN tbltickets_priorities p ON p.priorityid = t.priority
"""


def _sortable(columns: Iterable[str], prefix: str = "") -> dict[str, str]:
    return {c: f"{prefix}{c}" for c in columns}


TICKETS_SOURCE = ListSource(
    select=_TICKET_SELECT,
    count="SELECT COUNT(*) FROM tbltickets t",
    sortable=_sortable((c.name for c in TABLES["tbltickets"]), "t."),
    date_column="t.date",
    default_order="t.ticketid",
    page_table="tbltickets t",
    page_key="t.ticketid",
)
CUSTOMERS_SOURCE = ListSource(
    select="SELECT * FROM tblclients",
    count="SELECT COUNT(*) FROM tblclients",
    sortable=_sortable(c.name for c in TABLES["tblclients"]),
    date_column="datecreated",
    default_order="company COLLATE NOCASE, userid",
)
STAFF_SOURCE = ListSource(
    select="SELECT * FROM tblstaff",
    count="SELECT COUNT(*) FROM tblstaff",
    sortable=_sortable(c.name for c in TABLES["tblstaff"]),
    date_column="datecreated",
    default_order="staffid",
)


def contacts_source(userid: int) -> ListSource:
    """One customer's active contacts (``GET /api/contacts/{customer_id}``)."""
    return ListSource(
        select="SELECT * FROM tblcontacts",
        count="SELECT COUNT(*) FROM tblcontacts",
        sortable=_sortable(c.name for c in TABLES["tblcontacts"]),
        date_column="datecreated",
        default_order="is_primary DESC, id",
        where="userid = ? AND active = 1",
        params=(userid,),
    )


# --------------------------------------------------------------------------- database


class SimDB:
    """One SQLite connection to the simulator's database file (thread-safe via a lock)."""

    def __init__(self, db_path: str | Path, *, seed_demo: bool = False) -> None:
        self.path = Path(db_path)
        if str(db_path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.conn = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # a simulator: a commit survives its process being killed (WAL), an fsync per write buys
        # nothing here and cost every write several milliseconds on a busy disk
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_schema_sql())
        self.conn.executescript(_API_SCHEMA)
        self._seed_reference_data()
        if seed_demo and self._is_empty():
            seed_demo_data(self)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> SimDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- low level

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction (bulk seeding: one commit instead of one per row)."""
        with self._lock:
            self.conn.execute("BEGIN")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        with self._lock:
            cur = self.conn.execute(sql, tuple(params))
            return _rows(cur, cur.fetchall())

    def _one(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        with self._lock:
            row = self.conn.execute(sql, tuple(params)).fetchone()
        return None if row is None else row[0]

    def insert(self, table: str, data: Mapping[str, Any]) -> int:
        values = {k: coerce(table, k, v) for k, v in data.items()}
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._lock:
            if values:
                sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
                cur = self.conn.execute(sql, tuple(values.values()))
            else:
                cur = self.conn.execute(f"INSERT INTO {table} DEFAULT VALUES")
            return int(cur.lastrowid or 0)

    def update_changed(self, table: str, key: str, key_value: int, data: Mapping[str, Any]) -> bool:
        """UPDATE one row; return True when a value actually changed (MySQL's affected_rows)."""
        values = {k: coerce(table, k, v) for k, v in data.items()}
        with self._lock:
            cur = self.conn.execute(f"SELECT * FROM {table} WHERE {key} = ?", (key_value,))
            found = cur.fetchone()
            if found is None:
                return False
            current = _row(cur, found)
            changed = {k: v for k, v in values.items() if _out(v) != current.get(k)}
            if not changed:
                return False
            assignments = ", ".join(f"{k} = ?" for k in changed)
            self.conn.execute(f"UPDATE {table} SET {assignments} WHERE {key} = ?", (*changed.values(), key_value))
            return True

    def _delete(self, table: str, key: str, key_value: int) -> bool:
        with self._lock:
            cur = self.conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (key_value,))
            return cur.rowcount > 0

    def columns_of(self, select: str) -> tuple[str, ...]:
        """The output column names of a SELECT (no row is read)."""
        with self._lock:
            cur = self.conn.execute(f"SELECT * FROM ({select}) LIMIT 0")
            return tuple(dict.fromkeys(d[0] for d in cur.description))

    def list_page(self, source: ListSource, q: ListQuery, keep: Sequence[str] = ()) -> tuple[list[Row], int]:
        """One page (or, unpaged, all) of a list, and the total number of matching rows; ``keep``: only
        these columns (a ``fields`` projection: the others are never converted)."""
        rows_sql, count_sql, params = build_sql(source, q)
        if keep:
            with self._lock:
                cur = self.conn.execute(rows_sql, tuple(params))
                # the last column of a name holds its value (fetch_assoc)
                where = {d[0]: i for i, d in enumerate(cur.description)}
                picked = [(name, where[name]) for name in keep if name in where]
                rows = [
                    {name: (v if (v := values[i]) is None or v.__class__ is str else _php_str(v)) for name, i in picked}
                    for values in cur.fetchall()
                ]
        else:
            rows = self._all(rows_sql, params)
        total = int(self._scalar(count_sql, params)) if q.paged else len(rows)
        return rows, total

    # ---------------------------------------------------------------- generic rows (3.x resources)

    def get_row(self, table: str, key: str, key_value: int) -> Row | None:
        return self._one(f"SELECT * FROM {table} WHERE {key} = ?", (key_value,))

    def table_rows(self, table: str, key: str) -> list[Row]:
        return self._all(f"SELECT * FROM {table} ORDER BY {key}")

    def delete_row(self, table: str, key: str, key_value: int) -> bool:
        return self._delete(table, key, key_value)

    def list_staff(self) -> list[Row]:
        return self._all("SELECT * FROM tblstaff ORDER BY staffid")

    def get_staff(self, staff_id: int) -> Row | None:
        return self.get_row("tblstaff", "staffid", staff_id)

    def search_staff(self, key: str) -> list[Row]:
        k = _fold(key)
        out: list[Row] = []
        for row in self.list_staff():
            full = f"{row.get('firstname') or ''} {row.get('lastname') or ''}"
            if any(k in _fold(f) for f in (full, row.get("email"), row.get("phonenumber"))):
                out.append(row)
        return out

    def staff_email_exists(self, email: str) -> bool:
        wanted = email.casefold().strip()
        return any((r["email"] or "").casefold().strip() == wanted for r in self._all("SELECT email FROM tblstaff"))

    def list_notes(self, rel_type: str, rel_id: int) -> list[Row]:
        return self._all("SELECT * FROM tblnotes WHERE rel_type = ? AND rel_id = ? ORDER BY id", (rel_type, rel_id))

    def list_reply_rows(self, ticket_id: int) -> list[Row]:
        """Raw ``tblticket_replies`` rows of one ticket, oldest first."""
        return self._all("SELECT * FROM tblticket_replies WHERE ticketid = ? ORDER BY date, id", (ticket_id,))

    # ---------------------------------------------------------------- idempotency (3.x)

    def idempotent_answer(self, token: str, key: str) -> tuple[str, str, int, bytes, str] | None:
        """(method, path, status, body, content type) stored for this token's key, if any."""
        with self._lock:
            row = self.conn.execute(
                "SELECT method, path, status, body, content_type FROM tblapi_idempotency "
                "WHERE token_hash = ? AND idem_key = ?",
                (_token_hash(token), key),
            ).fetchone()
        if row is None:
            return None
        return str(row[0]), str(row[1]), int(row[2]), bytes(row[3]), str(row[4])

    def store_idempotent_answer(
        self, token: str, key: str, method: str, path: str, status: int, body: bytes, content_type: str
    ) -> None:
        with self._lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO tblapi_idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_token_hash(token), key, method, path, status, body, content_type, now_str()),
            )

    # ---------------------------------------------------------------- seeding

    def _is_empty(self) -> bool:
        total = 0
        for table in ("tblclients", "tblcontacts", "tbltickets"):
            total += int(self._scalar(f"SELECT COUNT(*) FROM {table}"))
        return total == 0

    def _seed_reference_data(self) -> None:
        """Installation data every Perfex has (statuses, priorities), plus demo departments/services."""
        with self._lock:
            if int(self._scalar("SELECT COUNT(*) FROM tbltickets_status")) == 0:
                for sid, (name, colour) in TICKET_STATUSES.items():
                    self.insert(
                        "tbltickets_status",
                        {
                            "ticketstatusid": sid,
                            "name": name,
                            "isdefault": 1,
                            "statuscolor": colour,
                            "statusorder": sid,
                        },
                    )
            if int(self._scalar("SELECT COUNT(*) FROM tbltickets_priorities")) == 0:
                for pid, name in TICKET_PRIORITIES.items():
                    self.insert("tbltickets_priorities", {"priorityid": pid, "name": name})
            if int(self._scalar("SELECT COUNT(*) FROM tbldepartments")) == 0:
                for dept in load_demo().departments:
                    self.insert(
                        "tbldepartments",
                        {
                            "departmentid": dept.id,
                            "name": dept.name,
                            "imap_username": "",
                            "email": dept.email,
                            "host": "",
                            "password": "",
                            "encryption": "",
                            "folder": "INBOX",
                            "calendar_id": None,
                        },
                    )
            if int(self._scalar("SELECT COUNT(*) FROM tblservices")) == 0:
                for sid, name in SERVICES.items():
                    self.insert("tblservices", {"serviceid": sid, "name": name})

    # ---------------------------------------------------------------- tickets

    def ticket_rows_joined(self, ticket_id: int | None = None) -> list[Row]:
        """Rows of Perfex's ``Tickets_model::get()`` (``SELECT *`` over the joins, last one wins)."""
        if ticket_id is None:
            return self._all(_TICKET_SELECT + " ORDER BY t.ticketid")
        return self._all(_TICKET_SELECT + " WHERE t.ticketid = ?", (ticket_id,))

    def ticket_batches(self, size: int = 200) -> Iterator[list[Row]]:
        """:meth:`ticket_rows_joined` of every ticket, ``size`` rows at a time (by id, from the primary
        key), so that a whole-table answer is built and sent in parts."""
        after = 0
        while True:
            batch = self._all(_TICKET_SELECT + " WHERE t.ticketid > ? ORDER BY t.ticketid LIMIT ?", (after, size))
            if not batch:
                return
            yield batch
            after = int(str(batch[-1]["ticketid"]))

    def get_ticket(self, ticket_id: int) -> Row | None:
        """The raw ``tbltickets`` row."""
        return self._one("SELECT * FROM tbltickets WHERE ticketid = ?", (ticket_id,))

    def list_departments(self) -> list[tuple[int, str]]:
        """(id, name) of every department: what an operator of this installation would configure."""
        rows = self._all("SELECT departmentid, name FROM tbldepartments ORDER BY departmentid")
        return [(int(str(r["departmentid"])), str(r["name"])) for r in rows]

    def list_ticket_rows(self) -> list[Row]:
        """All raw ``tbltickets`` rows, by id."""
        return self._all("SELECT * FROM tbltickets ORDER BY ticketid")

    def count_tickets(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM tbltickets"))

    def insert_ticket(self, data: Mapping[str, Any]) -> int:
        return self.insert("tbltickets", data)

    def update_ticket(self, ticket_id: int, data: Mapping[str, Any]) -> bool:
        return self.update_changed("tbltickets", "ticketid", ticket_id, data)

    def delete_ticket(self, ticket_id: int) -> bool:
        with self._lock:
            deleted = self._delete("tbltickets", "ticketid", ticket_id)
            if deleted:
                self.conn.execute("DELETE FROM tbltaggables WHERE rel_type = 'ticket' AND rel_id = ?", (ticket_id,))
            return deleted

    def ticket_tags(self, ticket_id: int) -> list[str]:
        rows = self._all(
            "SELECT tg.name AS name FROM tbltaggables tt JOIN tbltags tg ON tg.id = tt.tag_id "
            "WHERE tt.rel_type = 'ticket' AND tt.rel_id = ? ORDER BY tt.tag_order",
            (ticket_id,),
        )
        return [r["name"] or "" for r in rows]

    def save_ticket_tags(self, ticket_id: int, tags: Any) -> bool:
        """Perfex's ``handle_tags_save()``: replace the ticket's tags; True when they changed."""
        if isinstance(tags, list):
            wanted = [_php_str(t).strip() for t in tags]
        else:
            wanted = [t.strip() for t in ("" if tags is None else _php_str(tags)).split(",")]
        names: list[str] = []
        for name in wanted:
            if name and name not in names:
                names.append(name)
        with self._lock:
            if names == self.ticket_tags(ticket_id):
                return False
            self.conn.execute("DELETE FROM tbltaggables WHERE rel_type = 'ticket' AND rel_id = ?", (ticket_id,))
            for order, name in enumerate(names, start=1):
                tag_id = self._scalar("SELECT id FROM tbltags WHERE name = ?", (name,))
                if tag_id is None:
                    tag_id = self.insert("tbltags", {"name": name})
                self.insert(
                    "tbltaggables",
                    {"rel_id": ticket_id, "rel_type": "ticket", "tag_id": tag_id, "tag_order": order},
                )
            return True

    def search_ticket_rows(self, key: str) -> list[Row]:
        k = _fold(key)
        out: list[Row] = []
        for row in self.ticket_rows_joined():
            full = f"{row.get('user_firstname') or ''} {row.get('user_lastname') or ''}"
            fields = (
                row.get("ticketid"),
                row.get("subject"),
                row.get("email"),
                row.get("ticket_email"),
                row.get("from_name"),
                row.get("company"),
                full,
            )
            if any(k in _fold(f) for f in fields):
                out.append(row)
        return out

    # ---------------------------------------------------------------- clients

    def client_out(self, row: Row) -> Row:
        # get_sql_select_client_company(): a blank company shows the primary contact's name.
        if (row.get("company") or "").strip() == "":
            primary = self._one(
                "SELECT firstname, lastname FROM tblcontacts WHERE userid = ? AND is_primary = 1",
                (row["userid"],),
            )
            row["company"] = None if primary is None else f"{primary['firstname'] or ''} {primary['lastname'] or ''}"
        return row

    def list_clients(self) -> list[Row]:
        rows = self._all("SELECT * FROM tblclients ORDER BY company COLLATE NOCASE, userid")
        return [self.client_out(r) for r in rows]

    def get_client(self, userid: int) -> Row | None:
        row = self._one("SELECT * FROM tblclients WHERE userid = ?", (userid,))
        return None if row is None else self.client_out(row)

    def list_client_rows(self) -> list[Row]:
        """Raw ``tblclients`` rows, by id."""
        return self._all("SELECT * FROM tblclients ORDER BY userid")

    def count_customers(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM tblclients"))

    def search_clients(self, key: str) -> list[Row]:
        k = _fold(key)
        out: list[Row] = []
        for row in self.list_clients():
            fields: list[str | None] = [
                row.get(f)
                for f in (
                    "company",
                    "vat",
                    "phonenumber",
                    "city",
                    "zip",
                    "state",
                    "address",
                    "website",
                    "billing_street",
                    "billing_city",
                    "shipping_street",
                    "shipping_city",
                )
            ]
            for contact in self._all("SELECT * FROM tblcontacts WHERE userid = ?", (row["userid"],)):
                fields += [
                    contact.get("email"),
                    f"{contact.get('firstname')} {contact.get('lastname')}",
                    contact.get("phonenumber"),
                ]
            if any(k in _fold(f) for f in fields):
                out.append(row)
        return out

    def insert_client(self, data: Mapping[str, Any]) -> int:
        return self.insert("tblclients", data)

    def update_client(self, userid: int, data: Mapping[str, Any]) -> bool:
        return self.update_changed("tblclients", "userid", userid, data)

    def set_client_groups(self, userid: int, groups: list[Any]) -> bool:
        wanted = sorted({_mysql_int(g) for g in groups if _mysql_int(g) > 0})
        with self._lock:
            current = sorted(
                int(r[0])
                for r in self.conn.execute(
                    "SELECT groupid FROM tblcustomer_groups WHERE customer_id = ?", (userid,)
                ).fetchall()
            )
            if current == wanted:
                return False
            self.conn.execute("DELETE FROM tblcustomer_groups WHERE customer_id = ?", (userid,))
            for g in wanted:
                self.insert("tblcustomer_groups", {"groupid": g, "customer_id": userid})
            return True

    def delete_client(self, userid: int) -> bool:
        """Perfex's ``Clients_model::delete()``: the client, its contacts and its tickets."""
        with self._lock:
            if not self._delete("tblclients", "userid", userid):
                return False
            self.conn.execute("DELETE FROM tblcontacts WHERE userid = ?", (userid,))
            for (tid,) in self.conn.execute("SELECT ticketid FROM tbltickets WHERE userid = ?", (userid,)).fetchall():
                self.delete_ticket(int(tid))
            self.conn.execute("DELETE FROM tblcustomer_groups WHERE customer_id = ?", (userid,))
            return True

    # ---------------------------------------------------------------- contacts

    def list_contacts(self, userid: int, *, active_only: bool = True) -> list[Row]:
        sql = "SELECT * FROM tblcontacts WHERE userid = ?"
        if active_only:
            sql += " AND active = 1"
        return self._all(sql + " ORDER BY is_primary DESC, id", (userid,))

    def get_contact(self, contact_id: int) -> Row | None:
        return self._one("SELECT * FROM tblcontacts WHERE id = ?", (contact_id,))

    def list_contact_rows(self) -> list[Row]:
        """Raw ``tblcontacts`` rows, by id."""
        return self._all("SELECT * FROM tblcontacts ORDER BY id")

    def count_contacts(self, userid: int | None = None) -> int:
        if userid is None:
            return int(self._scalar("SELECT COUNT(*) FROM tblcontacts"))
        return int(self._scalar("SELECT COUNT(*) FROM tblcontacts WHERE userid = ?", (userid,)))

    def search_contacts(self, key: str) -> list[Row]:
        k = _fold(key)
        out: list[Row] = []
        for row in self.list_contact_rows():
            full = f"{row.get('firstname') or ''} {row.get('lastname') or ''}"
            fields = (
                row.get("firstname"),
                row.get("lastname"),
                full,
                row.get("email"),
                row.get("phonenumber"),
                row.get("title"),
            )
            if any(k in _fold(f) for f in fields):
                out.append(row)
        return out

    def contact_email_exists(self, email: str, *, exclude_id: int | None = None) -> bool:
        rows = self._all("SELECT id, email FROM tblcontacts")
        return any(
            (r["email"] or "").casefold().strip() == email.casefold().strip() and r["id"] != _out(exclude_id)
            for r in rows
        )

    def insert_contact(self, data: Mapping[str, Any]) -> int:
        with self._lock:
            if php_truthy(data.get("is_primary")):
                self.conn.execute(
                    "UPDATE tblcontacts SET is_primary = 0 WHERE userid = ?",
                    (_mysql_int(data.get("userid")),),
                )
            return self.insert("tblcontacts", data)

    def update_contact(self, contact_id: int, data: Mapping[str, Any]) -> bool:
        with self._lock:
            changed = self.update_changed("tblcontacts", "id", contact_id, data)
            if changed and _mysql_int(data.get("is_primary")) == 1:
                contact = self.get_contact(contact_id)
                if contact is not None:
                    self.conn.execute(
                        "UPDATE tblcontacts SET is_primary = 0 WHERE userid = ? AND id != ?",
                        (int(contact["userid"] or 0), contact_id),
                    )
            return changed

    def delete_contact(self, contact_id: int) -> bool:
        return self._delete("tblcontacts", "id", contact_id)


def count_tickets(db_path: str | Path) -> int:
    """Number of tickets in the simulator database at ``db_path``."""
    with SimDB(db_path) as db:
        return db.count_tickets()


def list_ticket_rows(db_path: str | Path) -> list[Row]:
    """Raw ``tbltickets`` rows of the simulator database at ``db_path``."""
    with SimDB(db_path) as db:
        return db.list_ticket_rows()


# --------------------------------------------------------------------------- demo data

DEMO_STAFF_PASSWORD = "staff-demo-password"

#: ISO-3166 alpha-2 -> Perfex ``tblcountries.country_id`` for the demo's countries (installation data).
COUNTRY_IDS: dict[str, int] = {"GB": 235, "US": 236, "VN": 243, "DE": 83, "FR": 76, "CH": 216, "IT": 110}
#: ISO-4217 -> ``tblcurrencies.id`` of the demo installation.
CURRENCY_IDS: dict[str, int] = {"USD": 1, "GBP": 2, "EUR": 3}
STATUS_IDS: dict[str, int] = {"open": 1, "in_progress": 2, "answered": 3, "on_hold": 4, "closed": 5}
PRIORITY_IDS: dict[str, int] = {"low": 1, "medium": 2, "high": 3}

_CLIENT_DEFAULTS: dict[str, Any] = {
    "active": 1,
    "leadid": None,
    "longitude": None,
    "latitude": None,
    "stripe_id": None,
    "registration_confirmed": 1,
    "show_primary_contact": 0,
    "addedfrom": 1,
    "shipping_street": "",
    "shipping_city": "",
    "shipping_state": "",
    "shipping_zip": "",
    "shipping_country": 0,
}


def seed_demo_data(db: SimDB) -> None:
    """The installation of :mod:`gateway.demo`'s ``data.yaml`` in Perfex's tables."""
    demo = load_demo()
    with db.transaction():
        for staff in demo.staff:
            db.insert("tblstaff", _staff_row(staff))
        for customer in demo.customers:
            db.insert("tblclients", _client_row(customer))
        for contact in demo.contacts:
            db.insert("tblcontacts", _contact_row(contact))
        for ticket in demo.tickets:
            db.insert("tbltickets", _ticket_row(ticket))
            if ticket.tags:
                db.save_ticket_tags(ticket.id, ",".join(ticket.tags))
            for reply in ticket.replies:
                db.insert("tblticket_replies", _reply_row(ticket.id, reply))
            for note in ticket.notes:
                db.insert("tblnotes", _note_row(ticket.id, note))


def _staff_row(staff: DemoStaff) -> dict[str, Any]:
    return {
        "staffid": staff.id,
        "email": staff.email,
        "firstname": staff.firstname,
        "lastname": staff.lastname,
        "phonenumber": staff.phone,
        "password": app_hash_password(DEMO_STAFF_PASSWORD),
        "datecreated": staff.created_at,
        "admin": int(staff.admin),
        "role": 1 if staff.admin else 2,
        "active": 1,
        "default_language": "english",
        "media_path_slug": f"{staff.firstname}-{staff.lastname}".lower(),
        "last_login": "2024-03-01 07:55:00",
        "last_ip": "10.0.0.5",
    }


def _client_row(c: DemoCustomer) -> dict[str, Any]:
    address = c.address1 if not c.address2 else f"{c.address1}\r\n{c.address2}"
    country = COUNTRY_IDS.get(c.country, 0)
    billing = c.billing_same_as_address
    return {
        **_CLIENT_DEFAULTS,
        "userid": c.id,
        "company": c.company,
        "vat": c.vat,
        "phonenumber": c.phone,
        "country": country,
        "city": c.city,
        "zip": c.postcode,
        "state": c.state,
        "address": address,
        "website": c.website,
        "datecreated": c.created_at,
        "default_language": c.language,
        "default_currency": CURRENCY_IDS.get(c.currency, 0),
        "billing_street": address if billing else "",
        "billing_city": c.city if billing else "",
        "billing_state": c.state if billing else "",
        "billing_zip": c.postcode if billing else "",
        "billing_country": country if billing else 0,
    }


def _contact_row(c: DemoContact) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": c.id,
        "userid": c.customer_id,
        "is_primary": int(c.is_primary),
        "firstname": c.firstname,
        "lastname": c.lastname,
        "email": c.email,
        "phonenumber": c.phone,
        "title": c.title,
        "datecreated": c.created_at,
        "password": app_hash_password(f"demo-{c.id}"),
        "email_verified_at": c.created_at,
        "last_ip": "203.0.113.7",
        "active": int(c.active),
    }
    for flag in ("invoice", "estimate", "credit_note", "contract", "task", "project", "ticket"):
        row[f"{flag}_emails"] = 1
    return row


def _ticket_row(t: DemoTicket) -> dict[str, Any]:
    guest = t.contact_id == 0
    return {
        "ticketid": t.id,
        "adminreplying": 0,
        "userid": t.customer_id,
        "contactid": t.contact_id,
        "merged_ticket_id": None,
        # Perfex keeps name/email only for tickets without a contact.
        "email": t.email if guest else None,
        "name": t.name if guest else None,
        "department": t.department_id,
        "priority": PRIORITY_IDS[t.priority],
        "status": STATUS_IDS[t.status],
        "service": t.service_id,
        "ticketkey": t.key,
        "subject": t.subject,
        "message": t.message,
        "admin": t.staff_id or None,
        "date": t.created_at,
        "project_id": 0,
        "lastreply": t.last_reply_at,
        "clientread": int(t.client_read),
        "adminread": int(t.admin_read),
        "assigned": t.assigned_staff_id,
        "staff_id_replying": None,
        "cc": t.cc,
    }


def _reply_row(ticket_id: int, r: DemoReply) -> dict[str, Any]:
    a = r.author
    return {
        "id": r.id,
        "ticketid": ticket_id,
        "userid": a.customer_id,
        "contactid": a.contact_id,
        # Perfex stores name/email only for guest replies; a staff reply carries the staff id in ``admin``.
        "name": a.name if a.kind == "guest" else None,
        "email": a.email if a.kind == "guest" else None,
        "date": r.created_at,
        "message": r.message,
        "attachment": None,
        "admin": a.staff_id if a.kind == "staff" else None,
    }


def _note_row(ticket_id: int, n: DemoNote) -> dict[str, Any]:
    return {
        "id": n.id,
        "rel_id": ticket_id,
        "rel_type": "ticket",
        "description": n.message,
        "date_contacted": None,
        "addedfrom": n.staff_id,
        "dateadded": n.created_at,
    }
